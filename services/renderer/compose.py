"""The MP4 (H.264 yuv420p + AAC, faststart) from slide pictures, scene start times and PCM audio.

Variable frame rate (fps None): one keyframe per slide at its scene start, held until the next
one, so encoding cost follows the number of slides, not the video's length; a zooming slide
(motion.py) gets MOTION_FPS frames a second through its scene. Constant frame rate: fps frames
a second, with a keyframe where each slide begins so seeking lands on it. Either way the last
frame's duration is cut to end the video exactly where the audio ends.

The narration is encoded to AAC as the TTS writes it (aac.py); `composition` then takes the
slides one at a time as they are drawn, so drawing, H.264 and AAC overlap and a still slide
goes from Pillow to the encoder without a picture file between them.
"""

import bisect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
from av.video.frame import PictureType
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from PIL import Image

from libs.contracts.script import MOTION_FPS
from services.renderer.aac import NarrationEncoder, configure_aac
from services.renderer.burn_in import BurnIn, CaptionBox, StillFrame, burned, to_yuv
from services.renderer.chapters import Chapter
from services.renderer.motion import ZoomLayers, zoom_frame
from services.renderer.tts.base import SAMPLE_WIDTH

if TYPE_CHECKING:  # a TypedDict of PyAV's type stubs only
    from av.container.core import Chapter as AvChapter

X264_PRESET = "veryfast"
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


SlidePicture = Image.Image | ZoomLayers
"""A still slide as drawn (RGB at the video size), or the layers a zooming slide is drawn from."""


@contextmanager
def composition(
    path: Path,
    *,
    scene_starts: list[float],
    duration: float,
    narration: NarrationEncoder,
    video: VideoFormat,
    moving: set[int],
    burn_in: BurnIn | None = None,
    chapters: Sequence[Chapter] = (),
) -> Iterator["Composition"]:
    """The MP4 at `path`, `duration` seconds long: add each slide in order, then finish(), which
    waits for the end of `narration`. `moving`: the indexes of the slides that zoom;
    `burn_in`: the captions drawn over the slides; `chapters`: the file's chapter list."""
    # Milliseconds of a frame at the rate that moves: pts stay whole numbers.
    time_base = Fraction(1, 1000 * (video.fps or (MOTION_FPS if moving else 1)))
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video_stream = _add_video_stream(container, video, time_base)
        audio_stream = container.add_stream("aac", rate=narration.sample_rate)
        configure_aac(audio_stream.codec_context, narration.sample_rate)
        if chapters:  # before the header, which carries them
            container.set_chapters([_chapter(number, chapter) for number, chapter in enumerate(chapters)])
        frames_by_slide: list[list[_Frame]] = [[] for _ in scene_starts]
        changes = burn_in.changes() if burn_in else []
        for frame in _frame_schedule(scene_starts, duration, video.fps, time_base, moving, changes):
            frames_by_slide[frame.slide].append(frame)
        yield Composition(
            container, video_stream, time_base, audio_stream, narration, frames_by_slide, (video.width, video.height), burn_in
        )


class Composition:
    """Encodes each slide's frames as it is added; the narration encodes meanwhile on its own thread."""

    def __init__(
        self,
        container,
        stream,
        time_base: Fraction,
        audio_stream,
        narration: NarrationEncoder,
        frames_by_slide: list[list[_Frame]],
        size: tuple[int, int],
        burn_in: BurnIn | None,
    ) -> None:
        # The frames' own time base, not the stream's: the MP4 muxer gives the stream a finer one
        # once it writes the header, and a frame in that one would be rescaled by the encoder.
        self._container, self._stream, self._time_base = container, stream, time_base
        self._audio_stream = audio_stream
        self._narration, self._frames_by_slide, self._size = narration, frames_by_slide, size
        self._burn_in = burn_in
        self._added = 0
        self._durations: dict[int, int] = {}

    def add_slide(self, picture: SlidePicture, on_progress: Callable[[float], None]) -> None:
        """Encodes the next slide's frames; `on_progress(fraction of them)` after each (raise in it to stop)."""
        if self._added == len(self._frames_by_slide):
            raise ValueError(f"all {self._added} slides were added already")
        frames = self._frames_by_slide[self._added]
        self._added += 1
        caption_at = self._caption_at
        draw = (
            _zoom_drawer(picture, self._size, caption_at)
            if isinstance(picture, ZoomLayers)
            else _still_drawer(picture, caption_at)
        )
        for done, frame in enumerate(frames, start=1):
            self._encode(draw(frame), frame)
            on_progress(done / len(frames))

    def _caption_at(self, frame: _Frame) -> tuple[int, CaptionBox] | None:
        return self._burn_in.at(float(frame.pts * self._time_base)) if self._burn_in else None

    def finish(self, on_progress: Callable[[float], None]) -> None:
        """Flushes the video, waits for the audio with `on_progress(fraction encoded)`, and muxes it."""
        if self._added != len(self._frames_by_slide):
            raise ValueError(f"{self._added} of {len(self._frames_by_slide)} slides were added")
        self._mux_video(self._stream.encode(None))
        while not self._narration.wait(AUDIO_PROGRESS_SEC):
            on_progress(self._narration.fraction)
        on_progress(1.0)
        audio_packets = self._narration.packets()
        for packet in audio_packets:
            packet.stream = self._audio_stream
        # The muxer interleaves by time: the video packets it holds go out with these.
        _mux(self._container, audio_packets)

    def _encode(self, picture: av.VideoFrame, frame: _Frame) -> None:
        picture.pts = frame.pts
        picture.time_base = self._time_base
        picture.pict_type = PictureType.I if frame.keyframe else PictureType.NONE
        self._durations[frame.pts] = frame.duration
        self._mux_video(self._stream.encode(picture))

    def _mux_video(self, packets: list[av.Packet]) -> None:
        # The encoder leaves durations unset; the muxer needs them to end the video exactly.
        for packet in packets:
            if packet.pts is not None:  # an encoder's packets carry the pts of the frame they came from
                packet.duration = self._durations.pop(packet.pts)
        _mux(self._container, packets)


