"""The MP4 (H.264 yuv420p + AAC, faststart) from slide pictures, scene start times and PCM audio.

Variable frame rate (fps None): one keyframe per slide at its scene start, held until the next
one, so encoding cost follows the number of slides, not the video's length; a zooming slide
(motion.py) gets MOTION_FPS frames a second through its scene. Constant frame rate: fps frames
a second, with a keyframe where each slide begins so seeking lands on it. Either way the last
frame's duration is cut to end the video exactly where the audio ends.

A fade or slide transition (transitions.py) adds frames at that moving rate only while it plays,
inside the pause before a scene starts; with a constant frame rate those frames exist anyway and
become blends. A slide's transition into the next is encoded once the next slide is added.

The soundtrack is encoded to AAC on a thread of its own (aac.py); `composition` takes the
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

from libs.contracts.script import MOTION_FPS, Transition, TransitionType
from services.renderer.aac import SoundtrackEncoder, configure_aac
from services.renderer.burn_in import BurnIn, CaptionBox, StillFrame, burned
from services.renderer.chapters import Chapter
from services.renderer.motion import ZoomLayers, zoom_frame
from services.renderer.transitions import BLENDS, transition_seconds
from services.renderer.yuv import Planes, to_yuv

if TYPE_CHECKING:  # a TypedDict of PyAV's type stubs only
    from av.container.core import Chapter as AvChapter

X264_PRESET = "veryfast"
AUDIO_PROGRESS_SEC = 0.05
"""How often progress (and so cancel) is checked while only the audio is still encoding."""
_CUT = Transition(type="cut")
"""No transition: what a composition that is given none does."""


@dataclass(frozen=True, kw_only=True)
class VideoFormat:
    width: int
    height: int
    fps: int | None
    crf: int


@dataclass(frozen=True)
class _Frame:
    pts: int
    duration: int
    slide: int
    keyframe: bool
    progress: float = 0.0
    """How far through its slide's scene the frame starts (0 to 1): where a zoom stands."""
    transition: float = 0.0
    """How far through the transition to the next slide the frame is at its middle (0 to 1);
    0: the frame is not in one."""

    @property
    def in_transition(self) -> bool:
        return self.transition > 0


SlidePicture = Image.Image | ZoomLayers
"""A still slide as drawn (RGB at the video size), or the layers a zooming slide is drawn from."""


@contextmanager
def composition(
    path: Path,
    *,
    scene_starts: list[float],
    duration: float,
    soundtrack: SoundtrackEncoder,
    video: VideoFormat,
    moving: set[int],
    burn_in: BurnIn | None = None,
    chapters: Sequence[Chapter] = (),
    transition: Transition = _CUT,
    pauses: Sequence[float] = (),
) -> Iterator["Composition"]:
    """The MP4 at `path`, `duration` seconds long: add each slide in order, then finish(), which
    waits for the end of `soundtrack`. `moving`: the indexes of the slides that zoom;
    `burn_in`: the captions drawn over the slides; `chapters`: the file's chapter list;
    `transition`: how each slide gives way to the next, inside `pauses` (each scene's silence
    at its end, the last one's included; none given: no transitions)."""
    transitions = transition_seconds(transition, pauses)
    # Milliseconds of a frame at the rate that moves (a zoom, a transition): pts stay whole numbers.
    time_base = Fraction(1, 1000 * (video.fps or (MOTION_FPS if moving or any(transitions) else 1)))
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video_stream = _add_video_stream(container, video, time_base)
        audio_stream = container.add_stream("aac", rate=soundtrack.sample_rate)
        configure_aac(audio_stream.codec_context, soundtrack.sample_rate)
        if chapters:  # before the header, which carries them
            container.set_chapters([_chapter(number, chapter) for number, chapter in enumerate(chapters)])
        frames_by_slide: list[list[_Frame]] = [[] for _ in scene_starts]
        changes = burn_in.changes() if burn_in else []
        for frame in _frame_schedule(scene_starts, duration, video.fps, time_base, moving, changes, transitions):
            frames_by_slide[frame.slide].append(frame)
        yield Composition(
            container,
            video_stream,
            time_base,
            audio_stream,
            soundtrack,
            frames_by_slide,
            (video.width, video.height),
            burn_in,
            transition.type,
        )


