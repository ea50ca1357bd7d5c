import errno
import re
import threading

import av
import pytest

from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import MOTION_FPS, Transition
from libs.storage.base import STAGING_FOLDER
from libs.storage.local import LocalFolderStore
from services.renderer.pipeline import RenderCanceled, RenderFailure, render_job
from services.renderer.settings import RendererSettings
from services.renderer.tts.base import SynthesisError
from services.renderer.tts.espeak import EspeakEngine
from tests.audio import decoded_audio, loudness_lufs, true_peak_dbtp

from .conftest import make_job, make_script, stream_seconds, video_packets

ESPEAK_SAMPLE_RATE = 22050

NARRATIONS = ("안녕하세요. 시험 영상입니다.", "두 번째 장면입니다! 짧게 말합니다.", "마지막 장면입니다.")
ASSET_FILES = ["chapters.vtt", "subtitles.srt", "subtitles.vtt", "thumbnail.jpg", "video.mp4", "words.json"]


class Recorder:
    def __init__(self, on_report=None) -> None:
        self.reports: list[tuple[Step, int, str]] = []
        self._on_report = on_report

    def __call__(self, step: Step, progress: int, message: str) -> None:
        self.reports.append((step, progress, message))
        if self._on_report:
            self._on_report(step, progress)


def run(tmp_path, job, report=None, cancel=None, **settings_given):
    """Renders `job` into a local store in `tmp_path`, with RendererSettings `settings_given`."""
    settings = RendererSettings(asset_dir=tmp_path, **settings_given)
    return render_job(
        job,
        settings=settings,
        storage=LocalFolderStore(tmp_path),
        report=report or Recorder(),
        cancel=cancel or threading.Event(),
    )


def assert_no_files_left(tmp_path) -> None:
    assert not (tmp_path / "video-1").exists()
    assert not any((tmp_path / STAGING_FOLDER).iterdir())


def test_render_publishes_the_assets_and_reports_rising_progress(tmp_path):
    recorder = Recorder()
    assets = run(tmp_path, make_job(make_script(*NARRATIONS)), recorder)

    published = tmp_path / "video-1" / "job-1"
    assert sorted(path.name for path in published.iterdir()) == ASSET_FILES
    assert assets.sizes == {name: (published / name).stat().st_size for name in ASSET_FILES}
    assert not any((tmp_path / STAGING_FOLDER).iterdir())

    steps = [step for step, _, _ in recorder.reports]
    assert list(dict.fromkeys(steps)) == list(Step)
    percents = [percent for _, percent, _ in recorder.reports]
    assert percents == sorted(percents) and percents[0] < 5
    assert recorder.reports[-1][:2] == (Step.PUBLISH_ASSETS, 100)


def test_rendered_video_matches_the_narration(tmp_path):
    assets = run(tmp_path, make_job(make_script(*NARRATIONS)))
    published = tmp_path / "video-1" / "job-1"
    with av.open(str(published / "video.mp4")) as container:
        assert stream_seconds(container.streams.audio[0]) == pytest.approx(assets.duration_sec, abs=0.05)
        assert stream_seconds(container.streams.video[0]) == pytest.approx(assets.duration_sec, abs=0.05)
        assert (container.streams.video[0].width, container.streams.video[0].height) == (640, 360)
    assert len(video_packets(published / "video.mp4")) == len(NARRATIONS)
    srt = (published / "subtitles.srt").read_text(encoding="utf-8")
    for sentence in ("안녕하세요.", "두 번째 장면입니다!", "마지막 장면입니다."):
        assert sentence in srt


def test_each_scene_lasts_its_narration_plus_its_pause(tmp_path):
    script = make_script("짧은 문장.", "조금 더 긴 두 번째 문장입니다.")
    script.scenes[0].pause_sec = 2.0
    assets = run(tmp_path, make_job(script))

    published = tmp_path / "video-1" / "job-1"
    cue_ends = [cue_end for _, cue_end in srt_times(published / "subtitles.srt")]
    second_slide = video_packets(published / "video.mp4")[1]
    second_slide_start = float(second_slide.pts * second_slide.time_base)
    assert second_slide_start - cue_ends[0] == pytest.approx(2.0, abs=0.002)
    assert assets.duration_sec - cue_ends[-1] == pytest.approx(script.scenes[1].pause_sec, abs=0.002)


