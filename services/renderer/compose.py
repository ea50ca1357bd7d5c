"""The MP4 (H.264 yuv420p + AAC, faststart) from slide pictures, scene start times and PCM audio.

Variable frame rate (fps None): one keyframe per slide at its scene start, held until the next
one, so encoding cost follows the number of slides, not the video's length; a zooming slide
(motion.py) gets MOTION_FPS frames a second through its scene. Constant frame rate: fps frames
a second, with a keyframe where each slide begins so seeking lands on it. Either way the last
frame's duration is cut to end the video exactly where the audio ends.
"""

import bisect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc, Colorspace
from PIL import Image

from libs.contracts.script import MOTION_FPS
from services.renderer.motion import ZoomLayers, zoom_frame
from services.renderer.tts.base import SAMPLE_WIDTH

X264_PRESET = "veryfast"
AUDIO_BIT_RATE = 64_000
"""Mono speech; AAC at 64 kb/s is transparent for it."""
AUDIO_CHUNK_SEC = 1.0
"""Audio is encoded a second at a time: how soon its thread notices a stop."""
AUDIO_PROGRESS_SEC = 0.05
"""How often progress (and so cancel) is checked while only the audio is still encoding."""


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
    progress: float = 0.0
    """How far through its slide's scene the frame starts (0 to 1): where a zoom stands."""


def compose_video(
    path: Path,
    *,
    slides: list[Path],
    scene_starts: list[float],
    audio: PcmAudio,
    video: VideoFormat,
    on_progress: Callable[[float], None],
    zooms: dict[int, ZoomLayers] | None = None,
) -> None:
    """Writes the MP4; `on_progress(fraction)` after each video frame and while the audio
    finishes (raise in it to stop). `zooms`: by slide index, the layers of the slides that zoom."""
    zooms = zooms or {}
    # Milliseconds of a frame at the rate that moves: pts stay whole numbers.
    time_base = Fraction(1, 1000 * (video.fps or (MOTION_FPS if zooms else 1)))
    duration = audio.duration_sec
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video_stream = _add_video_stream(container, video, time_base)
        with _AudioEncoder(_add_audio_stream(container, audio.sample_rate), audio) as audio_encoder:
            frames = _frame_schedule(scene_starts, duration, video.fps, time_base, set(zooms))
            encoder = _SlideEncoder(container, video_stream, slides, zooms, (video.width, video.height), time_base)
            for frame in frames:
                encoder.encode(frame)
                on_progress(min((frame.pts + frame.duration) * time_base / duration, audio_encoder.fraction))
            encoder.finish()
            while not audio_encoder.wait(AUDIO_PROGRESS_SEC):
                on_progress(audio_encoder.fraction)
            on_progress(1.0)
            # The muxer interleaves by time: the video packets it holds go out with these.
            _mux(container, audio_encoder.packets())


class _AudioEncoder:
    """Encodes the narration to AAC on its own thread while the video is encoded: FFmpeg's
    AAC encoder is the slowest part of a slide video and PyAV lets go of the GIL inside it.
    Only the packets cross threads; muxing stays on the caller's thread."""

    def __init__(self, stream, audio: PcmAudio) -> None:
        self._stream, self._audio = stream, audio
        self._packets: list[av.Packet] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self.fraction = 0.0
        self._thread = threading.Thread(target=self._run, name="aac-encoder", daemon=True)

    def __enter__(self) -> "_AudioEncoder":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def packets(self) -> list[av.Packet]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._packets

    def _run(self) -> None:
        try:
            duration = self._audio.duration_sec
            for chunk_end, chunk in _audio_chunks(self._audio):
                if self._stop.is_set():
                    return
                self._packets += self._stream.encode(chunk)
                self.fraction = chunk_end / duration
            self._packets += self._stream.encode(None)
        except BaseException as error:  # handed to the caller's thread by packets()
            self._error = error
        finally:
            self._done.set()


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
    scene_starts: list[float], duration: float, fps: int | None, time_base: Fraction, moving: set[int]
) -> Iterator[_Frame]:
    """The frames to encode, in order, covering [0, duration) exactly."""
    end = round(duration / time_base)
    starts = [round(start / time_base) for start in scene_starts]
    scenes = list(zip(starts, [*starts[1:], end]))
    if fps is None:
        return _frame_per_slide(scenes, round(1 / (MOTION_FPS * time_base)), moving)
    return _constant_rate_frames(scenes, round(1 / (fps * time_base)))


def _frame_per_slide(scenes: list[tuple[int, int]], motion_ticks: int, moving: set[int]) -> Iterator[_Frame]:
    for slide, (start, next_start) in enumerate(scenes):
        step = motion_ticks if slide in moving else next_start - start
        for pts in range(start, next_start, max(1, step)):
            yield _Frame(pts=pts, duration=min(step, next_start - pts), slide=slide, keyframe=pts == start,
                         progress=(pts - start) / (next_start - start))


def _constant_rate_frames(scenes: list[tuple[int, int]], ticks: int) -> Iterator[_Frame]:
    end = scenes[-1][1]
    starts = [start for start, _ in scenes]
    previous_slide = -1
    for pts in range(0, end, ticks):
        slide = bisect.bisect_right(starts, pts) - 1
        start, next_start = scenes[slide]
        yield _Frame(pts=pts, duration=min(ticks, end - pts), slide=slide, keyframe=slide != previous_slide,
                     progress=(pts - start) / (next_start - start))
        previous_slide = slide


class _SlideEncoder:
    """Encodes scheduled frames, converting each still slide picture once however often it
    repeats; a zooming slide's frames are each drawn from its layers."""

    def __init__(self, container, stream, slides: list[Path], zooms: dict[int, ZoomLayers], size: tuple[int, int],
                 time_base: Fraction) -> None:
        self._container, self._stream, self._slides, self._time_base = container, stream, slides, time_base
        self._zooms, self._size = zooms, size
        self._picture: tuple[int, av.VideoFrame] | None = None
        self._layers: tuple[int, Image.Image, Image.Image | None] | None = None
        self._durations: dict[int, int] = {}

    def finish(self) -> None:
        self._mux(self._stream.encode(None))

    def encode(self, frame: _Frame) -> None:
        picture = self._zoomed(frame) if frame.slide in self._zooms else self._picture_of(frame.slide)
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
                self._picture = (slide, self._converted(image))
        return self._picture[1]

    def _zoomed(self, frame: _Frame) -> av.VideoFrame:
        if self._layers is None or self._layers[0] != frame.slide:
            layers = self._zooms[frame.slide]
            overlay = _loaded(layers.overlay, "RGBA") if layers.overlay else None
            self._layers = (frame.slide, _loaded(layers.picture, "RGB"), overlay)
        _, picture, overlay = self._layers
        return self._converted(zoom_frame(picture, overlay, self._size, frame.progress))

    def _converted(self, image: Image.Image) -> av.VideoFrame:
        picture = av.VideoFrame.from_image(image).reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709)
        picture.time_base = self._time_base
        return picture


def _loaded(path: Path, mode: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert(mode)


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
