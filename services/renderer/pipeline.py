"""One render job from script to published assets (DESIGN §5), run on a worker thread.

Everything is written into a staging folder that the asset store publishes as one set at the end
(a rename, or an upload and then its manifest), or removed on failure or cancel, so a job's
files are either all visible or not there at all. A scene preview encodes the same video of a
one-scene job into a temporary folder instead (`render_video_only`), and nothing is published.
"""

import errno
import functools
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import av
import msgspec

from libs.contracts.bus import CHAPTERS_FILE, VIDEO_FILE, WORDS_FILE, EngineUsage, OutputSpec, Render, RenderedAssets
from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Script
from libs.contracts.theme import ThemeAssets
from libs.lexicon import pronouncer
from libs.redaction import redact
from libs.storage import MEDIA_FILE, AssetStore, StorageError, StoredFileMissing, media_key
from services.renderer.aac import SoundtrackEncoder
from services.renderer.burn_in import BurnIn, CaptionPainter, captions_on_screen
from services.renderer.chapters import Chapter, scene_chapters, to_chapters_vtt
from services.renderer.compose import VideoFormat, composition
from services.renderer.fonts import FontBook
from services.renderer.logo import Logo
from services.renderer.mixdown import MusicBed, mix_down
from services.renderer.music import MusicUnreadable
from services.renderer.narration import Narration, narrate
from services.renderer.pictures import PictureUnreadable
from services.renderer.settings import RendererSettings
from services.renderer.slides import PLAIN, Look, Pictures, draw_slide, draw_zoom_layers, save_thumbnail, zooms_in
from services.renderer.subtitles import Cue, build_cues, to_srt, to_vtt, to_words_json
from services.renderer.text import split_sentences
from services.renderer.tts.base import SynthesisCanceled, SynthesisError, UsageCounter
from services.renderer.tts.selection import prepare, voice_chain

ProgressReport = Callable[[Step, int, str], None]
"""(step, overall progress 0..100, never decreasing, human-readable message)."""

STEP_WEIGHTS = {
    Step.VALIDATE_SCRIPT: 1,
    Step.GENERATE_TTS: 20,
    Step.RENDER_SLIDES: 36,
    Step.COMPOSE_VIDEO: 38,
    Step.GENERATE_SUBTITLES: 1,
    Step.GENERATE_THUMBNAIL: 2,
    Step.PUBLISH_ASSETS: 2,
}
"""Shares of the progress bar: the time each step took on the reference script (VFR, 1080p),
with the AAC encoding behind GENERATE_TTS and RENDER_SLIDES and what is left of it in COMPOSE_VIDEO."""
TTS_SHARE_OF_DEADLINE = 0.75
"""Of the time an attempt has, what its voices may take, retries included: the rest is left for
the slides, the encoding and publishing, so a provider that keeps failing ends the job with its
own answer (or its fallback voice speaks) before the attempt times out."""
MIN_REPORT_INTERVAL_SEC = 0.1
"""Progress moves within a step are reported at most this often: a live bar at 10 updates a second."""
MAX_DIMENSION = 4096
MAX_FPS = 120
_WORK_FOLDER = ".work"
"""Scratch inside the staging folder (narration, zooming slides' layers, downloaded media),
removed before publishing; its dot-name keeps any store from serving it."""
_MEDIA_FOLDER = "media"
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}


class RenderCanceled(Exception):
    """The job's cancel event was set; its files are gone."""


