"""What a job keeps from its creation and its end, on a real database (SQLite, or PostgreSQL
with `--job-store`): the lexicon as it was when the job was created (the video's merged with
its script's, the script's winning), the voice that spoke it, and a renderer's error text
without the credentials it may echo."""

import json

import pytest
from sqlalchemy import delete, func, select

from libs.contracts.bus import JobFinished, Outcome, RenderedAssets
from libs.contracts.codes import ErrorCode
from libs.contracts.script import LexiconEntry, Scene, Script
from services.api.db.models import JobLexiconRow, JobRow, WebhookDeliveryRow
from services.api.jobs.lifecycle import JobLifecycle
from services.api.jobs.store import JobStore
from services.api.lexicon.store import replace_lexicon, video_lexicon
from services.api.scripts.store import ScriptStore
from services.api.settings import Settings
from services.api.webhooks.outbox import WebhookOutbox

pytestmark = pytest.mark.anyio
ESPEAK = {"espeak"}
API = LexiconEntry(term="API", say="에이피아이")


def script(lexicon: list[LexiconEntry] | None = None) -> Script:
    return Script(title="t", scenes=[Scene(narration="API를 씁니다.")], lexicon=lexicon)


@pytest.fixture
async def jobs(db, tmp_path):
    settings = Settings(
        db_path=tmp_path / "jobs.db", webhook_urls=("http://receiver.test/hook",), public_base_url="http://api.test"
    )
    yield JobLifecycle(
        db, lambda transition: None, max_attempts=1, attempt_timeout=lambda script: 60.0, outbox=WebhookOutbox(settings)
    )


async def approved(db, video_id: str, body: Script) -> None:
    scripts = ScriptStore(db)
    await scripts.put(video_id, "s", body, "tester")
    await scripts.approve(video_id, "s")


async def job_lexicon_rows(db) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(JobLexiconRow))


async def test_a_job_speaks_by_the_lexicon_its_video_had_when_it_was_created(db, jobs):
    await approved(db, "v", script())
    await replace_lexicon(db, "v", [API], "tester")
    await jobs.create("v", "s", "tester")
    later = [LexiconEntry(term="API", say="아피"), LexiconEntry(term="URL", say="유알엘")]
    await replace_lexicon(db, "v", later, "tester")

    work = await jobs.claim("w1", ESPEAK)

    assert work.lexicon == [API]
    assert await video_lexicon(db, "v") == later, "the video's own lexicon is the new one"


async def test_the_scripts_entries_join_the_videos_and_win_for_the_same_term(db, jobs):
    await approved(db, "v", script([LexiconEntry(term="api", say="에이 피 아이"), LexiconEntry(term="SQL", say="시퀄")]))
    await replace_lexicon(db, "v", [API, LexiconEntry(term="URL", say="유알엘")], "tester")
    await jobs.create("v", "s", "tester")

    work = await jobs.claim("w1", ESPEAK)

    assert [(entry.term, entry.say) for entry in work.lexicon] == [("URL", "유알엘"), ("api", "에이 피 아이"), ("SQL", "시퀄")]


async def test_a_job_without_any_lexicon_stores_none_and_renders_with_none(db, jobs):
    await approved(db, "v", script())
    await replace_lexicon(db, "v", [], "tester")  # cleared: stored, but empty
    await jobs.create("v", "s", "tester")

    work = await jobs.claim("w1", ESPEAK)

    assert work.lexicon == [] and await job_lexicon_rows(db) == 0


async def test_a_jobs_lexicon_goes_with_the_job(db, jobs):
    await approved(db, "v", script([API]))
    job, _ = await jobs.create("v", "s", "tester")
    assert await job_lexicon_rows(db) == 1
    async with db.write_session() as session, session.begin():
        await session.execute(delete(JobRow).where(JobRow.job_id == job.job_id))  # as the TTL sweep does
    assert await job_lexicon_rows(db) == 0


async def test_the_voice_that_spoke_is_kept_with_the_job_and_told_to_webhooks(db, jobs):
    await approved(db, "v", script())
    job, _ = await jobs.create("v", "s", "tester")
    await jobs.claim("w1", ESPEAK)
    assert (await JobStore(db).find(job.job_id)).voice_used is None

    spoken = RenderedAssets(duration_sec=1.0, voice_used="espeak#ko")
    finish = await jobs.finish(JobFinished(job_id=job.job_id, attempt=1, outcome=Outcome.SUCCEEDED, assets=spoken), "w1")

    assert finish.job.voice_used == "espeak#ko"
    assert (await JobStore(db).published("v")).voice_used == "espeak#ko"
    async with db.read_session() as session:
        [payload] = await session.scalars(select(WebhookDeliveryRow.payload))
    assert json.loads(payload)["data"]["voice_used"] == "espeak#ko"


async def test_credentials_in_a_renderers_error_are_masked_before_anyone_reads_them(db, jobs):
    await approved(db, "v", script())
    job, _ = await jobs.create("v", "s", "tester")
    await jobs.claim("w1", ESPEAK)
    leaked = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    failed = JobFinished(
        job_id=job.job_id,
        attempt=1,
        outcome=Outcome.FAILED,
        error_code=ErrorCode.TTS_FAILED,
        error_message=f"azure: 401 from https://tts.test/v1?token=s3cr3t (Authorization: Bearer {leaked})",
    )

    ended = (await jobs.finish(failed, "w1")).job

    assert ended.status == "FAILED" and ended.error_message.startswith("azure: 401")
    assert "s3cr3t" not in ended.error_message and leaked not in ended.error_message
    _, [attempt] = await JobStore(db).get_with_attempts("v", job.job_id)
    assert "s3cr3t" not in attempt.error_message and leaked not in attempt.error_message
