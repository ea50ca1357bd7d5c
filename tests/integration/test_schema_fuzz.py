"""Schemathesis fuzzes every operation of the published OpenAPI document, authenticated, on
a real API: no 5xx, no undocumented status code, no response that breaks its schema."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack import Stack

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    # Its own stack: the fuzzer's writes must not use up the rate limit of the shared one.
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        workers=1,
        extra_env={"RATE_LIMIT_WRITES_PER_MINUTE": "1000000", "RENDER_RESOLUTION": "320x180"},
    )
    with stack.running():
        yield stack


def test_fuzzed_requests_get_documented_answers_and_no_server_error(fuzz_stack, capsys):
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{fuzz_stack.base_url}/schema/openapi.json",
            "--header",
            f"Authorization: Bearer {fuzz_stack.token()}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "40",
            "--workers",
            "2",
            "--max-time",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = re.search(r"(\d+) generated, .*", result.stdout)
    with capsys.disabled():
        print(f"\nschemathesis: {summary.group(0) if summary else 'no summary'}")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert summary and int(summary.group(1)) > 0