class RenderFailure(Exception):
    """The job failed with `error_code`; `retryable` says whether another attempt may succeed."""

    def __init__(self, error_code: ErrorCode, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.retryable = retryable


def render_job(
    job: Render,
    *,
    settings: RendererSettings,
    storage: AssetStore,
    report: ProgressReport,
    cancel: threading.Event,
    tts_usage: list[EngineUsage] | None = None,
) -> RenderedAssets:
    """Renders and publishes `job`; raises RenderCanceled or RenderFailure, leaving no files.
    What each voice tried asked of its engine is appended to `tts_usage`, whatever the outcome."""
    progress = _ProgressCheckpoint(report, cancel, tts_usage if tts_usage is not None else [])
    tts_ends = _tts_ends(job)
    with _as_job_errors(progress):
        progress(Step.VALIDATE_SCRIPT, 0, "Checking the script")
        scene_sentences = _validate(job.script, job.output)
        fonts = _load_fonts(settings.font_path)
        staging = _staging(storage, job.output.storage_key)
        try:
            assets = _render(job, scene_sentences, settings, fonts, storage, staging, progress, tts_ends)
            progress(Step.PUBLISH_ASSETS, 0, "Publishing the files")
            storage.publish(staging, job.output.storage_key)
        except BaseException:
            storage.discard(staging)
            raise
    # Once published the job is done; a cancel arriving now is too late to undo it.
    progress.report(Step.PUBLISH_ASSETS, 1, "Published")
    return assets


def render_video_only(
    job: Render, *, settings: RendererSettings, storage: AssetStore, cancel: threading.Event, tts_usage: list[EngineUsage]
) -> tuple[bytes, str]:
    """`job`'s MP4 encoded as render_job encodes it, but in a temporary folder and alone: no timed
    text, thumbnail or publishing, no progress reported (a scene preview: the job of one scene,
    answered rather than stored). Returns the MP4's bytes and the voice that spoke it; raises
    RenderCanceled or RenderFailure, leaving no files; `tts_usage` as render_job's."""
    # Nobody follows a preview's progress: the checkpoint is only its cancel.
    progress = _ProgressCheckpoint(lambda _step, _percent, _message: None, cancel, tts_usage)
    tts_ends = _tts_ends(job)
    with _as_job_errors(progress):
        scene_sentences = _validate(job.script, job.output)
        fonts = _load_fonts(settings.font_path)
        with tempfile.TemporaryDirectory(prefix="slidereel-video-") as folder:
            work = Path(folder)
            encoded = _encode_video(job, scene_sentences, settings, fonts, storage, work / VIDEO_FILE, work, progress, tts_ends)
            return (work / VIDEO_FILE).read_bytes(), encoded.voice_used


def _tts_ends(job: Render) -> float | None:
    """The time.monotonic() by which the job's voices must have spoken (None: no deadline)."""
    return None if job.deadline_sec is None else time.monotonic() + job.deadline_sec * TTS_SHARE_OF_DEADLINE


@contextmanager
def _as_job_errors(progress: "_ProgressCheckpoint") -> Iterator[None]:
    """Turns whatever a step raises into RenderCanceled or a RenderFailure with its error code."""
    try:
        yield
    except (RenderCanceled, RenderFailure):
        raise
    except SynthesisCanceled as error:
        raise RenderCanceled from error
    except Exception as error:
        raise _failure(error, progress.step) from error


def _staging(storage: AssetStore, key: str) -> Path:
    try:
        return storage.staging(key)
    except ValueError as error:
        raise RenderFailure(ErrorCode.STORAGE_FAILED, str(error), retryable=False) from error


def _render(
    job: Render,
    scene_sentences: list[list[str]],
    settings: RendererSettings,
    fonts: FontBook,
    storage: AssetStore,
    staging: Path,
    progress: "_ProgressCheckpoint",
    tts_ends: float | None,
) -> RenderedAssets:
    """Writes the asset files into `staging`; returns what they are."""
    work = staging / _WORK_FOLDER
    work.mkdir()
    video = _encode_video(job, scene_sentences, settings, fonts, storage, staging / VIDEO_FILE, work, progress, tts_ends)
    assets = RenderedAssets(duration_sec=video.narration.audio.duration_sec, voice_used=video.voice_used)

    progress(Step.GENERATE_SUBTITLES, 0, "Writing subtitles")
    assets = _write_timed_text(job.script, video.narration, video.cues, video.chapters, assets, staging)

    progress(Step.GENERATE_THUMBNAIL, 0, "Drawing the thumbnail")
    save_thumbnail(
        job.script.scenes[0].slide,
        (job.output.width, job.output.height),
        staging / assets.thumbnail,
        video.fonts,
        video.pictures,
        video.look,
    )

    shutil.rmtree(work)
    sizes = {path.name: path.stat().st_size for path in sorted(staging.iterdir())}
    return msgspec.structs.replace(assets, sizes=sizes)


@dataclass(frozen=True)
class _EncodedVideo:
    """What encoding the MP4 made that the files written after it use."""

    narration: Narration
    voice_used: str
    cues: list[Cue]
    chapters: list[Chapter]
    pictures: Pictures
    fonts: FontBook
    look: Look


def _encode_video(
    job: Render,
    scene_sentences: list[list[str]],
    settings: RendererSettings,
    fonts: FontBook,
    storage: AssetStore,
    path: Path,
    work: Path,
    progress: "_ProgressCheckpoint",
    tts_ends: float | None,
) -> _EncodedVideo:
    """The MP4 at `path` from the script's media, narration, soundtrack and slides (scratch in
    `work`): all of a render that a scene preview shares."""
    # Before the narration: a picture or music that is gone fails the job before anything is spent on it.
    media = _fetch_media(job, storage, work / _MEDIA_FOLDER, progress)
    fonts, look = _theme_look(job.theme, media, fonts)
    progress(Step.GENERATE_TTS, 0, f"Synthesizing {sum(map(len, scene_sentences))} sentences")
    narration, voice_used = _narrate_with_fallback(job, scene_sentences, settings, work / "narration.pcm", progress, tts_ends)
    music = job.script.music
    bed = None if music is None else MusicBed(music=music, path=media[music.media])
    duration = narration.audio.duration_sec
    # Mixed, levelled and encoded to AAC while the slides are drawn and encoded (aac.py).
    mix = functools.partial(mix_down, narration, bed)
    with SoundtrackEncoder(mix, narration.audio.sample_rate) as soundtrack_encoder:
        # Cut before the slides are drawn: burned-in captions are the same cues as the files'.
        cues = build_cues(narration.sentences, duration)
        chapters = scene_chapters(job.script.scenes, narration.scene_starts, duration)
        _draw_and_compose(job, narration, cues, chapters, soundtrack_encoder, fonts, media, look, path, work, progress)
    return _EncodedVideo(narration, voice_used, cues, chapters, media, fonts, look)


def _write_timed_text(
    script: Script, narration: Narration, cues: list[Cue], chapters: list[Chapter], assets: RenderedAssets, staging: Path
) -> RenderedAssets:
    """Subtitles, chapters and (when the captions time words) words.json; the assets naming them."""
    duration = assets.duration_sec
    words = script.captions.words
    assets = msgspec.structs.replace(assets, chapters=CHAPTERS_FILE, words=WORDS_FILE if words else None)
    (staging / assets.srt).write_text(to_srt(cues), encoding="utf-8")
    (staging / assets.vtt).write_text(to_vtt(cues, word_times=words), encoding="utf-8")
    (staging / CHAPTERS_FILE).write_text(to_chapters_vtt(chapters), encoding="utf-8")
    if words:
        (staging / WORDS_FILE).write_bytes(to_words_json(narration.sentences, duration))
    return assets


def _draw_and_compose(
    job: Render,
    narration: Narration,
    cues: list[Cue],
    chapters: list[Chapter],
    soundtrack_encoder: SoundtrackEncoder,
    fonts: FontBook,
    pictures: Pictures,
    look: Look,
    path: Path,
    work: Path,
    progress: "_ProgressCheckpoint",
) -> None:
    """Draws each slide and encodes it at once (RENDER_SLIDES), then waits for the soundtrack's AAC
    and finishes the MP4 at `path` (COMPOSE_VIDEO); a zooming slide's layers go into `work`.
    With burned-in captions, `cues` are drawn over the slides; the script's transition from one
    slide to the next plays inside the pause that ends each scene (narrate() writes it as silence)."""
    output = job.output
    size = (output.width, output.height)
    captions = job.script.captions
    burn_in = BurnIn(captions_on_screen(cues, captions.highlight), CaptionPainter(size, fonts)) if captions.burn_in else None
    slides = [scene.slide for scene in job.script.scenes]
    progress(Step.RENDER_SLIDES, 0, f"Drawing {len(slides)} slides")
    with composition(
        path,
        scene_starts=narration.scene_starts,
        duration=narration.audio.duration_sec,
        soundtrack=soundtrack_encoder,
        video=VideoFormat(width=output.width, height=output.height, fps=output.fps, crf=output.crf),
        moving={index for index, slide in enumerate(slides) if zooms_in(slide)},
        burn_in=burn_in,
        chapters=chapters,
        transition=job.script.transition,
        pauses=[scene.pause_sec for scene in job.script.scenes],
    ) as mp4:
        for number, slide in enumerate(slides, start=1):
            picture = (
                draw_zoom_layers(slide, pictures[slide.image], size, fonts, work, number, look)
                if slide.image is not None and zooms_in(slide)
                else draw_slide(slide, size, fonts, pictures, look)
            )

            def drew(fraction: float, number: int = number) -> None:
                progress(Step.RENDER_SLIDES, (number - 1 + fraction) / len(slides), f"Drew slide {number}")

            mp4.add_slide(
                picture,
                drew,
            )
        progress(Step.COMPOSE_VIDEO, 0, "Encoding the video")
        mp4.finish(lambda fraction: progress(Step.COMPOSE_VIDEO, fraction, "Encoding the video"))


def _fetch_media(job: Render, storage: AssetStore, folder: Path, progress: "_ProgressCheckpoint") -> dict[str, Path]:
    """A local file for each distinct media file the job uses: its script's pictures and music,
    its theme's font and logo (downloads go into `folder`).

    A missing file fails the job for good, as RENDER_FAILED: the API checked that the script's
    media exist when it was saved, so the file went missing since (or this renderer reads
    another store than the API writes); neither is the script's fault, and no retry brings it back.
    """
    uses = _media_uses(job)
    files = {}
    for done, (media_id, (key, used_by)) in enumerate(uses.items()):
        progress(Step.VALIDATE_SCRIPT, done / len(uses), f"Fetching media file {done + 1} of {len(uses)}")
        try:
            files[media_id] = storage.fetch(key, MEDIA_FILE, folder / media_id)
        except StoredFileMissing as error:
            raise RenderFailure(
                ErrorCode.RENDER_FAILED,
                f"the media {media_id} ({used_by}) is missing from the asset store: {error}",
                retryable=False,
            ) from error
    return files


def _media_uses(job: Render) -> dict[str, tuple[str, str]]:
    """Each media id the job uses, with its asset-store key and what uses it (for messages):
    "the picture of scene 1, 3", "the music", "the theme's logo"."""
    script = job.script
    scenes_of: dict[str, list[int]] = {}
    for number, scene in enumerate(script.scenes, start=1):
        if scene.slide.image is not None:
            scenes_of.setdefault(scene.slide.image, []).append(number)
    uses = {
        media_id: (media_key(job.video_id, media_id), f"the picture of scene {', '.join(map(str, scenes))}")
        for media_id, scenes in scenes_of.items()
    }
    if script.music is not None:
        uses[script.music.media] = (media_key(job.video_id, script.music.media), "the music")
    if job.theme is not None:
        theme = job.theme
        # A theme may name media of another video: its keys say where (the same id is the same bytes anywhere).
        for media_id, key, role in (
            (theme.theme.font, theme.font_key, "the theme's font"),
            (theme.theme.logo, theme.logo_key, "the theme's logo"),
        ):
            if media_id is not None and key is not None:
                uses.setdefault(media_id, (key, role))
    return uses


def _validate(script: Script, output: OutputSpec) -> list[list[str]]:
    """Each scene's sentences; raises INVALID_SCRIPT for what no attempt could render."""
    problems = []
    for dimension, value in (("width", output.width), ("height", output.height)):
        if not (16 <= value <= MAX_DIMENSION and value % 2 == 0):
            problems.append(f"output {dimension} {value} must be even and between 16 and {MAX_DIMENSION}")
    if output.fps is not None and not 1 <= output.fps <= MAX_FPS:
        problems.append(f"output fps {output.fps} must be between 1 and {MAX_FPS}")
    if not 0 <= output.crf <= 51:
        problems.append(f"output crf {output.crf} must be between 0 and 51")
    scene_sentences = [split_sentences(scene.narration) for scene in script.scenes]
    problems += [
        f"scene {number} has no narration to speak" for number, sentences in enumerate(scene_sentences, start=1) if not sentences
    ]
    if problems:
        raise RenderFailure(ErrorCode.INVALID_SCRIPT, "; ".join(problems), retryable=False)
    return scene_sentences


def _load_fonts(font_path: Path | None, name: str | None = None) -> FontBook:
    """The slides' fonts with `font_path` (None: the bundled one) for text; `name` says which font
    it is in the job's error, else its path."""
    fonts = FontBook(font_path)
    try:
        fonts.mixed(12)  # reads its character map too, which finds a font FreeType reads but fontTools cannot
    except OSError as error:
        raise RenderFailure(
            ErrorCode.RENDER_FAILED, f"cannot load {name or f'the slide font {font_path}'}: {error}", retryable=False
        ) from error
    return fonts


def _theme_look(theme: ThemeAssets | None, media: Mapping[str, Path], fonts: FontBook) -> tuple[FontBook, Look]:
    """The fonts and look the job's slides and captions are drawn in: with a theme, its colours, its
    logo and its font (which replaces `fonts`, the renderer's own); without, `fonts` as they are."""
    if theme is None:
        return fonts, PLAIN
    colours = theme.theme
    logo = None if colours.logo is None or colours.logo not in media else Logo.open(media[colours.logo], colours.logo_position)
    if colours.font is not None and colours.font in media:
        fonts = _load_fonts(media[colours.font], f"the theme's font {colours.font}")
    return fonts, Look(theme=colours, logo=logo)


def _narrate_with_fallback(
    job: Render,
    scene_sentences: list[list[str]],
    settings: RendererSettings,
    pcm_path: Path,
    progress: "_ProgressCheckpoint",
    tts_ends: float | None,
) -> tuple[Narration, str]:
    """Narrates with the script's voice (or TTS_ENGINE), else with its fallback voice (the
    script's `voice_fallback`, or the language's TTS_FALLBACK voices in turn) into `pcm_path`
    (each voice starts it over): always the whole video in one voice. Returns the narration and the voice
    that spoke it; the fallback taken and the TTS cache's hits end up in the step's last
    message, which the job keeps as an event. Each voice may retry until its share of what is
    left before `tts_ends` (time.monotonic()), so the ones after it still get their turn."""
    script = job.script
    language = script.primary_language
    pronounce = pronouncer(job.lexicon)
    sentences = [pronounce(sentence) for scene in scene_sentences for sentence in scene]
    chain = voice_chain(settings, language, script.voice, script.fallback_voice)
    failures: list[str] = []
    for position, spec in enumerate(chain):
        usage = UsageCounter()
        try:
            prepared = prepare(spec, settings, sentences, language)
            narration = narrate(
                script, scene_sentences, prepared, pcm_path, progress.cancel,
                lambda done, total: progress(Step.GENERATE_TTS, done / total, f"Synthesized {done} of {total} sentences"),
                pronounce=pronounce, usage=usage,
                deadline=None if tts_ends is None else _share_of_what_is_left(tts_ends, len(chain) - position),
            )  # fmt: skip
        except SynthesisError as error:
            failures.append(f"{spec.text}: {error}")
            if position == len(chain) - 1:
                if len(failures) == 1:
                    raise
                raise SynthesisError("; ".join(failures), retryable=error.retryable) from error
            progress.note(
                Step.GENERATE_TTS,
                # Kept as a job event: masked like the job's error, in case a provider echoed a credential.
                redact(
                    f"{spec.text} cannot narrate this script ({error}); voicing the whole video with {chain[position + 1].text}"
                ),
            )
            continue
        finally:
            progress.tts_usage.append(usage.as_contract(spec.engine))
        counts = prepared.counts
        fallback = f"; fell back from {'; '.join(failures)}" if failures else ""
        progress.note(
            Step.GENERATE_TTS,
            f"Narrated {len(sentences)} sentences with {spec.text} "
            f"(TTS cache: {counts.hits} hits, {counts.misses} misses){fallback}",
        )
        return narration, spec.canonical
    raise SynthesisError("no voice to narrate this script with", retryable=False)  # an empty chain: none configured


def _share_of_what_is_left(ends: float, voices_left: int) -> float:
    """The time.monotonic() by which this voice gives up: an equal share of what is left before
    `ends` for it and each voice after it."""
    now = time.monotonic()
    return now + max(0.0, ends - now) / voices_left


def _failure(error: Exception, step: Step) -> RenderFailure:
    """The failure of an exception no step turned into a RenderFailure itself. What no attempt
    can mend fails for good (INVALID_SCRIPT, a missing or undecodable picture, an unusable font),
    and a SynthesisError says whether it is retryable; the rest is trouble another attempt may
    not meet: the disk or the store, or a crash (an engine, a codec), which SPEC §4 retries too.
    RENDER_MAX_ATTEMPTS ends one that happens every time."""
    message = f"{step.value} failed: {type(error).__name__}: {error}"
    if isinstance(error, SynthesisError):
        return RenderFailure(ErrorCode.TTS_FAILED, message, retryable=error.retryable)
    if isinstance(error, (PictureUnreadable, MusicUnreadable)):
        return RenderFailure(ErrorCode.RENDER_FAILED, message, retryable=False)
    if _is_storage_error(error):
        return RenderFailure(ErrorCode.STORAGE_FAILED, message, retryable=True)
    # An engine that raised something of its own while speaking crashed, as SPEC §4 names it.
    error_code = ErrorCode.TTS_FAILED if step is Step.GENERATE_TTS else ErrorCode.RENDER_FAILED
    return RenderFailure(error_code, message, retryable=True)


def _is_storage_error(error: Exception) -> bool:
    """Disk or store trouble: any failed file operation of ours, an FFmpeg error with a disk
    errno, or a store that failed to take the files."""
    if isinstance(error, av.FFmpegError):
        return error.errno in _DISK_ERRNOS
    return isinstance(error, (OSError, StorageError))


class _ProgressCheckpoint:
    """Overall progress from (step, fraction of the step); also the job's cancel checkpoint."""

    def __init__(self, report: ProgressReport, cancel: threading.Event, tts_usage: list[EngineUsage]) -> None:
        self._report = report
        self.cancel = cancel
        self.tts_usage = tts_usage
        """What the job asked of each TTS engine it tried, in the order tried."""
        self.step = Step.VALIDATE_SCRIPT
        self._reported: tuple[Step, int] | None = None
        self._reported_at = -math.inf
        self._percent = 0
        self._weight_before = dict(zip(STEP_WEIGHTS, accumulate(STEP_WEIGHTS.values(), initial=0)))
        self._total_weight = sum(STEP_WEIGHTS.values())

    def __call__(self, step: Step, fraction: float, message: str) -> None:
        """Raises RenderCanceled if the job was canceled, else reports progress."""
        if self.cancel.is_set():
            raise RenderCanceled
        self.report(step, fraction, message)

    def report(self, step: Step, fraction: float, message: str) -> None:
        """Reports every step change and 100 %; other moves of the whole percent at most every
        MIN_REPORT_INTERVAL_SEC. Each report costs the API a stored event and a fan-out, which
        at one per percent was a quarter of a render's CPU."""
        self.step = step
        done = self._weight_before[step] + STEP_WEIGHTS[step] * min(max(fraction, 0.0), 1.0)
        # The epsilon keeps float error from turning a finished job into 99%.
        self._percent = max(self._percent, math.floor(100 * done / self._total_weight + 1e-9))
        if self._reported == (step, self._percent):
            return
        step_changed = self._reported is None or self._reported[0] != step
        if step_changed or self._percent == 100 or time.monotonic() - self._reported_at >= MIN_REPORT_INTERVAL_SEC:
            self._send(step, message)

    def note(self, step: Step, message: str) -> None:
        """Reports `message` even when the percent did not move: one worth keeping on the job."""
        self.step = step
        self._send(step, message)

    def _send(self, step: Step, message: str) -> None:
        self._reported = (step, self._percent)
        self._reported_at = time.monotonic()
        self._report(step, self._percent, message)
