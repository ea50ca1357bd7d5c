"""The job state machine's table is the only way a status changes: every move outside it is
refused before anything is written."""

import itertools

import pytest
from sqlalchemy import func, select

from libs.contracts.codes import JobStatus
from libs.contracts.script import Scene, Script
from services.api.db.models import JobEventRow
from services.api.jobs.states import TRANSITIONS, IllegalTransition, check_transition
from services.api.jobs.store import JobStore
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
ILLEGAL = [pair for pair in itertools.product(JobStatus, repeat=2) if pair not in TRANSITIONS]


def test_the_table_is_the_design_diagram():
    terminal = [status for status in JobStatus if status.is_terminal]
    assert all((before, after) not in TRANSITIONS for before in terminal for after in JobStatus), "a terminal state moved"
    assert len(ILLEGAL) == len(JobStatus) ** 2 - 8


@pytest.mark.parametrize(("before", "after"), ILLEGAL, ids=lambda status: status.value)
async def test_every_illegal_transition_is_refused_and_writes_nothing(db, before, after):
    with pytest.raises(IllegalTransition):
        check_transition(before, after)
    scripts = ScriptStore(db)
    await scripts.put("v", "s", Script(title="t", scenes=[Scene(narration="안녕.")]), "tester")
    await scripts.approve("v", "s")
    jobs = JobStore(db, max_attempts=3, attempt_timeout=lambda script: 60.0)
    job, _, _ = await jobs.create("v", "s", "tester")
    async with db.write_session() as session, session.begin():
        with pytest.raises(IllegalTransition):
            await jobs._transition(session, job.job_id, before, after, None, {}, "forced")
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(JobEventRow)) == 1
    assert (await jobs.find(job.job_id)).status == "PENDING"
