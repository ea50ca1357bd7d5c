"""Independent checks of rendered media: PyAV for the MP4, plain parsing for subtitles."""

import re
from pathlib import Path

import av

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


def picture_change_times(path: Path, threshold: float = 3.0) -> list[float]:
    """Times of decoded frames that differ visibly from the frame before them."""
    changes: list[float] = []
    previous = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            small = frame.to_image().convert("L").resize((96, 54))
            if previous is not None:
                difference = sum(abs(a - b) for a, b in zip(small.getdata(), previous.getdata())) / (96 * 54)
                if difference > threshold:
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
        opening = _compact(narration)[:8]
        while not _compact(all_cues[position][2]).startswith(opening):
            position += 1
        starts.append(all_cues[position][0])
    return starts
