"""The MP4 (H.264 yuv420p + AAC, faststart) from slide pictures, scene start times and PCM audio.

Variable frame rate (fps None): one keyframe per slide at its scene start, held until the next
one, so encoding cost follows the number of slides, not the video's length. Constant frame
rate: fps frames a second, with a keyframe where each slide begins so seeking lands on it.
Either way the last frame's duration is cut to end the video exactly where the audio ends.
"""

import bisect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc, Colorspace
from PIL import Image

from services.renderer.tts.base import SAMPLE_WIDTH

X264_PRESET = "veryfast"
AUDIO_BIT_RATE = 64_000
"""Mono speech; AAC at 64 kb/s is transparent for it."""
AUDIO_CHUNK_SEC = 1.0
"""Audio is encoded a second at a time: the cancel/progress granularity of this step."""


@dataclass(frozen=True, kw_only=True)
class VideoFormat:
    width: int
    height: int
    fps: int | None
    crf: int


@dataclass(frozen=True, kw_only=True)
class PcmAudio:
    """Signed 16-bit mono PCM in a raw file."""

    path: Path
    sample_rate: int

    @property
    def samples(self) -> int:
        return self.path.stat().st_size // SAMPLE_WIDTH

    @property
    def duration_sec(self) -> float:
        return self.samples / self.sample_rate


@dataclass(frozen=True)
class _Frame:
    pts: int
    duration: int
    slide: int
    keyframe: bool


def compose_video(
    path: Path,
    *,
    slides: list[Path],
    scene_starts: list[float],
    audio: PcmAudio,
    video: VideoFormat,
    on_progress: Callable[[float], None],
) -> None:
    """Writes the MP4; `on_progress(fraction)` after each chunk of audio (raise in it to stop)."""
    time_base = Fraction(1, 1000 * (video.fps or 1))
    duration = audio.duration_sec
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video_stream = _add_video_stream(container, video, time_base)
        audio_stream = _add_audio_stream(container, audio.sample_rate)
        frames = _frame_schedule(scene_starts, duration, video.fps, time_base)
        encoder = _SlideEncoder(container, video_stream, slides, frames, time_base)
        for chunk_end, chunk in _audio_chunks(audio):
            encoder.encode_until(chunk_end)
            _mux(container, audio_stream.encode(chunk))
            on_progress(chunk_end / duration)
        encoder.finish()
        _mux(container, audio_stream.encode(None))


def _add_video_stream(container: av.container.OutputContainer, video: VideoFormat, time_base: Fraction):
    options = {"crf": str(video.crf), "preset": X264_PRESET, "tune": "stillimage"}
    stream = container.add_stream("libx264", options=options)
    stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
    stream.time_base = stream.codec_context.time_base = time_base
    if video.fps:
        stream.codec_context.framerate = Fraction(video.fps)
    # No B-frames: decode order equals display order, so no negative timestamps or edit lists.
    stream.codec_context.max_b_frames = 0
    # PyAV defaults to slice threads; x264's frame threads (what the ffmpeg CLI uses) get
    # more work done per core, which matters once there are thousands of frames (RENDER_FPS).
    stream.codec_context.thread_type = "FRAME"
    stream.codec_context.colorspace = Colorspace.ITU709
    stream.codec_context.color_primaries = ColorPrimaries.BT709
    stream.codec_context.color_trc = ColorTrc.BT709
    stream.codec_context.color_range = ColorRange.MPEG
    return stream


def _add_audio_stream(container: av.container.OutputContainer, sample_rate: int):
    # The default "twoloop" coder is the slowest part of a slide video (DESIGN §7).
    stream = container.add_stream("aac", rate=sample_rate, options={"aac_coder": "fast"})
    stream.layout = "mono"
    stream.bit_rate = AUDIO_BIT_RATE
    return stream


def _frame_schedule(
    scene_starts: list[float], duration: float, fps: int | None, time_base: Fraction
) -> Iterator[_Frame]:
    """The frames to encode, in order, covering [0, duration) exactly."""
    end = round(duration / time_base)
    if fps is None:
        return _frame_per_slide(scene_starts, end, time_base)
    return _constant_rate_frames(scene_starts, end, round(1 / (fps * time_base)), time_base)


def _frame_per_slide(scene_starts: list[float], end: int, time_base: Fraction) -> Iterator[_Frame]:
    starts = [round(start / time_base) for start in scene_starts]
    for slide, (pts, next_pts) in enumerate(zip(starts, [*starts[1:], end])):
        yield _Frame(pts=pts, duration=next_pts - pts, slide=slide, keyframe=True)


def _constant_rate_frames(scene_starts: list[float], end: int, ticks: int, time_base: Fraction) -> Iterator[_Frame]:
    previous_slide = -1
    for pts in range(0, end, ticks):
        slide = bisect.bisect_right(scene_starts, pts * time_base) - 1
        yield _Frame(pts=pts, duration=min(ticks, end - pts), slide=slide, keyframe=slide != previous_slide)
        previous_slide = slide


class _SlideEncoder:
    """Encodes scheduled frames, converting each slide picture once however often it repeats."""

    def __init__(self, container, stream, slides: list[Path], frames: Iterator[_Frame], time_base: Fraction) -> None:
        self._container, self._stream, self._slides, self._time_base = container, stream, slides, time_base
        self._frames = frames
        self._next: _Frame | None = next(frames, None)
        self._picture: tuple[int, av.VideoFrame] | None = None
        self._durations: dict[int, int] = {}

    def encode_until(self, end_sec: float) -> None:
        """Encodes the frames that start before `end_sec`."""
        while self._next is not None and self._next.pts * self._time_base < end_sec:
            self._encode(self._next)
            self._next = next(self._frames, None)

    def finish(self) -> None:
        self.encode_until(math.inf)
        self._mux(self._stream.encode(None))

    def _encode(self, frame: _Frame) -> None:
        picture = self._picture_of(frame.slide)
        picture.pts = frame.pts
        picture.pict_type = PictureType.I if frame.keyframe else PictureType.NONE
        self._durations[frame.pts] = frame.duration
        self._mux(self._stream.encode(picture))

    def _mux(self, packets: list[av.Packet]) -> None:
        # The encoder leaves durations unset; the muxer needs them to end the video exactly.
        for packet in packets:
            packet.duration = self._durations.pop(packet.pts)
        _mux(self._container, packets)

    def _picture_of(self, slide: int) -> av.VideoFrame:
        if self._picture is None or self._picture[0] != slide:
            with Image.open(self._slides[slide]) as image:
                frame = av.VideoFrame.from_image(image)
            picture = frame.reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709)
            picture.time_base = self._time_base
            self._picture = (slide, picture)
        return self._picture[1]


def _audio_chunks(audio: PcmAudio) -> Iterator[tuple[float, av.AudioFrame]]:
    """(end second, frame) for consecutive chunks of the PCM file."""
    chunk_samples = max(1, round(audio.sample_rate * AUDIO_CHUNK_SEC))
    position = 0
    with audio.path.open("rb") as pcm:
        while data := pcm.read(chunk_samples * SAMPLE_WIDTH):
            samples = len(data) // SAMPLE_WIDTH
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(data[: samples * SAMPLE_WIDTH])
            frame.sample_rate = audio.sample_rate
            frame.pts = position
            frame.time_base = Fraction(1, audio.sample_rate)
            position += samples
            yield position / audio.sample_rate, frame


def _mux(container: av.container.OutputContainer, packets: list[av.Packet]) -> None:
    for packet in packets:
        container.mux(packet)