class Composition:
    """Encodes each slide's frames as it is added; the soundtrack encodes meanwhile on its own thread."""

    def __init__(
        self,
        container,
        stream,
        time_base: Fraction,
        audio_stream,
        soundtrack: SoundtrackEncoder,
        frames_by_slide: list[list[_Frame]],
        size: tuple[int, int],
        burn_in: BurnIn | None,
        transition: TransitionType,
    ) -> None:
        # The frames' own time base, not the stream's: the MP4 muxer gives the stream a finer one
        # once it writes the header, and a frame in that one would be rescaled by the encoder.
        self._container, self._stream, self._time_base = container, stream, time_base
        self._audio_stream = audio_stream
        self._soundtrack, self._frames_by_slide, self._size = soundtrack, frames_by_slide, size
        self._burn_in = burn_in
        self._transition = transition
        self._added = 0
        self._durations: dict[int, int] = {}
        self._leaving: tuple[Look, list[_Frame]] | None = None
        """The last slide added, as it looks, and its transition's frames: they need the next slide."""

    def add_slide(self, picture: SlidePicture, on_progress: Callable[[float], None]) -> None:
        """Encodes the previous slide's transition into this one, then this slide's frames up to
        its own transition; `on_progress(fraction of them)` after each (raise in it to stop)."""
        if self._added == len(self._frames_by_slide):
            raise ValueError(f"all {self._added} slides were added already")
        frames = self._frames_by_slide[self._added]
        self._added += 1
        draw, look = _drawer_and_look(picture, self._size, self._caption_at)
        work = [(frame, draw) for frame in frames if not frame.in_transition]
        if self._leaving is not None:
            leaving, transition_frames = self._leaving
            draw_transition = _transition_drawer(self._transition, leaving, look, self._caption_at)
            work = [*((frame, draw_transition) for frame in transition_frames), *work]
        transition_frames = [frame for frame in frames if frame.in_transition]
        self._leaving = (look, transition_frames) if transition_frames else None
        for done, (frame, draw_frame) in enumerate(work, start=1):
            self._encode(draw_frame(frame), frame)
            on_progress(done / len(work))

    def _caption_at(self, frame: _Frame) -> tuple[int, CaptionBox] | None:
        return self._burn_in.at(float(frame.pts * self._time_base)) if self._burn_in else None

    def finish(self, on_progress: Callable[[float], None]) -> None:
        """Flushes the video, waits for the audio with `on_progress(fraction encoded)`, and muxes it."""
        if self._added != len(self._frames_by_slide):
            raise ValueError(f"{self._added} of {len(self._frames_by_slide)} slides were added")
        self._mux_video(self._stream.encode(None))
        while not self._soundtrack.wait(AUDIO_PROGRESS_SEC):
            on_progress(self._soundtrack.fraction)
        on_progress(1.0)
        audio_packets = self._soundtrack.packets()
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
    scene_starts: list[float],
    duration: float,
    fps: int | None,
    time_base: Fraction,
    moving: set[int],
    changes: list[float],
    transitions: list[float],
) -> Iterator[_Frame]:
    """The frames to encode, in order, covering [0, duration) exactly; with variable frame rate,
    one more wherever the picture `changes` (seconds) inside a scene. `transitions`: the seconds
    of the transition at the end of each scene but the last (transition_seconds())."""
    end = round(duration / time_base)
    starts = [round(start / time_base) for start in scene_starts]
    transition_ticks = [round(seconds / time_base) for seconds in transitions]
    transition_ticks += [0] * (len(starts) - len(transition_ticks))
    # max(): a pause is part of its scene, so only rounding could start its transition earlier.
    scenes = [
        _SceneTicks(start, max(start, next_start - ticks), next_start)
        for start, next_start, ticks in zip(starts, [*starts[1:], end], transition_ticks)
    ]
    if fps is None:
        return _frame_per_slide(
            scenes, round(1 / (MOTION_FPS * time_base)), moving, [round(time / time_base) for time in changes]
        )
    return _constant_rate_frames(scenes, round(1 / (fps * time_base)))


@dataclass(frozen=True)
class _SceneTicks:
    """A scene on the frames' clock."""

    start: int
    leaving: int
    """Where the transition to the next slide starts; `end` when there is none."""
    end: int

    def progress(self, pts: int) -> float:
        return (pts - self.start) / (self.end - self.start)

    def transition(self, pts: int, duration: int) -> float:
        """_Frame.transition of a frame starting at `pts`: at its middle, so the frames on either
        side of the transition are never a copy of the slide they follow or precede."""
        if pts < self.leaving:
            return 0.0
        return min(1.0, (pts + duration / 2 - self.leaving) / (self.end - self.leaving))


