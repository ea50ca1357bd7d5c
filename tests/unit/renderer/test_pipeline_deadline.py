"""A cloud voice's retries stay inside the attempt's deadline (`Render.deadline_sec`): a provider
that keeps failing ends the job with its own answer, or lets the fallback voice speak, before the
API would time the attempt out. Real pipeline, real espeak, the local fake of Google's API."""

import dataclasses
import threading
import time

import msgspec
import pytest

from libs.contracts.codes import ErrorCode
from libs.storage.local import LocalFolderStore
from services.renderer.pipeline import RenderFailure, render_job
from tests.cloud_tts_fake import FakeCloudTts, Fault

from .conftest import make_job, make_script

DEADLINE_SEC = 12.0
REQUEST_TIMEOUT_SEC = 20.0
"""One request's timeout: without the attempt's deadline, retries would go on within the default
budget of two of them (40 s; backing off up to 8 s, they give up after 20 s or more), far past
the attempt's 12 s. The margins are seconds of sleeping, not of computing."""


@pytest.fixture
def provider_down():
    with FakeCloudTts() as fake:
        fake.always = Fault(status=503, body=b"backend unavailable")
        yield fake


def render(tmp_path, fake, script):
    settings = dataclasses.replace(
        fake.settings(tts_request_timeout_sec=REQUEST_TIMEOUT_SEC, tts_circuit_failures=1000),
        asset_dir=tmp_path,
        tts_cache_max_mb=0,
    )
    job = msgspec.structs.replace(make_job(script), deadline_sec=DEADLINE_SEC)
    started = time.monotonic()
    try:
        return render_job(
            job, settings=settings, storage=LocalFolderStore(tmp_path), report=lambda *report: None, cancel=threading.Event()
        ), time.monotonic() - started
    except RenderFailure as failure:
        return failure, time.monotonic() - started


def test_a_provider_that_keeps_failing_fails_the_job_with_its_answer_before_the_deadline(tmp_path, provider_down):
    failure, took = render(tmp_path, provider_down, make_script("구글이 쉬는 날입니다.", voice="google#ko-KR-Neural2-A"))
    assert isinstance(failure, RenderFailure) and failure.error_code is ErrorCode.TTS_FAILED
    assert "503" in str(failure)
    assert took < DEADLINE_SEC, "the retries ran past the attempt's deadline"
    assert len(provider_down.synthesis_requests()) > 1, "it did retry while there was time"


def test_the_fallback_voice_gets_its_turn_before_the_deadline(tmp_path, provider_down):
    script = make_script("구글이 쉬는 날입니다.", voice="google#ko-KR-Neural2-A")
    script.voice_fallback = "espeak"
    assets, took = render(tmp_path, provider_down, script)
    assert not isinstance(assets, RenderFailure), assets
    assert assets.voice_used == "espeak"
    assert took < DEADLINE_SEC, "the first voice's retries left the fallback no time"
    assert len(provider_down.synthesis_requests()) > 1, "the first voice did retry within its share"
