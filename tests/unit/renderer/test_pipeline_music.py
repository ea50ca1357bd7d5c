"""A music bed through the whole pipeline: fetched from the asset store the API published it to,
looped under the narration, ducked while it speaks, and the mix published at broadcast loudness."""

import itertools
import os
import threading

import msgspec
import pytest

from libs.contracts.codes import ErrorCode
from libs.contracts.script import Music, Scene, Script
from libs.storage import MEDIA_FILE, AssetStore, media_key
from libs.storage.local import LocalFolderStore
from services.renderer.music import ATTACK_SEC, RELEASE_SEC
from services.renderer.pipeline import RenderFailure, render_job
from services.renderer.settings import RendererSettings
from tests.audio import decoded_audio, level_db, loudness_lufs, true_peak_dbtp, write_tone_file

from .conftest import make_job

TONE_HZ = 55.0
"""Below a voice's lowest harmonic: the bed's level can be read under the narration."""
PAUSE_SEC = 3.0
NARRATIONS = (
    "오늘은 새로운 기능을 천천히 소개하겠습니다. 먼저 화면 구성을 살펴봅니다.",
    "다음으로 설정 메뉴를 열고 원하는 항목을 고릅니다. 저장하면 바로 적용됩니다.",
    "마지막으로 결과를 확인하고 팀과 공유합니다. 감사합니다.",
)


def publish_music(store: AssetStore, tmp_path, seconds: float) -> str:
    """What the API does with an audio upload: its bytes as MEDIA_FILE under the media key."""
    media_id = f"med-{os.urandom(16).hex()}"
    staging = store.staging(media_key("video-1", media_id))
    write_tone_file(tmp_path / "bed.flac", seconds, frequency=TONE_HZ)
    (staging / MEDIA_FILE).write_bytes((tmp_path / "bed.flac").read_bytes())
    store.publish(staging, media_key("video-1", media_id))
    return media_id


def render(store: AssetStore, tmp_path, music: Music):
    script = Script(
        title="음악",
        scenes=[Scene(narration=text, pause_sec=PAUSE_SEC) for text in NARRATIONS],
        music=music,
    )
    settings = RendererSettings(asset_dir=tmp_path)
    return render_job(make_job(script), settings=settings, storage=store, report=lambda *_: None, cancel=threading.Event())


def speech_stretches(published) -> list[tuple[float, float]]:
    """Each scene's first word start and last word end, from the published words.json."""
    words = msgspec.json.decode((published / "words.json").read_bytes())
    scenes: dict[int, list[float]] = {}
    for word in words:
        scenes.setdefault(word["scene"], []).extend([word["start"], word["end"]])
    return [(min(times), max(times)) for _, times in sorted(scenes.items())]


def test_the_bed_is_ducked_by_duck_db_under_the_narration_and_the_mix_is_at_broadcast_loudness(tmp_path):
    store = LocalFolderStore(tmp_path)
    # Longer than the video: a loop's seam would shift the tone's phase inside a window
    # (looping has tests of its own, in test_music.py).
    media_id = publish_music(store, tmp_path, 60.0)
    music = Music(media=media_id, volume_db=-18, duck_db=-12, fade_sec=0.5)
    render(store, tmp_path, music)

    published = tmp_path / "video-1" / "job-1"
    samples, rate = decoded_audio(published / "video.mp4")
    assert loudness_lufs(samples, rate) == pytest.approx(-16, abs=1)
    assert true_peak_dbtp(samples, rate) <= -1

    def tone_between(start: float, end: float) -> float:
        return level_db(samples[round(start * rate) : round(end * rate)], rate, TONE_HZ)

    stretches = speech_stretches(published)
    assert len(stretches) == len(NARRATIONS)
    under = [tone_between(start + 0.3, end - 0.3) for start, end in stretches]
    pauses = [
        tone_between(end + RELEASE_SEC + 0.2, next_start - ATTACK_SEC - 0.2)
        for (_, end), (next_start, _) in itertools.pairwise(stretches)
    ]
    last_end = stretches[-1][1]
    pauses.append(tone_between(last_end + RELEASE_SEC + 0.2, last_end + PAUSE_SEC - music.fade_sec - 0.1))
    for level in under:
        for pause in pauses:
            assert level - pause == pytest.approx(music.duck_db, abs=1.5)


def test_a_bed_gone_from_the_asset_store_fails_the_job_for_good(tmp_path):
    with pytest.raises(RenderFailure) as failure:
        render(LocalFolderStore(tmp_path), tmp_path, Music(media="med-" + "a" * 32))
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.RENDER_FAILED, False)
    assert "the music" in str(failure.value)
