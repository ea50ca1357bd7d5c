"""Settings read from the environment, the same way by the API and the renderer: a variable
that is unset or empty means its default."""

import os


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def optional_env(name: str) -> str | None:
    return os.environ.get(name) or None
