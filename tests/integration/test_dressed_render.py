"""The reference script dressed as a team would publish it, through the real API, bus and
renderer: each format, a fade or slide between scenes, burned-in captions, and an uploaded
music bed under the narration. The decoded MP4 has the format's size, frames only at scene starts and inside the
transitions, its sound with its picture, and the mix at broadcast loudness (SPEC §8.3)."""

from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from libs.contracts.script import FORMAT_SIZES
from tests.audio import decoded_audio, loudness_lufs, true_peak_dbtp, write_tone_file
from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations, cue_times, cues

FORMATS = {"16:9": "fade", "9:16": "slide", "1:1": "fade", "4:5": "slide"}
"""Each format with the transition it is rendered with: both kinds run in both orientations."""
TRANSITION_SEC = 0.3
"""Shorter than the reference script's pauses (the 0.4 s default), so each plays whole."""


@pytest.fixture(scope="module")
def music_file(tmp_path_factory) -> bytes:
    """A 20 s bed: the reference script's 140 s loop it seven times."""
    path = tmp_path_factory.mktemp("music") / "bed.flac"
    write_tone_file(path, 20.0, frequency=220)
    return path.read_bytes()


@pytest.fixture(scope="module", params=list(FORMATS))
def dressed(request, stack, reference_script, music_file, tmp_path_factory) -> dict:
    format_name = request.param
    video_id = new_video_id("dressed")
    folder = tmp_path_factory.mktemp("dressed")
    with stack.client(timeout=30) as http:
        uploaded = http.post(f"/api/v2/videos/{video_id}/media", files={"file": ("bed.flac", music_file, "audio/flac")})
        assert uploaded.status_code == 201, uploaded.text
        script = {
            **reference_script,
            "format": format_name,
            "transition": {"type": FORMATS[format_name], "duration_sec": TRANSITION_SEC},
            "music": {"media": uploaded.json()["media_id"], "volume_db": -20, "duck_db": -12, "fade_sec": 2},
            "captions": {"words": True, "burn_in": True, "highlight": False},
        }
        script_id = approved_script(http, video_id, script)
        read_back = http.get(f"/api/v2/videos/{video_id}/scripts/{script_id}").json()
        created = start_render(http, video_id, script_id)
        follow(stack, video_id, f"?job_id={created['job_id']}&last_seq=0")
        job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{created['job_id']}").json()
        assert job["status"] == "SUCCEEDED", job
        files = {}
        for key in ("video_url", "chapters_url", "thumbnail_url", "vtt_url"):
            files[key] = folder / Path(job["assets"][key]).name
            files[key].write_bytes(httpx.get(job["assets"][key], timeout=30).content)
    return {"format": format_name, "script": script, "read_back": read_back, **files}


def test_the_script_reads_back_with_every_field_it_was_saved_with(dressed):
    for field in ("format", "transition", "music", "captions"):
        assert dressed["read_back"][field] == dressed["script"][field], field


def test_the_video_has_its_formats_size(dressed):
    with av.open(str(dressed["video_url"])) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == FORMAT_SIZES[dressed["format"]]


def test_sound_and_picture_end_together(dressed):
    audio, video = audio_video_durations(dressed["video_url"])
    assert abs(audio - video) <= 0.05


def test_the_mix_with_its_music_is_at_broadcast_loudness(dressed):
    samples, rate = decoded_audio(dressed["video_url"])
    assert loudness_lufs(samples, rate) == pytest.approx(-16, abs=1)
    assert true_peak_dbtp(samples, rate) <= -1


def test_frames_are_drawn_only_at_scene_starts_caption_changes_and_inside_transitions(dressed):
    starts = [start for start, _, _ in cues(dressed["chapters_url"].read_text(encoding="utf-8"))]
    caption_changes = {time for cue in cue_times(dressed["vtt_url"].read_text(encoding="utf-8")) for time in cue}
    with av.open(str(dressed["video_url"])) as container:
        times = [float(frame.time) for frame in container.decode(video=0)]

    def at_a_change(time: float) -> bool:
        return any(abs(time - change) <= 0.002 for change in [*starts, *caption_changes])

    def in_transition(time: float) -> bool:
        return any(start - TRANSITION_SEC - 0.002 <= time < start for start in starts[1:])

    assert [time for time in times if not (at_a_change(time) or in_transition(time))] == []
    for start in starts[1:]:  # every scene is reached through its transition
        assert any(start - TRANSITION_SEC - 0.002 <= time < start for time in times), start


def test_the_thumbnail_has_the_formats_shape(dressed):
    width, height = FORMAT_SIZES[dressed["format"]]
    with Image.open(dressed["thumbnail_url"]) as thumbnail:
        assert thumbnail.width / thumbnail.height == pytest.approx(width / height, rel=0.01)