def _chapter(number: int, chapter: Chapter) -> "AvChapter":
    return {
        "id": number,
        "start": chapter.start_ms,
        "end": chapter.end_ms,
        "time_base": Fraction(1, 1000),
        "metadata": {"title": chapter.title},
    }


def _add_video_stream(container: av.container.OutputContainer, video: VideoFormat, time_base: Fraction):
    # No scenecut analysis: every slide starts with a keyframe we force, and the frames between
    # (captions, a zoom) are never a new scene; the analysis cost x264 a sixth of each frame.
    options = {"crf": str(video.crf), "preset": X264_PRESET, "tune": "stillimage", "x264-params": "scenecut=0"}
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


def _frame_schedule(
    scene_starts: list[float], duration: float, fps: int | None, time_base: Fraction, moving: set[int], changes: list[float]
) -> Iterator[_Frame]:
    """The frames to encode, in order, covering [0, duration) exactly; with variable frame rate,
    one more wherever the picture `changes` (seconds) inside a scene."""
    end = round(duration / time_base)
    starts = [round(start / time_base) for start in scene_starts]
    scenes = list(zip(starts, [*starts[1:], end]))
    if fps is None:
        return _frame_per_slide(
            scenes, round(1 / (MOTION_FPS * time_base)), moving, [round(time / time_base) for time in changes]
        )
    return _constant_rate_frames(scenes, round(1 / (fps * time_base)))


def _frame_per_slide(scenes: list[tuple[int, int]], motion_ticks: int, moving: set[int], changes: list[int]) -> Iterator[_Frame]:
    for slide, (start, next_start) in enumerate(scenes):
        step = motion_ticks if slide in moving else next_start - start
        inside = changes[bisect.bisect_right(changes, start) : bisect.bisect_left(changes, next_start)]
        frame_starts = sorted({*range(start, next_start, max(1, step)), *inside})
        for pts, following in zip(frame_starts, [*frame_starts[1:], next_start]):
            yield _Frame(
                pts=pts,
                duration=following - pts,
                slide=slide,
                keyframe=pts == start,
                progress=(pts - start) / (next_start - start),
            )


def _constant_rate_frames(scenes: list[tuple[int, int]], ticks: int) -> Iterator[_Frame]:
    end = scenes[-1][1]
    starts = [start for start, _ in scenes]
    previous_slide = -1
    for pts in range(0, end, ticks):
        slide = bisect.bisect_right(starts, pts) - 1
        start, next_start = scenes[slide]
        yield _Frame(
            pts=pts,
            duration=min(ticks, end - pts),
            slide=slide,
            keyframe=slide != previous_slide,
            progress=(pts - start) / (next_start - start),
        )
        previous_slide = slide


CaptionAt = Callable[[_Frame], tuple[int, CaptionBox] | None]
"""The caption burned into a frame (its index and it drawn), if any."""


def _still_drawer(image: Image.Image, caption_at: CaptionAt) -> Callable[[_Frame], av.VideoFrame]:
    """Converted once, however many frames (constant frame rate) show it; each caption over it
    once, however many frames show that."""
    still = StillFrame(image)
    last: dict[int | None, av.VideoFrame] = {}

    def draw(frame: _Frame) -> av.VideoFrame:
        caption = caption_at(frame)
        key = caption[0] if caption else None
        if key not in last:
            last.clear()
            last[key] = still.with_caption(caption[1]) if caption else still.plain()
        return last[key]

    return draw


def _zoom_drawer(layers: ZoomLayers, size: tuple[int, int], caption_at: CaptionAt) -> Callable[[_Frame], av.VideoFrame]:
    picture = _loaded(layers.picture, "RGB")
    overlay = _loaded(layers.overlay, "RGBA") if layers.overlay else None

    def draw(frame: _Frame) -> av.VideoFrame:
        zoomed = zoom_frame(picture, overlay, size, frame.progress)
        caption = caption_at(frame)
        return to_yuv(burned(zoomed, caption[1]) if caption else zoomed)

    return draw


def _loaded(path: Path, mode: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert(mode)


def _mux(container: av.container.OutputContainer, packets: list[av.Packet]) -> None:
    for packet in packets:
        container.mux(packet)
