"""The whole path: an approved script becomes a narrated MP4 through the real API, the bus
and a renderer process, followed live over a real WebSocket and inspected with PyAV."""

import itertools
import re
from pathlib import Path

import av
import httpx
import msgspec
import pytest

from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations, cue_times, cues, picture_change_times, scene_starts


@pytest.fixture(scope="module")
def rendered(stack, reference_script, tmp_path_factory) -> dict:
    """Renders the reference script once; the tests below look at different sides of it."""
    video_id = new_video_id("reference")
    with stack.client(timeout=30) as http:
        script_id = approved_script(http, video_id, reference_script)
        created = start_render(http, video_id, script_id)
        events = follow(stack, video_id, f"?job_id={created['job_id']}&last_seq=0")
        job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{created['job_id']}").json()
        published = http.get(f"/api/v2/videos/{video_id}/assets/published").json()
        folder = tmp_path_factory.mktemp("downloads")
        files = {}
        for key in ("video_url", "subtitle_url", "vtt_url", "thumbnail_url", "chapters_url", "words_url"):
            response = http.get(job["assets"][key])
            assert response.status_code == 200, (key, response.status_code)
            files[key] = folder / Path(job["assets"][key]).name
            files[key].write_bytes(response.content)
    return {"video_id": video_id, "events": events, "job": job, "published": published, "files": files}


def test_job_succeeds_and_is_published(rendered):
    job, published = rendered["job"], rendered["published"]
    assert job["status"] == "SUCCEEDED", job
    assert job["progress"] == 100 and job["attempt"] == 1 and job["finished_at"]
    assert published["published"] is True and published["job_id"] == job["job_id"]
    assert published["video_url"] == job["assets"]["video_url"]
    assert published["video_url"].startswith("http://127.0.0.1:")


def test_progress_stream_is_ordered_monotonic_and_ends_with_assets(rendered):
    events = rendered["events"]
    assert events[0]["type"] == "connected" and events[0]["job_id"] == rendered["job"]["job_id"]
    assert events[1]["type"] == "snapshot"
    progress = [event for event in events if event["type"] == "progress"]
    assert [event["seq"] for event in progress] == list(range(1, len(progress) + 1)), "gap or duplicate in seq"
    running = [event["progress"] for event in progress if event["status"] == "RUNNING"]
    assert running == sorted(running), "progress went backwards"
    steps = [event["step"] for event in progress if event["step"]]
    assert steps[-1] == "PUBLISH_ASSETS" and "GENERATE_TTS" in steps and "COMPOSE_VIDEO" in steps
    assert progress[-1]["status"] == "SUCCEEDED" and progress[-1]["assets"]["video_url"]


def test_video_has_h264_and_aac_of_equal_length(rendered):
    path = rendered["files"]["video_url"]
    with av.open(str(path)) as container:
        assert [s.codec_context.name for s in container.streams.video] == ["h264"]
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert (container.streams.video[0].width, container.streams.video[0].height) == (1920, 1080)
    audio, video = audio_video_durations(path)
    assert abs(audio - video) <= 0.050, (audio, video)
    assert abs(rendered["job"]["assets"]["duration_sec"] - audio) <= 0.050


def test_picture_changes_at_every_scene_boundary(rendered, reference_script):
    # A scene starts where the subtitle cue carrying the start of its narration starts.
    srt = rendered["files"]["subtitle_url"].read_text(encoding="utf-8")
    boundaries = scene_starts(cues(srt), [scene["narration"] for scene in reference_script["scenes"]])[1:]
    changes = picture_change_times(rendered["files"]["video_url"])
    assert len(boundaries) == len(reference_script["scenes"]) - 1
    assert len(changes) == len(boundaries), (changes, boundaries)
    for boundary in boundaries:
        assert any(abs(change - boundary) <= 0.050 for change in changes), (boundary, changes)


def test_subtitles_cover_every_scene_and_end_before_the_video(rendered, reference_script):
    _, video = audio_video_durations(rendered["files"]["video_url"])
    for key, text in (("subtitle_url", "srt"), ("vtt_url", "vtt")):
        cues = cue_times(rendered["files"][key].read_text(encoding="utf-8"))
        assert len(cues) >= len(reference_script["scenes"]), (text, len(cues))
        starts = [start for start, _ in cues]
        assert starts == sorted(starts) and len(set(starts)) == len(starts), text
        assert all(start < end for start, end in cues), text
        assert cues[-1][1] <= video + 0.001, (text, cues[-1], video)
    assert rendered["files"]["vtt_url"].read_text(encoding="utf-8").startswith("WEBVTT")


