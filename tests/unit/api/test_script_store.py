"""Script writes racing each other, as two API instances on one PostgreSQL can make them (on
SQLite its one writer serialises them, and the same outcomes must hold)."""

import asyncio

import pytest

from libs.contracts.script import Scene, Script
from services.api.errors import ScriptImmutable
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
SCRIPT = Script(title="t", scenes=[Scene(narration="안녕하세요.")])


async def test_concurrent_first_writes_of_one_script_create_it_once(db):
    scripts = ScriptStore(db)
    results = await asyncio.gather(*(scripts.put("v", "s", SCRIPT, f"editor-{n}") for n in range(10)))
    assert sum(created for _, created in results) == 1


async def test_a_write_racing_the_approval_never_changes_an_approved_script(db):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", SCRIPT, "editor")
    edited = Script(title="edited", scenes=[Scene(narration="바뀐 내용")])
    outcomes = await asyncio.gather(scripts.approve("v", "s"), scripts.put("v", "s", edited, "editor"), return_exceptions=True)
    approved = await scripts.get("v", "s")
    if isinstance(outcomes[1], ScriptImmutable):
        assert b"edited" not in approved.body, "the refused write was stored"
    else:
        assert not isinstance(outcomes[1], BaseException), outcomes[1]
        # The write landed before the approval, which then set both times: none after it.
        assert approved.updated_at == approved.approved_at, "an approved script was written to"