def srt_times(path) -> list[tuple[float, float]]:
    def seconds(hours, minutes, secs, millis) -> float:
        return int(hours) * 3600 + int(minutes) * 60 + int(secs) + int(millis) / 1000

    pattern = r"^(\d+):(\d+):(\d+),(\d+) --> (\d+):(\d+):(\d+),(\d+)$"
    return [(seconds(*match[:4]), seconds(*match[4:])) for match in re.findall(pattern, path.read_text(encoding="utf-8"), re.M)]


def test_cancel_during_tts_raises_and_leaves_no_files(tmp_path):
    cancel = threading.Event()

    def cancel_in_tts(step, progress):
        if step is Step.GENERATE_TTS and progress > 1:
            cancel.set()

    recorder = Recorder(cancel_in_tts)
    with pytest.raises(RenderCanceled):
        run(tmp_path, make_job(make_script(*NARRATIONS)), recorder, cancel)
    assert recorder.reports[-1][0] is Step.GENERATE_TTS
    assert_no_files_left(tmp_path)


def test_cancel_during_encoding_raises_and_leaves_no_files(tmp_path):
    cancel = threading.Event()
    recorder = Recorder(lambda step, progress: step is Step.COMPOSE_VIDEO and cancel.set())
    with pytest.raises(RenderCanceled):
        run(tmp_path, make_job(make_script(*NARRATIONS)), recorder, cancel)
    assert_no_files_left(tmp_path)


@pytest.mark.parametrize("narration", [" ", "\n\t ", "\u200b\u200d"])
def test_blank_narration_is_an_invalid_script(tmp_path, narration):
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("정상 장면입니다.", narration)))
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.INVALID_SCRIPT, False)
    assert "scene 2" in str(failure.value)


def test_odd_output_size_is_an_invalid_script(tmp_path):
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("안녕하세요."), width=641))
    assert failure.value.error_code is ErrorCode.INVALID_SCRIPT


def test_hostile_text_renders(tmp_path):
    hostile = "😀👨‍👩‍👧 \x07 שלום \u200b " + "가" * 300 + ". 끝."
    script = make_script(hostile, language="ko")
    script.scenes[0].slide.title = hostile[:200]
    script.scenes[0].slide.bullets = [hostile[:300]] * 12
    assets = run(tmp_path, make_job(script))
    assert assets.duration_sec > 1


@pytest.mark.parametrize("raised", [SynthesisError("engine died"), RuntimeError("the engine's library gave up")])
def test_an_engine_that_crashes_while_speaking_is_a_retryable_tts_failure(tmp_path, monkeypatch, raised):
    """SPEC §4 retries a TTS engine crash, whatever the engine raised."""

    def crash(self, sentences, language, voice, cancel, on_sentence=None, **options):
        raise raised

    monkeypatch.setattr(EspeakEngine, "synthesize", crash)
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("안녕하세요.")), tts_cache_max_mb=0)  # a cached sentence would not reach the engine
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.TTS_FAILED, True)
    assert str(raised) in str(failure.value) and (
        isinstance(raised, SynthesisError) or type(raised).__name__ in str(failure.value)
    )
    assert_no_files_left(tmp_path)


def test_unknown_tts_engine_fails_for_good(tmp_path):
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("안녕하세요.")), tts_engine="no-such-engine")
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.TTS_FAILED, False)


def test_disk_error_while_publishing_is_a_retryable_storage_failure(tmp_path, monkeypatch):
    def disk_full(self, staging_dir, key):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalFolderStore, "publish", disk_full)
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("안녕하세요.")))
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.STORAGE_FAILED, True)
    assert_no_files_left(tmp_path)


def test_a_crash_no_step_expected_is_a_retryable_render_failure(tmp_path, monkeypatch):
    """Only what no attempt can mend fails for good; the attempts limit ends a crash that repeats."""

    def crash(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("services.renderer.pipeline.to_srt", crash)
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("안녕하세요.")))
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.RENDER_FAILED, True)
    assert str(failure.value).startswith("GENERATE_SUBTITLES failed: ZeroDivisionError")
    assert_no_files_left(tmp_path)