def test_published_assets_name_the_chapters_and_words(rendered):
    assets, published = rendered["job"]["assets"], rendered["published"]
    for key in ("chapters_url", "words_url"):
        assert published[key] == assets[key] and assets[key].startswith("http://127.0.0.1:")


def test_words_are_engine_timed_in_order_and_match_the_vtt(rendered, reference_script):
    words = msgspec.json.decode(rendered["files"]["words_url"].read_bytes())
    _, video = audio_video_durations(rendered["files"]["video_url"])
    narrations = [scene["narration"] for scene in reference_script["scenes"]]
    # Every word of every narration, in order, each with its scene.
    assert [word["text"] for word in words] == [word for narration in narrations for word in narration.split()]
    assert [word["scene"] for word in words] == [n for n, narration in enumerate(narrations) for _ in narration.split()]
    # espeak-ng times most words; a few it runs into the word before (no event of their own:
    # "목적" in "원칙은 목적 외") are placed between their timed neighbours.
    timings = [word["timing"] for word in words]
    assert set(timings) <= {"engine", "estimated"} and timings.count("engine") >= 0.8 * len(words)
    assert all(a["start"] < a["end"] <= b["start"] for a, b in itertools.pairwise(words)) and words[-1]["end"] <= video
    # The WebVTT cues time the same words: each inline timestamp is a word's start.
    vtt = rendered["files"]["vtt_url"].read_text(encoding="utf-8")
    stamps = [seconds(stamp) for stamp in re.findall(r"<(\d\d:\d\d:\d\d\.\d{3})>", vtt)]
    starts = {round(word["start"], 3) for word in words}
    assert len(stamps) > len(narrations) and all(round(stamp, 3) in starts for stamp in stamps)


def test_chapters_are_the_scenes_back_to_back(rendered, reference_script):
    chapters = cue_times(rendered["files"]["chapters_url"].read_text(encoding="utf-8"))
    srt = rendered["files"]["subtitle_url"].read_text(encoding="utf-8")
    starts = scene_starts(cues(srt), [scene["narration"] for scene in reference_script["scenes"]])
    _, video = audio_video_durations(rendered["files"]["video_url"])
    assert len(chapters) == len(reference_script["scenes"])
    assert [start for start, _ in chapters] == pytest.approx(starts, abs=0.002)
    assert all(end == following for (_, end), (following, _) in itertools.pairwise(chapters))
    assert chapters[0][0] == 0 and chapters[-1][1] == pytest.approx(video, abs=0.050)


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def test_thumbnail_is_a_1280x720_jpeg(rendered):
    from PIL import Image

    with Image.open(rendered["files"]["thumbnail_url"]) as image:
        assert image.format == "JPEG" and image.size == (1280, 720)


def test_range_request_returns_exactly_those_bytes(stack, rendered):
    url = rendered["job"]["assets"]["video_url"]
    whole = rendered["files"]["video_url"].read_bytes()
    response = httpx.get(url, headers={"Range": "bytes=100-1099"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("video/mp4")
    assert response.headers["content-range"] == f"bytes 100-1099/{len(whole)}"
    assert response.content == whole[100:1100]


def test_words_and_chapters_are_served_with_range(rendered):
    for key, media_type in (("words_url", "application/json"), ("chapters_url", "text/vtt")):
        whole = rendered["files"][key].read_bytes()
        response = httpx.get(rendered["job"]["assets"][key], headers={"Range": "bytes=0-9"})
        assert response.status_code == 206 and response.content == whole[:10], key
        assert response.headers["content-type"].startswith(media_type)


def test_the_mp4_carries_the_chapters_too(rendered):
    vtt = cues(rendered["files"]["chapters_url"].read_text(encoding="utf-8"))
    with av.open(str(rendered["files"]["video_url"])) as container:
        chapters = container.chapters()
    assert [chapter["metadata"]["title"] for chapter in chapters] == [text for _, _, text in vtt]
    bounds = [float(bound * chapter["time_base"]) for chapter in chapters for bound in (chapter["start"], chapter["end"])]
    assert bounds == pytest.approx([bound for start, end, _ in vtt for bound in (start, end)], abs=0.001)
