"""Burned-in captions with the spoken word marked, through the real API, bus and renderer: the
decoded MP4 shows each caption where it belongs, its text as drawn alone, and the marked word
moving as words.json says; the picture still ends with the sound."""

import re
from pathlib import Path

import av
import httpx
import msgspec
import numpy as np
import pytest
from PIL import Image

from services.renderer.burn_in import Caption, CaptionPainter
from services.renderer.fonts import FontBook
from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations

SAMPLES = 8
CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")


@pytest.fixture(scope="module")
def rendered(stack, reference_script, tmp_path_factory) -> dict:
    script = {**reference_script, "captions": {"burn_in": True, "highlight": True}}
    video_id = new_video_id("burned")
    folder = tmp_path_factory.mktemp("burned")
    with stack.client(timeout=30) as http:
        script_id = approved_script(http, video_id, script)
        created = start_render(http, video_id, script_id)
        follow(stack, video_id, f"?job_id={created['job_id']}&last_seq=0")
        job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{created['job_id']}").json()
        assert job["status"] == "SUCCEEDED", job
        files = {}
        for key in ("video_url", "vtt_url", "words_url"):
            files[key] = folder / Path(job["assets"][key]).name
            files[key].write_bytes(httpx.get(job["assets"][key], timeout=30).content)
    return files


def vtt_cues(text: str) -> list[tuple[float, float, list[str]]]:
    """(start, end, lines without their inline timestamps) of each cue."""
    found = []
    for block in text.split("\n\n"):
        lines = block.strip().split("\n")
        match = CUE.match(lines[0])
        if match:
            numbers = [int(group) for group in match.groups()]
            start = numbers[0] * 3600 + numbers[1] * 60 + numbers[2] + numbers[3] / 1000
            end = numbers[4] * 3600 + numbers[5] * 60 + numbers[6] + numbers[7] / 1000
            found.append((start, end, [re.sub(r"<[\d:.]+>", "", line) for line in lines[1:]]))
    return found


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The decoded picture on screen at `seconds` (the last frame starting at or before it)."""
    with av.open(str(path)) as container:
        shown = None
        for frame in container.decode(video=0):
            if frame.time > seconds:
                break
            shown = frame
        assert shown is not None
        return np.asarray(shown.to_image().convert("RGB")).astype(int)


def sampled_words(words: list[dict], cues: list[tuple[float, float, list[str]]]) -> list[tuple[dict, list[str], int, int, int]]:
    """Words spread over the video, each long enough to sample in its middle, with its cue's lines
    and where it is written in them (line, first character, end), found by its text."""
    chosen = []
    for word in words[:: max(1, len(words) // SAMPLES)]:
        middle = (word["start"] + word["end"]) / 2
        cue = next((lines for start, end, lines in cues if start <= middle < end), None)
        if cue is None or word["end"] - word["start"] < 0.12:
            continue
        places = [(number, line.find(word["text"])) for number, line in enumerate(cue) if word["text"] in line]
        if len(places) == 1 and sum(line.count(word["text"]) for line in cue) == 1:
            number, start = places[0]
            chosen.append((word, cue, number, start, start + len(word["text"])))
    return chosen


def test_each_sampled_caption_is_drawn_in_place_with_the_spoken_word_marked(rendered):
    words = msgspec.json.decode(rendered["words_url"].read_bytes())
    cues = vtt_cues(rendered["vtt_url"].read_text(encoding="utf-8"))
    samples = sampled_words(words, cues)
    assert len(samples) >= 5, samples
    painter = CaptionPainter((1920, 1080), FontBook())
    for word, lines, line, start, end in samples:
        middle = (word["start"] + word["end"]) / 2
        frame = frame_at(rendered["video_url"], middle)
        box = painter.paint(Caption(0, 1, tuple(lines), (line, start, end)))
        left, top = box.position
        width, height = box.cue.size
        region = frame[top : top + height, left : left + width]
        above = frame[top - 40 : top - 10, left : left + width]
        # The box: darker than the slide just above it (the text aside, which the median leaves).
        assert np.median(region) < np.median(above) - 15, (word, np.median(region), np.median(above))
        # Its text, drawn alone on black, lights the same pixels as the decoded frame's box.
        alone = Image.new("RGB", box.cue.size, "black")
        alone.paste(box.picture, (0, 0), box.picture)
        drawn = np.asarray(alone.convert("L")) > 128
        decoded = region.mean(axis=2) > 128
        overlap = (drawn & decoded).sum() / max(1, (drawn | decoded).sum())
        assert overlap > 0.8, (word, overlap)
        # The marked word is where words.json says is being spoken.
        yellow = (region[:, :, 0] > 180) & (region[:, :, 1] > 150) & (region[:, :, 2] < 130)
        columns = np.nonzero(yellow.any(axis=0))[0]
        x0, _, x1, _ = box.cue.spoken_columns((line, start, end))
        assert columns.size > 0, word
        assert x0 - 2 <= columns.min() and columns.max() <= x1 + 2, (word, x0, x1, columns.min(), columns.max())


def test_a_frame_per_word_and_the_sound_still_agrees(rendered):
    words = msgspec.json.decode(rendered["words_url"].read_bytes())
    with av.open(str(rendered["video_url"])) as container:
        frames = sum(1 for _ in container.decode(video=0))
    # Mostly one frame per word: a word never shows a second marked frame of its own.
    assert len(words) <= frames <= 2 * len(words), (len(words), frames)
    audio, video = audio_video_durations(rendered["video_url"])
    assert abs(audio - video) <= 0.050, (audio, video)


def test_marking_words_without_burning_captions_in_is_refused_and_nothing_is_saved(stack):
    video_id = new_video_id("burned-refused")
    script = {"title": "t", "scenes": [{"narration": "안녕하세요."}], "captions": {"highlight": True}}
    with stack.client(timeout=30) as http:
        refused = http.put(f"/api/v2/videos/{video_id}/scripts/script-001", json=script)
        assert refused.status_code == 422, refused.text
        error = refused.json()
        assert error["error_code"] == "VALIDATION_ERROR" and "burn_in" in error["message"] and "captions" in refused.text
        assert http.get(f"/api/v2/videos/{video_id}/scripts/script-001").status_code == 404
