"""A command link that dies without a word (no FIN, no RST) while a job renders: libzmq's ZMTP
heartbeats and the workers' own watch on a silent broker replace the dead connections, the
workers come back to the API, and the job still ends SUCCEEDED."""

import json

import pytest

from tests.client import wait_running, wait_terminal, wait_until
from tests.faults.jobs import script_of, submit
from tests.faults.relay import BlackHoleRelay

SMALL_FRAMES = {"RENDER_RESOLUTION": "640x360"}


def worker_lines(stack) -> list[dict]:
    lines = [json.loads(line) for line in stack.log_path("renderer").read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("service") == "renderer"]


@pytest.mark.parametrize("fault_stack", [{"renderer": False, "env": SMALL_FRAMES}], indirect=True)
def test_a_black_holed_command_link_is_replaced_and_the_running_job_still_succeeds(fault_stack):
    with BlackHoleRelay(fault_stack.command_port) as relay, fault_stack.client(timeout=30) as http:
        # The API already runs on the real endpoint; only the renderer goes through the relay.
        fault_stack.extra_env["RENDER_COMMAND_ENDPOINT"] = relay.endpoint
        fault_stack.capture_logs = True
        fault_stack.start_renderer()
        fault_stack.wait_all_workers()
        video_id, job_id = submit(fault_stack, http, script_of(48))
        wait_running(http, video_id, job_id, step="RENDER_SLIDES")

        before = len(worker_lines(fault_stack))
        assert relay.black_hole() == fault_stack.workers
        pids = fault_stack.worker_pids()
        workers = set(pids)

        # Either form: a worker that had not yet heard the broker's first heartbeat when the
        # link went dark (a starved machine, right after start-up) says "no answer yet".
        def silent() -> set[str]:
            lines = worker_lines(fault_stack)[before:]
            return {line["worker_id"] for line in lines if line["message"].startswith("broker silent")}

        wait_until(lambda: silent() == workers, "every worker to notice the silent broker")

        def back() -> set[str]:
            return {line["worker_id"] for line in worker_lines(fault_stack) if line["message"].startswith("broker is back")}

        wait_until(lambda: back() == workers, "every worker to reach the broker again")

        final = wait_terminal(http, video_id, job_id, timeout=180)
        assert final["status"] == "SUCCEEDED", final
        fault_stack.wait_all_workers(timeout=60)
        assert relay.connections > fault_stack.workers, "no worker opened a new connection"
        assert http.get("/readyz").status_code == 200
        assert fault_stack.worker_pids() == pids, "a worker was restarted instead of reconnecting"
