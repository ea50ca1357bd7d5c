"""Worker ids: unique per host, the same across restarts of one slot, valid where the API keeps them."""

import socket

import pytest

from services.renderer.__main__ import WORKER_ID_MAX_LENGTH, worker_ids
from services.renderer.settings import RendererSettings


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("RENDER_WORKER_PREFIX", raising=False)
    monkeypatch.delenv("HONCHO_PROCESS_NAME", raising=False)
    return monkeypatch


def test_ids_are_the_prefix_and_the_slot_number_with_no_pid():
    assert worker_ids("render-3.example.org", 3) == [
        "render-3.example.org-w0",
        "render-3.example.org-w1",
        "render-3.example.org-w2",
    ]


def test_the_prefix_is_the_host_name_by_default(clean_env):
    assert RendererSettings().worker_prefix == socket.gethostname()


def test_under_honcho_the_prefix_keeps_the_host_name_and_adds_the_process_name(clean_env):
    clean_env.setenv("HONCHO_PROCESS_NAME", "renderer.1")
    assert RendererSettings().worker_prefix == f"{socket.gethostname()}-renderer.1"


def test_render_worker_prefix_wins(clean_env):
    clean_env.setenv("HONCHO_PROCESS_NAME", "renderer.1")
    clean_env.setenv("RENDER_WORKER_PREFIX", "gpu-box_2")
    assert RendererSettings().worker_prefix == "gpu-box_2"


@pytest.mark.parametrize("prefix", ["", "two words", "-leading-dash", "tab\there", "한글", "slash/y"])
def test_a_prefix_that_cannot_name_a_worker_is_refused(prefix):
    with pytest.raises(ValueError, match="RENDER_WORKER_PREFIX"):
        worker_ids(prefix, 2)


def test_ids_longer_than_the_api_stores_are_refused_with_the_longest_prefix_allowed():
    fits = "h" * (WORKER_ID_MAX_LENGTH - len("-w9"))
    assert max(map(len, worker_ids(fits, 10))) == WORKER_ID_MAX_LENGTH
    with pytest.raises(ValueError, match=f"at most {WORKER_ID_MAX_LENGTH - len('-w10')} characters"):
        worker_ids(fits, 11)
