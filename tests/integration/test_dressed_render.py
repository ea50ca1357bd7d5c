"""The reference script dressed as a team would publish it, through the real API, bus and
renderer: each format, a theme with an uploaded font and logo, a fade or slide between scenes,
burned-in captions, and an uploaded music bed under the narration. The decoded MP4 has the
format's size, the theme's colours and logo where they belong, frames only at scene starts,
caption changes and inside the transitions, its sound with its picture, and the mix at broadcast
loudness (SPEC §8.3)."""

import io
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from libs.contracts.script import FORMAT_SIZES
from services.api.media.font_reader import KS_X_1001_HANGUL
from tests.audio import decoded_audio, loudness_lufs, true_peak_dbtp, write_tone_file
from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations, cue_times, cues
from tests.media_uploads import ASCII, built_font

FORMATS = {
    "16:9": ("fade", "top-right"),
    "9:16": ("slide", "bottom-left"),
    "1:1": ("fade", "top-left"),
    "4:5": ("slide", "bottom-right"),
}
"""Each format with the transition and logo corner it is rendered with: both kinds of transition
run in both orientations, and the logo visits every corner."""
BACKGROUND, ACCENT, LOGO = (11, 61, 46), (255, 102, 0), (230, 0, 230)
"""The theme's colours, and the logo's: far apart, so a decoded pixel says which it is."""
TRANSITION_SEC = 0.3
"""Shorter than the reference script's pauses (the 0.4 s default), so each plays whole."""


@pytest.fixture(scope="module")
def music_file(tmp_path_factory) -> bytes:
    """A 20 s bed: the reference script's 140 s loop it seven times."""
    path = tmp_path_factory.mktemp("music") / "bed.flac"
    write_tone_file(path, 20.0, frequency=220)
    return path.read_bytes()


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in rgb)


def uploaded(http: httpx.Client, video_id: str, name: str, data: bytes) -> str:
    response = http.post(f"/api/v2/videos/{video_id}/media", files={"file": (name, data, "application/octet-stream")})
    assert response.status_code == 201, response.text
    return response.json()["media_id"]


def logo_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 80), LOGO).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module", params=list(FORMATS))
def dressed(request, stack, reference_script, music_file, tmp_path_factory) -> dict:
    format_name = request.param
    transition, logo_position = FORMATS[format_name]
    video_id = new_video_id("dressed")
    folder = tmp_path_factory.mktemp("dressed")
    with stack.client(timeout=30) as http:
        # The brand's font draws every letter and syllable as a box, so its use shows in a frame.
        theme = {
            "background": hex_colour(BACKGROUND),
            "text": "#ffffff",
            "accent": hex_colour(ACCENT),
            "font": uploaded(http, video_id, "brand.ttf", built_font("Brand", [*ASCII, *KS_X_1001_HANGUL])),
            "logo": uploaded(http, video_id, "logo.png", logo_png()),
            "logo_position": logo_position,
        }
        theme_id = f"dressed-{video_id}"
        assert http.put(f"/api/v2/themes/{theme_id}", json=theme).status_code == 201
        script = {
            **reference_script,
            "format": format_name,
            "theme": theme_id,
            "transition": {"type": transition, "duration_sec": TRANSITION_SEC},
            "music": {"media": uploaded(http, video_id, "bed.flac", music_file), "volume_db": -20, "duck_db": -12, "fade_sec": 2},
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
    return {"format": format_name, "logo_position": logo_position, "script": script, "read_back": read_back, **files}


def test_the_script_reads_back_with_every_field_it_was_saved_with(dressed):
    for field in ("format", "theme", "transition", "music", "captions"):
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


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)


def where(frame: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> np.ndarray:
    """(y, x) of the pixels within `tolerance` of `colour` in every channel."""
    return np.argwhere(np.all(np.abs(frame - np.array(colour)) <= tolerance, axis=2))


def test_the_theme_is_drawn_background_accent_and_logo_in_its_corner(dressed):
    frame = first_frame(dressed["video_url"])
    height, width, _ = frame.shape
    # The left edge, inside the margin: no text, no caption, no logo there.
    assert np.all(np.abs(frame[height // 2, width // 100] - np.array(BACKGROUND)) <= 12)
    assert len(where(frame, ACCENT)) > 50, "the bullets' marks are in the accent colour"
    logo = where(frame, LOGO)
    assert len(logo) > 100
    vertical, horizontal = dressed["logo_position"].split("-")
    y, x = logo.mean(axis=0)
    assert (y < height / 4) if vertical == "top" else (y > height * 3 / 4)
    assert (x < width / 4) if horizontal == "left" else (x > width * 3 / 4)
    assert logo.min(axis=0)[0] > 0 and logo.max(axis=0)[1] < width - 1, "inside the margins, not at the frame's edge"
