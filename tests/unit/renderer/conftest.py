"""Builders and probes shared by the renderer tests."""

import array
import math
from pathlib import Path

import av
import pytest

from libs.contracts.bus import OutputSpec, Render
from libs.contracts.script import Scene, Script, Slide
from services.renderer.fonts import FontBook
from tests.media_uploads import built_font


def make_script(*narrations: str, language: str = "ko", voice: str | None = None) -> Script:
    scenes = [
        Scene(narration=text, slide=Slide(title=f"장면 {number}", bullets=["첫째 항목", "둘째 항목"]))
        for number, text in enumerate(narrations, start=1)
    ]
    return Script(title="시험", language=language, voice=voice, scenes=scenes)


def make_job(script: Script, *, width: int = 640, height: int = 360, fps: int | None = None) -> Render:
    output = OutputSpec(width=width, height=height, fps=fps, storage_key="video-1/job-1")
    return Render(job_id="job-1", video_id="video-1", attempt=1, script=script, output=output)


def write_tone(path: Path, seconds: float, sample_rate: int = 22050) -> Path:
    samples = round(seconds * sample_rate)
    tone = array.array("h", (round(6000 * math.sin(2 * math.pi * 440 * i / sample_rate)) for i in range(samples)))
    path.write_bytes(tone.tobytes())
    return path


def stream_seconds(stream: av.stream.Stream) -> float:
    return float(stream.duration * stream.time_base)


def video_packets(path: Path) -> list[av.Packet]:
    """The video packets of an MP4 in order, without the demuxer's empty end-of-stream packet."""
    with av.open(str(path)) as container:
        return [packet for packet in container.demux(video=0) if packet.size]


@pytest.fixture(scope="session")
def fonts() -> FontBook:
    return FontBook()


def write_box_font(path: Path) -> Path:
    """A TrueType font that has only "A" and the space, each a solid square (tests/media_uploads.py)."""
    path.write_bytes(built_font("Box", map(ord, "A ")))
    return path
