"""Webhook pieces: Standard Webhooks signatures, the generated secret, the retry schedule,
and outbox rows written by the transition that ends a job (real SQLite)."""

import json
import random
import stat
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import select

from libs.contracts.bus import JobFinished, Outcome, RenderedAssets
from libs.contracts.codes import ErrorCode
from libs.contracts.script import Scene, Script
from services.api.db.models import WebhookDeliveryRow, utc_now
from services.api.jobs.lifecycle import JobLifecycle
from services.api.scripts.store import ScriptStore
from services.api.settings import Settings
from services.api.webhooks.backoff import DELIVERY_WINDOW, MAX_DELAY_SEC, next_attempt_at
from services.api.webhooks.outbox import WebhookOutbox
from services.api.webhooks.signing import SECRET_FILE, load_or_create_webhook_secret, secret_key, signature

URLS = ("http://receiver.test/a", "http://receiver.test/b")


def test_signature_matches_the_standard_webhooks_reference_vector():
    # The example in the Standard Webhooks specification.
    key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signed = signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secret_is_generated_once_in_whsec_format_and_private(tmp_path):
    key = load_or_create_webhook_secret(None, tmp_path)
    stored = (tmp_path / SECRET_FILE).read_text()
    assert stored.startswith("whsec_") and len(key) == 32
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert load_or_create_webhook_secret(None, tmp_path) == key
    assert load_or_create_webhook_secret("whsec_AAAA", tmp_path) == b"\0\0\0"


def test_a_secret_without_the_whsec_prefix_is_refused():
    with pytest.raises(ValueError, match="whsec_"):
        secret_key("plain-secret")


def test_retries_double_up_to_an_hour_and_stop_after_a_day():
    created = utc_now()
    rng = random.Random(7)
    delays = [(next_attempt_at(created, failed, created, 5.0, rng=rng) - created).total_seconds() for failed in range(1, 14)]
    for failed, delay in enumerate(delays, start=1):
        expected = min(MAX_DELAY_SEC, 5.0 * 2 ** (failed - 1))
        assert 0.8 * expected <= delay <= 1.2 * expected, (failed, delay)
    near_the_end = created + DELIVERY_WINDOW - timedelta(minutes=1)
    assert next_attempt_at(created, 20, near_the_end, 5.0) is None


SCRIPT = Script(title="t", scenes=[Scene(narration="안녕하세요.")])


@pytest.fixture
async def jobs(db, tmp_path):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", SCRIPT, "tester")
    await scripts.approve("v", "s")
    settings = Settings(db_path=tmp_path / "jobs.db", webhook_urls=URLS, public_base_url="http://api.test")
    yield JobLifecycle(
        db, lambda transition: None, max_attempts=1, attempt_timeout=lambda script: 60.0, outbox=WebhookOutbox(settings)
    )


async def outbox_rows(db) -> list[WebhookDeliveryRow]:
    async with db.read_session() as session:
        return list(await session.scalars(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.url)))


@pytest.mark.anyio
async def test_only_terminal_transitions_enqueue_one_event_per_url(db, jobs):
    job, _ = await jobs.create("v", "s", "tester")
    assert await jobs.claim("w1", {"espeak"}) is not None
    assert await outbox_rows(db) == [], "PENDING and RUNNING are not webhook events"
    finished = JobFinished(job_id=job.job_id, attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=2.5))
    assert (await jobs.finish(finished, "w1")).job.status == "SUCCEEDED"
    rows = await outbox_rows(db)
    assert [row.url for row in rows] == list(URLS)
    assert len({row.webhook_id for row in rows}) == 2 and all(row.webhook_id.startswith("msg_") for row in rows)
    assert all(row.status == "PENDING" and row.attempts == 0 and row.event_type == "render_job.succeeded" for row in rows)
    event = json.loads(rows[0].payload)
    assert event["type"] == "render_job.succeeded"
    assert event["data"]["job_id"] == job.job_id and event["data"]["status"] == "SUCCEEDED"
    assert event["data"]["assets"]["video_url"] == f"http://api.test/assets/v/{job.job_id}/video.mp4"
    assert event["data"]["assets"]["duration_sec"] == 2.5


@pytest.mark.anyio
async def test_failed_and_canceled_jobs_are_announced_too(db, jobs):
    failed, _ = await jobs.create("v", "s", "tester")
    await jobs.claim("w1", {"espeak"})
    await jobs.finish(
        JobFinished(
            job_id=failed.job_id,
            attempt=1,
            outcome=Outcome.FAILED,
            retryable=False,
            error_code=ErrorCode.INVALID_SCRIPT,
            error_message="no",
        ),
        "w1",
    )
    canceled, _ = await jobs.create("v", "s", "tester")
    await jobs.cancel("v", canceled.job_id)
    types = {(row.job_id, row.event_type) for row in await outbox_rows(db)}
    assert types == {(failed.job_id, "render_job.failed"), (canceled.job_id, "render_job.canceled")}
    failed_event = msgspec.json.decode(next(r.payload for r in await outbox_rows(db) if r.job_id == failed.job_id))
    assert failed_event["data"]["error_code"] == "INVALID_SCRIPT"
