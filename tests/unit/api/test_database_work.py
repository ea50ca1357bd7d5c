"""`Database.write` and `Database.read`, a whole transaction as one function of a connection (the
create and the job detail take this form), on either job store: the work commits when it
returns and leaves nothing when it raises, and the connection serves the next one either way."""

import pytest
from sqlalchemy import func, insert, select

from services.api.db.models import VideoLexiconRow, utc_now

pytestmark = pytest.mark.anyio


def _add(video_id: str):
    def work(connection):
        connection.execute(
            insert(VideoLexiconRow).values(video_id=video_id, entries=b"[]", updated_by="tester", updated_at=utc_now())
        )
        return video_id

    return work


def _count(connection) -> int:
    return connection.scalar(select(func.count()).select_from(VideoLexiconRow))


class Refused(Exception):
    pass


def _add_then_fail(connection) -> None:
    _add("half-written")(connection)
    raise Refused


async def test_work_commits_when_it_returns_and_leaves_nothing_when_it_raises(db):
    assert await db.write(_add("v1")) == "v1"
    with pytest.raises(Refused):
        await db.write(_add_then_fail)
    assert await db.write(_add("v2")) == "v2"
    assert await db.read(_count) == 2
    async with db.read_session() as session:  # what the async engine sees, too
        assert set(await session.scalars(select(VideoLexiconRow.video_id))) == {"v1", "v2"}
