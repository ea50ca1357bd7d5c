"""Follows one job's progress WebSocket (SPEC §3) to its end, across dropped connections."""

import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlencode

from websockets.exceptions import ConnectionClosedError, InvalidStatus, WebSocketException
from websockets.sync.client import connect

from libs.contracts.codes import TERMINAL_STATUSES
from services.cli.api import Api
from services.cli.errors import CliError, ExitCode, exit_code_for_status

TERMINAL = frozenset(status.value for status in TERMINAL_STATUSES)
"""An ended job's statuses as the API's JSON spells them."""
RECONNECT_DELAYS_SEC = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits before successive reconnects; the last repeats until `GIVE_UP_AFTER_SEC`."""
GIVE_UP_AFTER_SEC = 60.0
"""How long the stream may stay unreachable before following ends with exit code 5."""
JOB_NOT_FOUND_CLOSE = 4404


def job_events(
    api: Api, video_id: str, job_id: str, *, from_start: bool = False, on_reconnect: Callable[[str], None] = lambda reason: None
) -> Iterator[dict]:
    """The job's current state (a snapshot), then its progress events, ending with the terminal one.

    The first connection asks for no history: the snapshot is where the job is and live events
    continue from its seq. `from_start` asks for every stored event instead, for a job the caller
    has just created: a fast renderer may be steps ahead by the time the socket opens, and the
    caller wants to see each of them. A dropped connection is reopened with `last_seq` of the last event
    seen, so the server resends exactly what was missed: nothing lost, nothing twice.
    `on_reconnect` hears why the stream dropped.
    """
    last_seq: int | None = 0 if from_start else None
    failures = 0
    failing_since: float | None = None
    while True:
        resume = {} if last_seq is None else {"last_seq": last_seq}
        query = urlencode({"job_id": job_id, **resume, "token": api.token})
        url = f"{api.ws_base_url}/ws/videos/{quote(video_id, safe='')}/render-progress?{query}"
        try:
            with connect(url, open_timeout=10) as socket:
                failures, failing_since = 0, None
                for raw in socket:
                    event = json.loads(raw)
                    if event["type"] == "error":
                        raise CliError(ExitCode.NOT_FOUND, event["error_code"], event["message"])
                    if event["type"] == "snapshot" and last_seq is not None:
                        # On a reconnect the events after last_seq follow and bring the caller
                        # up to date in order; a snapshot here would jump ahead of them.
                        continue
                    if event["type"] not in ("snapshot", "progress"):
                        continue
                    last_seq = event["seq"]
                    yield event
                    if event["status"] in TERMINAL:
                        return
            if socket.close_code == JOB_NOT_FOUND_CLOSE:
                raise CliError(ExitCode.NOT_FOUND, "JOB_NOT_FOUND", f"job {job_id!r} of video {video_id!r} does not exist")
            reason = f"stream closed ({socket.close_code} {socket.close_reason})"
        except InvalidStatus as error:
            status = error.response.status_code
            if status < 500:
                raise CliError(
                    exit_code_for_status(status), f"HTTP_{status}", f"the progress stream refused the connection: {status}"
                ) from error
            reason = f"progress stream answered {status}"
        except (ConnectionClosedError, WebSocketException, OSError) as error:
            reason = f"connection lost ({error})"
        failing_since = failing_since or time.monotonic()
        if time.monotonic() - failing_since > GIVE_UP_AFTER_SEC:
            raise CliError(
                ExitCode.UNAVAILABLE,
                "SERVICE_UNREACHABLE",
                f"progress stream of {job_id} unreachable for {GIVE_UP_AFTER_SEC:.0f} s: {reason}",
            )
        on_reconnect(reason)
        time.sleep(RECONNECT_DELAYS_SEC[min(failures, len(RECONNECT_DELAYS_SEC) - 1)])
        failures += 1
