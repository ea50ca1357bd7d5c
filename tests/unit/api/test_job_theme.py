"""What a job keeps of its script's theme, on a real database (SQLite, or PostgreSQL with
`--job-store`): the theme as it was when the job was created, its font and logo resolved to
the asset-store keys of the videos that hold them, whatever the theme becomes before a worker
claims the job; and the TTL sweep keeping the media that themes, and such jobs, name."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from libs.contracts.script import Scene, Script
from libs.contracts.theme import Theme, ThemeAssets
from libs.storage import media_key
from libs.storage.local import LocalFolderStore
from services.api.db.models import JobRow, JobThemeRow, MediaRow, ThemeRow, utc_now
from services.api.errors import InvalidField
from services.api.jobs.lifecycle import JobLifecycle
from services.api.ops.retention import expire_media
from services.api.scripts.store import ScriptStore
from services.api.themes.store import replace_theme

pytestmark = pytest.mark.anyio
ESPEAK = {"espeak"}
FONT, LOGO, OTHER_LOGO, STRAY = (f"med-{digit * 32}" for digit in "1234")
TTL = timedelta(days=30)


@pytest.fixture
async def jobs(db):
    yield JobLifecycle(db, lambda transition: None, max_attempts=1, attempt_timeout=lambda script: 60.0)


async def uploaded(db, video_id: str, media_id: str, kind: str, *, age: timedelta = timedelta()) -> None:
    """A media row as an upload leaves it (its file plays no part here)."""
    async with db.write_session() as session, session.begin():
        session.add(
            MediaRow(
                video_id=video_id,
                media_id=media_id,
                kind=kind,
                sha256="0" * 64,
                content_type="font/ttf" if kind == "font" else "image/png",
                covers_hangul=True if kind == "font" else None,
                bytes=1,
                created_by="tester",
                created_at=utc_now() - age,
            )
        )


async def themed_job(db, jobs: JobLifecycle, video_id: str, theme_id: str = "acme") -> JobRow:
    scripts = ScriptStore(db)
    await scripts.put(video_id, "s", Script(title="t", scenes=[Scene(narration="안녕하세요.")], theme=theme_id), "tester")
    await scripts.approve(video_id, "s")
    job, created = await jobs.create(video_id, "s", "tester")
    assert created
    return job


async def job_theme_rows(db) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(JobThemeRow))


async def test_a_job_is_drawn_with_the_theme_as_it_was_when_the_job_was_created(db, jobs):
    await uploaded(db, "brand", FONT, "font")
    await uploaded(db, "brand", LOGO, "image")
    await uploaded(db, "v", LOGO, "image")  # the same bytes in a second video: either key will do
    await uploaded(db, "brand", OTHER_LOGO, "image")
    first = Theme(background="#000000", accent="#ff0000", font=FONT, logo=LOGO, logo_position="bottom-left")
    await replace_theme(db, "acme", first, "tester")
    await themed_job(db, jobs, "v")
    await replace_theme(db, "acme", Theme(accent="#00ff00", logo=OTHER_LOGO), "tester")  # while the job waits

    work = await jobs.claim("w1", ESPEAK)

    assert work.theme == ThemeAssets(theme=first, font_key=media_key("brand", FONT), logo_key=media_key("brand", LOGO))
    await themed_job(db, jobs, "w")
    later = await jobs.claim("w2", ESPEAK)
    assert later.theme == ThemeAssets(theme=Theme(accent="#00ff00", logo=OTHER_LOGO), logo_key=media_key("brand", OTHER_LOGO))


async def test_a_job_whose_script_names_no_theme_has_none_and_no_row(db, jobs):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", Script(title="t", scenes=[Scene(narration="hello")]), "tester")
    await scripts.approve("v", "s")
    await jobs.create("v", "s", "tester")

    work = await jobs.claim("w1", ESPEAK)

    assert work.theme is None and await job_theme_rows(db) == 0


async def test_a_jobs_theme_goes_with_the_job(db, jobs):
    await replace_theme(db, "acme", Theme(), "tester")
    job = await themed_job(db, jobs, "v")
    assert await job_theme_rows(db) == 1
    async with db.write_session() as session, session.begin():
        await session.execute(delete(JobRow).where(JobRow.job_id == job.job_id))  # as the TTL sweep does
    assert await job_theme_rows(db) == 0


async def test_a_render_of_a_script_whose_theme_is_gone_is_refused_naming_the_theme(db, jobs):
    await replace_theme(db, "acme", Theme(), "tester")
    scripts = ScriptStore(db)
    await scripts.put("v", "s", Script(title="t", scenes=[Scene(narration="hello")], theme="acme"), "tester")
    await scripts.approve("v", "s")
    async with db.write_session() as session, session.begin():
        await session.execute(delete(ThemeRow))  # by hand: the API deletes no theme

    with pytest.raises(InvalidField) as refused:
        await jobs.create("v", "s", "tester")

    assert refused.value.detail["errors"][0]["field"] == "$.theme" and "no theme 'acme'" in refused.value.message
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow)) == 0


async def test_the_ttl_sweep_keeps_what_themes_and_waiting_jobs_name_in_every_video(db, jobs, tmp_path):
    old = TTL + timedelta(days=1)
    for video_id, media_id, kind in (("brand", FONT, "font"), ("other", FONT, "font"), ("brand", LOGO, "image")):
        await uploaded(db, video_id, media_id, kind, age=old)
    await uploaded(db, "brand", STRAY, "image", age=old)
    await replace_theme(db, "acme", Theme(font=FONT, logo=LOGO), "tester")
    await themed_job(db, jobs, "v")
    await replace_theme(db, "acme", Theme(font=FONT), "tester")  # the waiting job still has the logo

    assert await expire_media(db, LocalFolderStore(tmp_path / "assets"), TTL) == [("brand", STRAY)]
