import json
from collections.abc import Iterator

import pytest

from tests.s3_server import S3Server, running_s3_server
from tests.stack import FIXTURES, Stack


@pytest.fixture(scope="session")
def reference_script() -> dict:
    return json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One real API and renderer pool shared by the integration tests (distinct video ids)."""
    with Stack(data_dir=tmp_path_factory.mktemp("stack")).running() as running:
        yield running


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 API server (moto) with the bucket the S3 stack uses."""
    with running_s3_server() as server:
        server.create_bucket("slidereel-assets")
        yield server


@pytest.fixture(scope="session")
def s3_stack(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A real API and renderer pool that keep assets only in the S3 store (ASSET_STORE=s3://…)."""
    stack = Stack(data_dir=tmp_path_factory.mktemp("s3-stack"), workers=1,
                  extra_env=s3_server.env("s3://slidereel-assets/renders"))
    with stack.running() as running:
        yield running
