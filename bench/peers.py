"""Composition against the tools people would otherwise script: the ffmpeg CLI (concat
demuxer) and MoviePy 2, on the same slide pictures and narration audio, exported from our
pipeline, in the same run. Also the constant-frame-rate mode (`RENDER_FPS=30`) against the
same ffmpeg line at equal CRF and preset.

    .venv/bin/pip install -e '.[bench]'      # the peers: imageio-ffmpeg (an ffmpeg binary), MoviePy
    .venv/bin/python -m bench.peers
"""

import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
from PIL import Image

from bench.render import reference_script
from bench.results import Row, Target, markdown_table
from libs.contracts.bus import OutputSpec
from libs.contracts.script import Script
from services.renderer.aac import AUDIO_BIT_RATE, SoundtrackEncoder
from services.renderer.compose import X264_PRESET, VideoFormat, composition
from services.renderer.fonts import FontBook
from services.renderer.narration import Narration, narrate
from services.renderer.slides import draw_slide
from services.renderer.text import split_sentences
from services.renderer.tts import get_engine
from tests.media import audio_video_durations

SECTION = "composition"
CFR_FPS = 30
WIDTH, HEIGHT = 1920, 1080
CRF = OutputSpec(storage_key="-").crf
MIN_SPEEDUP_OVER_FFMPEG = 40
MIN_SPEEDUP_OVER_MOVIEPY = 50


@dataclass(frozen=True)
class Inputs:
    """What every contender composes: one PNG per slide, the narration, when each slide starts."""

    pictures: list[Path]
    narration: Narration
    wav: Path

    @property
    def scene_durations(self) -> list[float]:
        starts = self.narration.scene_starts
        return [end - start for start, end in zip(starts, [*starts[1:], self.narration.audio.duration_sec])]


@dataclass(frozen=True)
class Composed:
    seconds: float
    audio_sec: float
    video_sec: float
    size: int

    @property
    def mismatch_ms(self) -> float:
        return (self.video_sec - self.audio_sec) * 1000


def export_inputs(folder: Path) -> Inputs:
    """The reference script's slides and narration, made by the renderer's own functions."""
    script = msgspec.convert(reference_script(), Script)
    fonts = FontBook(None)
    pictures = []
    for number, scene in enumerate(script.scenes, start=1):
        path = folder / f"slide-{number:02d}.png"
        draw_slide(scene.slide, (WIDTH, HEIGHT), fonts).save(path)
        pictures.append(path)
    sentences = [split_sentences(scene.narration) for scene in script.scenes]
    narration = narrate(
        script, sentences, get_engine("espeak"), folder / "narration.pcm", threading.Event(), lambda done, total: None
    )
    wav = folder / "narration.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(narration.audio.sample_rate)
        out.writeframes(narration.audio.path.read_bytes())
    return Inputs(pictures, narration, wav)


def _timed(compose: Callable[[Path], None], output: Path) -> Composed:
    started = time.perf_counter()
    compose(output)
    seconds = time.perf_counter() - started
    print(f"  {output.name}: composed in {seconds:.2f} s", file=sys.stderr, flush=True)
    audio, video = audio_video_durations(output)
    return Composed(seconds, audio, video, output.stat().st_size)


def ours(inputs: Inputs, fps: int | None) -> Callable[[Path], None]:
    """The pipeline's composition (pipeline._draw_and_compose), given the same picture files as
    the peers: the narration's AAC encoded on its own thread while the slides are."""

    def compose(output: Path) -> None:
        audio = inputs.narration.audio
        with SoundtrackEncoder(lambda _stop: audio.as_float(), audio.sample_rate) as soundtrack:
            with composition(
                output,
                scene_starts=inputs.narration.scene_starts,
                duration=audio.duration_sec,
                soundtrack=soundtrack,
                video=VideoFormat(width=WIDTH, height=HEIGHT, fps=fps, crf=CRF),
                moving=set(),
            ) as mp4:
                for path in inputs.pictures:
                    with Image.open(path) as picture:
                        mp4.add_slide(picture, lambda fraction: None)
                mp4.finish(lambda fraction: None)

    return compose


