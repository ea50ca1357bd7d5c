"""`GET /api/v2/videos` from a real SQLite file: a video is summarized from its scripts, its
newest job and its published set, most recently edited first, one page at a time."""

import pytest

from libs.contracts.bus import JobFinished, Outcome, RenderedAssets
from libs.contracts.script import Scene, Script
from services.api.jobs.lifecycle import JobLifecycle
from services.api.scripts.store import ScriptStore
from services.api.videos.store import page_of_videos

pytestmark = pytest.mark.anyio
SCRIPT = Script(title="t", scenes=[Scene(narration="안녕하세요.")])


async def test_no_scripts_means_no_videos(db):
    assert await page_of_videos(db, limit=20, offset=0) == ([], 0)


async def test_videos_are_summarized_newest_edit_first_with_their_newest_job(db):
    scripts, jobs = (
        ScriptStore(db),
        JobLifecycle(db, lambda transition: None, max_attempts=3, attempt_timeout=lambda script: 60.0),
    )
    for script_id in ("s1", "s2"):
        await scripts.put("older", script_id, SCRIPT, "tester")
    await scripts.approve("older", "s1")
    await scripts.put("newer", "s1", SCRIPT, "tester")
    await scripts.approve("newer", "s1")
    canceled, _ = await jobs.create("newer", "s1", "tester")
    await jobs.cancel("newer", canceled.job_id)
    rendered, _ = await jobs.create("newer", "s1", "tester")
    await jobs.claim("w1", {"espeak"})
    await jobs.finish(
        JobFinished(job_id=rendered.job_id, attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0)), "w1"
    )

    videos, total = await page_of_videos(db, limit=20, offset=0)

    assert total == 2
    newer, older = videos
    assert (newer.video_id, newer.script_count, newer.approved_script_count, newer.published) == ("newer", 1, 1, True)
    assert newer.latest_job.job_id == rendered.job_id and newer.latest_job.status == "SUCCEEDED"
    assert (older.video_id, older.script_count, older.approved_script_count, older.published) == ("older", 2, 1, False)
    assert older.latest_job is None
    assert newer.updated_at > older.updated_at and newer.updated_at.tzinfo is not None


async def test_pages_split_the_videos_and_keep_the_total(db):
    scripts = ScriptStore(db)
    for video_id in ("a", "b", "c"):
        await scripts.put(video_id, "s", SCRIPT, "tester")
    first, total = await page_of_videos(db, limit=2, offset=0)
    rest, same_total = await page_of_videos(db, limit=2, offset=2)
    assert total == same_total == 3
    assert [video.video_id for video in first + rest] == ["c", "b", "a"]