def _frame_per_slide(scenes: list[_SceneTicks], motion_ticks: int, moving: set[int], changes: list[int]) -> Iterator[_Frame]:
    for slide, scene in enumerate(scenes):
        step = motion_ticks if slide in moving else scene.leaving - scene.start
        inside = changes[bisect.bisect_right(changes, scene.start) : bisect.bisect_left(changes, scene.end)]
        frame_starts = sorted(
            {*range(scene.start, scene.leaving, max(1, step)), *range(scene.leaving, scene.end, motion_ticks), *inside}
        )
        for pts, following in zip(frame_starts, [*frame_starts[1:], scene.end]):
            yield _Frame(
                pts=pts,
                duration=following - pts,
                slide=slide,
                keyframe=pts == scene.start,
                progress=scene.progress(pts),
                transition=scene.transition(pts, following - pts),
            )


def _constant_rate_frames(scenes: list[_SceneTicks], ticks: int) -> Iterator[_Frame]:
    end = scenes[-1].end
    starts = [scene.start for scene in scenes]
    previous_slide = -1
    for pts in range(0, end, ticks):
        slide = bisect.bisect_right(starts, pts) - 1
        scene = scenes[slide]
        duration = min(ticks, end - pts)
        yield _Frame(
            pts=pts,
            duration=duration,
            slide=slide,
            keyframe=slide != previous_slide,
            progress=scene.progress(pts),
            transition=scene.transition(pts, duration),
        )
        previous_slide = slide


CaptionAt = Callable[[_Frame], tuple[int, CaptionBox] | None]
"""The caption burned into a frame (its index and it drawn), if any."""


Drawer = Callable[[_Frame], av.VideoFrame]
Look = Callable[[float], Planes]
"""A slide without captions at a progress through its scene, as a transition blends it."""


def _drawer_and_look(picture: SlidePicture, size: tuple[int, int], caption_at: CaptionAt) -> tuple[Drawer, Look]:
    """What draws the slide's own frames, and its look for the transitions on either side of it."""
    if isinstance(picture, ZoomLayers):
        zoomed = _zoom(picture, size)
        return _zoom_drawer(zoomed, caption_at), lambda progress: Planes.of(zoomed(progress))
    still = StillFrame(picture)
    return _still_drawer(still, caption_at), lambda _progress: still.planes


def _still_drawer(still: StillFrame, caption_at: CaptionAt) -> Drawer:
    """Converted once, however many frames (constant frame rate) show it; each caption over it
    once, however many frames show that."""
    last: dict[int | None, av.VideoFrame] = {}

    def draw(frame: _Frame) -> av.VideoFrame:
        caption = caption_at(frame)
        key = caption[0] if caption else None
        if key not in last:
            last.clear()
            last[key] = still.with_caption(caption[1]) if caption else still.plain()
        return last[key]

    return draw


def _zoom(layers: ZoomLayers, size: tuple[int, int]) -> Callable[[float], Image.Image]:
    """The zooming slide (RGB) at a progress through its scene, its layers loaded once."""
    picture = _loaded(layers.picture, "RGB")
    overlay = _loaded(layers.overlay, "RGBA") if layers.overlay else None
    return lambda progress: zoom_frame(picture, overlay, size, progress)


def _zoom_drawer(zoomed: Callable[[float], Image.Image], caption_at: CaptionAt) -> Drawer:
    def draw(frame: _Frame) -> av.VideoFrame:
        picture = zoomed(frame.progress)
        caption = caption_at(frame)
        return to_yuv(burned(picture, caption[1]) if caption else picture)

    return draw


def _transition_drawer(transition: TransitionType, leaving: Look, arriving: Look, caption_at: CaptionAt) -> Drawer:
    """The leaving slide as it looks at the frame's time blended with the arriving one as its
    scene starts, under the caption still on screen, if any (the last cue of a scene can last
    into its pause)."""
    blend = BLENDS[transition]
    arrived = arriving(0.0)

    def draw(frame: _Frame) -> av.VideoFrame:
        blended = blend(leaving(frame.progress), arrived, frame.transition)
        caption = caption_at(frame)
        return (caption[1].overlay.over(blended) if caption else blended).frame()

    return draw


def _loaded(path: Path, mode: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert(mode)


def _mux(container: av.container.OutputContainer, packets: list[av.Packet]) -> None:
    for packet in packets:
        container.mux(packet)