def ffmpeg_cli(inputs: Inputs, ffmpeg: str) -> Callable[[Path], None]:
    """The usual shell recipe: a concat list with a duration per picture (the last picture
    listed twice, as the concat demuxer needs), 30 fps, stillimage tuning, AAC."""

    def compose(output: Path) -> None:
        listing = output.with_suffix(".txt")
        lines = [
            f"file '{picture}'\nduration {duration:.6f}" for picture, duration in zip(inputs.pictures, inputs.scene_durations)
        ]
        listing.write_text("\n".join([*lines, f"file '{inputs.pictures[-1]}'", ""]))
        subprocess.run(
            [
                ffmpeg,
                "-y",
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-i",
                str(inputs.wav),
                "-c:v",
                "libx264",
                "-preset",
                X264_PRESET,
                "-crf",
                str(CRF),
                "-tune",
                "stillimage",
                "-r",
                str(CFR_FPS),
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                str(AUDIO_BIT_RATE),
                "-movflags",
                "+faststart",
                str(output),
            ],
            check=True,
        )

    return compose


def moviepy(inputs: Inputs) -> Callable[[Path], None]:
    """ImageClip per slide, concatenated, with the narration; write_videofile with its defaults."""
    from moviepy import AudioFileClip, ImageClip, concatenate_videoclips

    def compose(output: Path) -> None:
        clips = [
            ImageClip(str(picture)).with_duration(duration) for picture, duration in zip(inputs.pictures, inputs.scene_durations)
        ]
        with AudioFileClip(str(inputs.wav)) as audio:
            video = concatenate_videoclips(clips).with_audio(audio)
            video.write_videofile(str(output), fps=CFR_FPS, codec="libx264", audio_codec="aac", logger=None)

    return compose


def _peer_rows(name: str, peer: Composed, reference: Composed, minimum: float, what: str) -> list[Row]:
    return [
        Row(SECTION, f"{name}: compose time", peer.seconds, "s", note=f"{peer.size:,} B"),
        Row(SECTION, f"{name} ÷ {what}", peer.seconds / reference.seconds, "x", Target(">=", minimum)),
        Row(SECTION, f"{name}: video − audio duration", peer.mismatch_ms, "ms"),
    ]


def run() -> list[Row]:
    try:
        import imageio_ffmpeg
        import moviepy as _  # noqa: F401  (only to say clearly that the peers are missing)
    except ImportError as missing:
        return [Row(SECTION, "peers", f"not installed ({missing.name}): pip install -e '.[bench]'", target=Target(">=", 1))]
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        inputs = export_inputs(work)
        vfr = _timed(ours(inputs, None), work / "ours-vfr.mp4")
        cfr = _timed(ours(inputs, CFR_FPS), work / "ours-cfr.mp4")
        cli = _timed(ffmpeg_cli(inputs, ffmpeg), work / "ffmpeg.mp4")
        movie = _timed(moviepy(inputs), work / "moviepy.mp4")
        narration_sec = inputs.narration.audio.duration_sec
    return [
        Row(
            SECTION,
            "inputs",
            f"{len(inputs.pictures)} PNG slides {WIDTH}x{HEIGHT}, {narration_sec:.1f} s narration",
            note=f"CRF {CRF}, preset {X264_PRESET}, AAC {AUDIO_BIT_RATE // 1000} kb/s, 30 fps for peers",
        ),
        Row(SECTION, "slidereel VFR: compose time", vfr.seconds, "s", note=f"{vfr.size:,} B"),
        Row(SECTION, "slidereel VFR: video − audio duration", vfr.mismatch_ms, "ms", Target("<=", 50)),
        *_peer_rows("ffmpeg CLI", cli, vfr, MIN_SPEEDUP_OVER_FFMPEG, "slidereel VFR"),
        *_peer_rows("MoviePy 2", movie, vfr, MIN_SPEEDUP_OVER_MOVIEPY, "slidereel VFR"),
        Row(SECTION, f"slidereel RENDER_FPS={CFR_FPS}: compose time", cfr.seconds, "s", note=f"{cfr.size:,} B"),
        Row(
            SECTION,
            f"ffmpeg CLI ÷ slidereel RENDER_FPS={CFR_FPS}",
            cli.seconds / cfr.seconds,
            "x",
            Target(">=", 1.0),
            note="same CRF, preset, frame rate",
        ),
        Row(SECTION, f"slidereel RENDER_FPS={CFR_FPS}: video − audio duration", cfr.mismatch_ms, "ms"),
    ]


def main() -> None:
    print(markdown_table(run()))


if __name__ == "__main__":
    main()