def test_unreadable_font_override_fails_for_good(tmp_path):
    not_a_font = tmp_path / "broken.ttf"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(RenderFailure) as failure:
        run(tmp_path, make_job(make_script("안녕하세요.")), font_path=not_a_font)
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.RENDER_FAILED, False)


def test_the_soundtrack_is_at_broadcast_loudness_in_the_published_video(tmp_path):
    """SPEC §8.3: -16 LUFS (±1 LU) and at most -1 dBTP, measured on the MP4 as a viewer hears it."""
    run(tmp_path, make_job(make_script(*NARRATIONS)))
    samples, rate = decoded_audio(tmp_path / "video-1" / "job-1" / "video.mp4")
    assert loudness_lufs(samples, rate) == pytest.approx(-16, abs=1)
    assert true_peak_dbtp(samples, rate) <= -1


def test_a_voice_that_fails_midway_leaves_nothing_of_its_audio_in_the_video(tmp_path, monkeypatch):
    speak = EspeakEngine.synthesize
    scenes_spoken_by_default_voice = []

    def fail_on_second_scene(self, sentences, language, voice, cancel, on_sentence=None, **options):
        if voice is None:
            scenes_spoken_by_default_voice.append(sentences)
            if len(scenes_spoken_by_default_voice) == 2:
                raise SynthesisError("engine died")
        return speak(self, sentences, language, voice, cancel, on_sentence, **options)

    monkeypatch.setattr(EspeakEngine, "synthesize", fail_on_second_scene)
    settings = RendererSettings(asset_dir=tmp_path, tts_cache_max_mb=0, tts_fallback="ko:espeak>espeak#en")
    # A first scene far longer than the fallback's whole narration: its audio left in would show.
    script = make_script("아주 긴 첫 장면입니다. " * 8, "두 번째 장면.", language="ko")
    assets = render_job(
        make_job(script), settings=settings, storage=LocalFolderStore(tmp_path), report=Recorder(), cancel=threading.Event()
    )

    assert len(scenes_spoken_by_default_voice) == 2
    with av.open(str(tmp_path / "video-1" / "job-1" / "video.mp4")) as container:
        assert stream_seconds(container.streams.audio[0]) == pytest.approx(assets.duration_sec, abs=0.05)
        assert stream_seconds(container.streams.video[0]) == pytest.approx(assets.duration_sec, abs=0.05)


def test_cancel_while_drawing_slides_stops_the_aac_thread_and_leaves_no_files(tmp_path):
    cancel = threading.Event()
    recorder = Recorder(lambda step, progress: step is Step.RENDER_SLIDES and cancel.set())
    with pytest.raises(RenderCanceled):
        run(tmp_path, make_job(make_script(*NARRATIONS)), recorder, cancel)
    assert recorder.reports[-1][0] is Step.RENDER_SLIDES
    assert not [thread for thread in threading.enumerate() if thread.name == "aac-encoder"]
    assert_no_files_left(tmp_path)


def test_a_fade_plays_inside_the_pause_without_moving_the_narration_or_the_subtitles(tmp_path):
    published = {}
    for kind in ("cut", "fade"):
        script = make_script("짧은 문장.", "두 번째 문장입니다.")
        script.scenes[0].pause_sec = 1.0
        script.transition = Transition(type=kind, duration_sec=0.4)
        folder = tmp_path / kind
        assets = run(folder, make_job(script))
        published[kind] = (assets.duration_sec, folder / "video-1" / "job-1")
    (cut_sec, cut), (fade_sec, fade) = published["cut"], published["fade"]
    assert fade_sec == cut_sec
    assert (fade / "subtitles.vtt").read_text(encoding="utf-8") == (cut / "subtitles.vtt").read_text(encoding="utf-8")
    starts = [float(packet.pts * packet.time_base) for packet in video_packets(cut / "video.mp4")]
    fade_times = [float(packet.pts * packet.time_base) for packet in video_packets(fade / "video.mp4")]
    fading = [time for time in fade_times if all(abs(time - start) > 0.001 for start in starts)]
    assert len(fading) == round(0.4 * MOTION_FPS)
    assert all(starts[1] - 0.4 - 0.001 <= time < starts[1] for time in fading)
