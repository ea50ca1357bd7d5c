"""Independent checks of rendered media: PyAV for the MP4, plain parsing for subtitles."""

import re
from pathlib import Path

import av
from PIL import Image, ImageChops

TIMESTAMP = r"(\d+):(\d\d):(\d\d)[,.](\d\d\d)"
CUE_TIMING = re.compile(rf"{TIMESTAMP} --> {TIMESTAMP}")


def stream_end(path: Path, kind: str) -> float:
    """Where the last packet of the first `kind` stream ends, in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.get(**{kind: 0})[0]
        end = 0
        for packet in container.demux(stream):
            if packet.pts is not None:
                end = max(end, packet.pts + (packet.duration or 0))
        return float(end * stream.time_base)


def audio_video_durations(path: Path) -> tuple[float, float]:
    return stream_end(path, "audio"), stream_end(path, "video")


def picture_change_times(path: Path, min_changed_pixels: int = 20) -> list[float]:
    """Times of decoded frames that differ visibly from the frame before them.

    Slides of one script share a background and differ only in their text, so a change is
    counted by pixels that changed a lot, not by the average difference (which encoder
    noise on a repeated picture can match)."""
    changes: list[float] = []
    previous = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            small = frame.to_image().convert("L").resize((384, 216))
            if previous is not None:
                changed = sum(ImageChops.difference(small, previous).histogram()[49:])
                if changed >= min_changed_pixels:
                    changes.append(float(frame.time))
            previous = small
    return changes


def _seconds(hours: str, minutes: str, seconds: str, millis: str) -> float:
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def cues(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) of every SRT or WebVTT cue."""
    found = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            match = CUE_TIMING.search(line)
            if match:
                groups = match.groups()
                found.append((_seconds(*groups[:4]), _seconds(*groups[4:]), " ".join(lines[index + 1 :])))
                break
    return found


def cue_times(text: str) -> list[tuple[float, float]]:
    return [(start, end) for start, end, _ in cues(text)]


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def scene_starts(all_cues: list[tuple[float, float, str]], narrations: list[str]) -> list[float]:
    """The start of the first cue of each scene, found by the opening words of its narration."""
    starts = []
    position = 0
    for narration in narrations:
        text = _compact(narration)
        while not text.startswith(_compact(all_cues[position][2])[:8]):
            position += 1
        starts.append(all_cues[position][0])
    return starts


def distinct_pictures(path: Path) -> list[Image.Image]:
    """Each picture the video shows, in order (a still slide is one frame, or repeats of it)."""
    pictures: list[tuple[Image.Image, Image.Image]] = []  # (frame, its small greyscale for comparing)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_image().convert("RGB")
            small = image.convert("L").resize((192, 108))
            if not pictures or sum(ImageChops.difference(small, pictures[-1][1]).histogram()[49:]) >= 20:
                pictures.append((image, small))
    return [image for image, _ in pictures]


def near(pixel: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 48) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected))
