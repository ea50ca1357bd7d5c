"""Deck imports whose API instance goes away mid-conversion. Stopped, it fails its imports at
once (WORKER_LOST) and kills their converters; killed outright, the converters die with it
and the import reads as failed once its lease ran out; either way the same upload begins it
again. LibreOffice is a script that never finishes, so the conversion is reliably under way."""

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from services.api.db.models import DeckImportRow
from services.api.decks.records import RUN_LEASE
from tests import decks
from tests.client import new_video_id
from tests.stack import Stack

CONVERTING = "Converting the PPTX with LibreOffice"


@pytest.fixture
def stack(tmp_path) -> Stack:
    soffice = tmp_path / "soffice-that-hangs"
    soffice.write_text("#!/bin/sh\nexec sleep 3600\n")
    soffice.chmod(0o755)
    with Stack(data_dir=tmp_path, workers=0, extra_env={"DECK_SOFFICE": str(soffice)}, capture_logs=True).running_api() as stack:
        yield stack


def converting(http: httpx.Client, video_id: str, deck: bytes) -> dict:
    """Posts the deck (a new conversion: 202) and waits until LibreOffice is running on it."""
    response = http.post(f"/api/v2/videos/{video_id}/decks", content=deck)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 60
    view = response.json()
    while view["message"] != CONVERTING:
        assert view["status"] == "CONVERTING" and time.monotonic() < deadline, view
        time.sleep(0.05)
        view = http.get(response.headers["location"]).json()
    return view


def conversion_processes(api_pid: int) -> list[int]:
    """The API's descendants: its conversion process and the 'LibreOffice' under it."""
    found, pending = [], [api_pid]
    while pending:
        pid = pending.pop()
        try:
            children = [
                int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
            ]
        except FileNotFoundError:
            continue
        found += children
        pending += children
    return found


def wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while alive := [pid for pid in pids if _alive(pid)]:
        assert time.monotonic() < deadline, f"conversion processes outlived their API: {alive}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended; only its exit status waits to be read


def stored_import(stack: Stack, video_id: str) -> DeckImportRow:
    with stack.job_table() as db:
        return db.execute(select(DeckImportRow).where(DeckImportRow.video_id == video_id)).one()


def test_a_stopped_api_fails_its_imports_and_kills_their_converters(stack):
    video_id = new_video_id("deck-stop")
    deck = decks.pptx([((0, 0, 0), "x", "y")])
    with stack.client(timeout=60) as http:
        converting(http, video_id, deck)
    processes = conversion_processes(stack.api.pid)
    assert len(processes) >= 2, processes  # pages.py and the hanging soffice under it

    stack.stop()

    wait_gone(processes)
    row = stored_import(stack, video_id)
    assert (row.status, row.error_code) == ("FAILED", "WORKER_LOST"), row
    stack.start_api()
    stack.wait_alive()
    with stack.client(timeout=60) as http:
        again = converting(http, video_id, deck)  # the same upload begins it again
    assert again["import_id"] == row.import_id and again["pages"] == 1


def test_a_killed_api_takes_its_converters_along_and_its_import_goes_stale(stack):
    video_id = new_video_id("deck-kill")
    deck = decks.pptx([((0, 0, 0), "x", "y"), ((9, 9, 9), "z", None)])
    with stack.client(timeout=60) as http:
        first = converting(http, video_id, deck)
    processes = conversion_processes(stack.api.pid)

    stack.kill_api()

    wait_gone(processes)
    dead = stored_import(stack, video_id)
    assert dead.status == "CONVERTING"  # nobody was left to say otherwise
    with stack.job_table() as db:  # as far past its lease as a dead instance's row would be
        db.execute(
            update(DeckImportRow).where(DeckImportRow.video_id == video_id).values(lease_until=dead.lease_until - RUN_LEASE * 2)
        )
    stack.start_api()
    stack.wait_alive()
    with stack.client(timeout=60) as http:
        view = http.get(f"/api/v2/videos/{video_id}/decks/{first['import_id']}").json()
        assert (view["status"], view["error_code"]) == ("FAILED", "WORKER_LOST"), view
        again = converting(http, video_id, deck)
    assert again["import_id"] == first["import_id"] and stored_import(stack, video_id).run_id != dead.run_id
