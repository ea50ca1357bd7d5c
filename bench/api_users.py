"""Locust users for `bench.api_load` (loaded by locust with `-f`, never imported by the bench
itself: importing locust monkey-patches the process for gevent).

Everything comes from the environment `bench.api_load` sets: the scenario, the bearer tokens
(one subject per user, as real users have), and the videos or jobs to use.

    BENCH_SCENARIO      create | detail
    BENCH_TOKENS        JSON file: a list of bearer tokens
    BENCH_TARGETS       JSON file: create -> [[video_id, script_id], ...], each used once;
                        detail -> [[video_id, job_id], ...], cycled
"""

import itertools
import json
import os

from locust import FastHttpUser, constant, task
from locust.exception import StopUser

TOKENS: list[str] = json.loads(open(os.environ["BENCH_TOKENS"], encoding="utf-8").read())
TARGETS: list[list[str]] = json.loads(open(os.environ["BENCH_TARGETS"], encoding="utf-8").read())
SCENARIO = os.environ["BENCH_SCENARIO"]

_users = itertools.count()
_targets: itertools.count | None = None
"""Indexes into TARGETS this process may use: with `--processes N`, process i takes i, i+N, …,
so no two processes ever create a job for the same video."""


def _share_targets(environment) -> itertools.count:
    global _targets
    if _targets is None:
        # Known only once this process's runner has been given its index by the master.
        processes = max(1, environment.parsed_options.processes or 1)
        _targets = itertools.count(getattr(environment.runner, "worker_index", 0), processes)
    return _targets


def _next_target(environment) -> list[str]:
    position = next(_share_targets(environment))
    if SCENARIO == "detail":
        return TARGETS[position % len(TARGETS)]
    if position >= len(TARGETS):
        raise StopUser()  # every pre-approved video has its job: more requests would be duplicates
    return TARGETS[position]


class ApiUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {TOKENS[next(_users) % len(TOKENS)]}"}

    @task
    def request(self) -> None:
        video_id, resource_id = _next_target(self.environment)
        if SCENARIO == "create":
            with self.client.post(
                f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": resource_id}, headers=self.headers,
                name="POST render-jobs", catch_response=True,
            ) as response:
                # 200 would mean an existing job came back: not a create.
                if response.status_code != 202:
                    response.failure(f"{response.status_code}: {response.text[:200]}")
        else:
            self.client.get(
                f"/api/v2/videos/{video_id}/render-jobs/{resource_id}", headers=self.headers, name="GET render-job",
            )
