import json
from collections.abc import Iterator

import pytest

from tests import job_store
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
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("s3-stack"), workers=1, extra_env=s3_server.env("s3://slidereel-assets/renders")
    )
    with stack.running() as running:
        yield running


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--job-store",
        choices=job_store.KINDS,
        default=job_store.SQLITE,
        help="the database every test stack's API keeps its job table in (PostgreSQL: "
        "a server this session starts, tests/postgres_server.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    job_store.use(config.getoption("--job-store"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if job_store.kind() != job_store.POSTGRESQL:
        return
    from tests.postgres_server import why_no_postgresql

    if reason := why_no_postgresql():
        skip = pytest.mark.skip(reason=f"--job-store=postgresql: {reason}")
        for item in items:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session) -> None:
    job_store.stop()
