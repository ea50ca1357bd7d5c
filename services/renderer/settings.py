"""Renderer settings, read once from the environment (SPEC §6)."""

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True, kw_only=True)
class RendererSettings:
    command_endpoint: str = field(default_factory=lambda: _env("RENDER_COMMAND_ENDPOINT", "tcp://127.0.0.1:5555"))
    event_endpoint: str = field(default_factory=lambda: _env("RENDER_EVENT_ENDPOINT", "tcp://127.0.0.1:5556"))
    workers: int = field(default_factory=lambda: int(_env("RENDER_WORKERS", "2")))
    asset_dir: Path = field(default_factory=lambda: Path(_env("ASSET_DIR", "./data/assets")))
    tts_engine: str = field(default_factory=lambda: _env("TTS_ENGINE", "espeak"))
    font_path: Path | None = field(
        default_factory=lambda: Path(os.environ["RENDER_FONT_PATH"]) if os.environ.get("RENDER_FONT_PATH") else None
    )
    cancel_grace_sec: float = field(default_factory=lambda: float(_env("RENDER_CANCEL_GRACE_SEC", "5")))
    """A canceled render still running after this long gets its worker killed and replaced."""
    heartbeat_interval: float = 1.0
    heartbeat_liveness: int = 3
