import json
from collections.abc import Iterator

import pytest

from tests.stack import FIXTURES, Stack


@pytest.fixture(scope="session")
def reference_script() -> dict:
    return json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One real API and renderer pool shared by the integration tests (distinct video ids)."""
    with Stack(data_dir=tmp_path_factory.mktemp("stack")).running() as running:
        yield running
