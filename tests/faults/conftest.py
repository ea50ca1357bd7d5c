"""Fault tests get their own stack each (they kill its processes) and, after each test, the
invariants are checked on the database the stack leaves behind."""

from collections.abc import Iterator

import pytest

from tests.faults.invariants import check_invariants, tally
from tests.s3_server import S3Server, running_s3_server
from tests.stack import Stack

TALLIES: list[tuple[str, dict[str, int]]] = []
TAKEOVERS: list[tuple[str, float, float]] = []
"""(test, seconds from killing the dispatcher instance until the other one dispatched, and until
every renderer worker had re-registered with it): tests/faults/test_instances.py."""
FAULT_BUCKET = "fault-assets"


class FaultStack(Stack):
    """A stack whose tests record every job the API accepted."""

    accepted: set[str]


@pytest.fixture
def fault_s3_server() -> Iterator[S3Server]:
    """A store of this test's own, which it may freeze or stop (`{"s3": True}` on fault_stack)."""
    with running_s3_server() as server:
        server.create_bucket(FAULT_BUCKET)
        yield server


@pytest.fixture
def fault_stack(tmp_path, request) -> Iterator[FaultStack]:
    options = getattr(request, "param", {})
    env = dict(options.get("env", {}))
    if options.get("s3"):
        env.update(request.getfixturevalue("fault_s3_server").env(f"s3://{FAULT_BUCKET}/renders"))
    stack = FaultStack(
        data_dir=tmp_path, workers=options.get("workers", 2), extra_env=env, capture_logs=options.get("capture_logs", False)
    )
    stack.accepted = set()
    stack.start_api()
    # `{"renderer": False}`: the test plays the renderer itself, so only the API is up to wait for.
    if options.get("renderer", True):
        stack.start_renderer()
    try:
        if stack.renderer:
            stack.wait_ready()
        else:
            stack.wait_alive()
        yield stack
    finally:
        stack.stop()
    tally_and_check(request.node.name, stack, stack.accepted)


def tally_and_check(test: str, stack: Stack, accepted: set[str]) -> None:
    """Counts what became of the jobs a fault test left in `stack`'s job table, then asserts the invariants on it."""
    TALLIES.append((test, tally(stack, accepted)))
    problems = check_invariants(stack, accepted)
    assert not problems, "invariants broken:\n" + "\n".join(problems)


def pytest_terminal_summary(terminalreporter) -> None:
    """Jobs each fault test ran and what became of them: the numbers behind 'none lost,
    none duplicated, none stuck'."""
    if not TALLIES:
        return
    columns = ["jobs", "SUCCEEDED", "FAILED", "CANCELED", "lost", "duplicated", "active_at_stop"]
    terminalreporter.write_sep("-", "fault suite tally")
    terminalreporter.write_line(f"{'test':<78}" + "".join(f"{name:>15}" for name in columns))
    for name, counts in TALLIES:
        terminalreporter.write_line(f"{name[:77]:<78}" + "".join(f"{counts.get(c, 0):>15}" for c in columns))
    for name, took_role, reattached in TAKEOVERS:
        terminalreporter.write_line(
            f"takeover in {name[:60]}: the other instance dispatched {took_role:.2f} s after "
            f"the kill, every worker re-registered {reattached:.2f} s after it"
        )
