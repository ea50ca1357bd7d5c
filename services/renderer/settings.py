"""Renderer settings, read once from the environment (SPEC §6)."""

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from libs.logs import LogFormat, log_format_from_env


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _host_prefix() -> str:
    """The host name, plus honcho's process name (e.g. renderer.1) when honcho started the pool."""
    honcho = os.environ.get("HONCHO_PROCESS_NAME")
    return f"{socket.gethostname()}-{honcho}" if honcho else socket.gethostname()


def _endpoints(name: str, default: str) -> tuple[str, ...]:
    return tuple(endpoint.strip() for endpoint in _env(name, default).split(",") if endpoint.strip())


def _env_path(name: str) -> Path | None:
    return Path(os.environ[name]) if os.environ.get(name) else None


@dataclass(frozen=True, kw_only=True)
class RendererSettings:
    command_endpoints: tuple[str, ...] = field(default_factory=lambda: _endpoints("RENDER_COMMAND_ENDPOINT", "tcp://127.0.0.1:5555"))
    event_endpoints: tuple[str, ...] = field(default_factory=lambda: _endpoints("RENDER_EVENT_ENDPOINT", "tcp://127.0.0.1:5556"))
    """Every API instance's endpoints, comma-separated: only the dispatcher's are bound (DESIGN §8)."""
    workers: int = field(default_factory=lambda: int(_env("RENDER_WORKERS", "2")))
    worker_prefix: str = field(default_factory=lambda: _env("RENDER_WORKER_PREFIX", _host_prefix()))
    """Worker ids are `{worker_prefix}-w{slot}`: unique per host, the same across restarts."""
    asset_dir: Path = field(default_factory=lambda: Path(_env("ASSET_DIR", "./data/assets")))
    """The published assets; with an object store, only this renderer's staging folders."""
    asset_store: str = field(default_factory=lambda: os.environ.get("ASSET_STORE", ""))
    """"" for the local folder ASSET_DIR, or s3://bucket/prefix (libs/storage)."""
    s3_endpoint_url: str | None = field(default_factory=lambda: os.environ.get("S3_ENDPOINT_URL") or None)
    s3_timeout_sec: float = field(default_factory=lambda: float(os.environ.get("S3_TIMEOUT_SEC") or 30))
    """An S3 operation that takes longer fails (STORAGE_FAILED for a render, which is retried)."""
    tts_engine: str = field(default_factory=lambda: _env("TTS_ENGINE", "espeak"))
    tts_voice_aliases: str = field(default_factory=lambda: _env("TTS_VOICE_ALIASES", ""))
    """name=voice,…: names a script's `voice` may use for a voice spec such as coqui:<model dir>."""
    tts_fallback: str = field(default_factory=lambda: _env("TTS_FALLBACK", ""))
    """language:voice>voice,…: what to try when the chosen engine cannot narrate a script."""
    tts_cache_dir: Path | None = field(default_factory=lambda: _env_path("TTS_CACHE_DIR"))
    """None: `tts-cache` beside ASSET_DIR, so each data folder has its own (see tts_cache_folder)."""
    tts_cache_max_mb: float = field(default_factory=lambda: float(_env("TTS_CACHE_MAX_MB", "512")))
    coqui_model_dir: Path | None = field(default_factory=lambda: _env_path("COQUI_MODEL_DIR"))
    coqui_model_root: Path | None = field(default_factory=lambda: _env_path("COQUI_MODEL_ROOT"))
    """The folder whose model folders a script's `voice` may name (coqui:<folder>)."""
    coqui_threads_setting: int | None = field(
        default_factory=lambda: int(os.environ["COQUI_THREADS"]) if os.environ.get("COQUI_THREADS") else None
    )
    font_path: Path | None = field(default_factory=lambda: _env_path("RENDER_FONT_PATH"))
    cancel_grace_sec: float = field(default_factory=lambda: float(_env("RENDER_CANCEL_GRACE_SEC", "5")))
    """A canceled render still running after this long gets its worker killed and replaced."""
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))
    log_format: LogFormat = field(default_factory=log_format_from_env)
    heartbeat_interval: float = 1.0
    heartbeat_liveness: int = 3

    @property
    def tts_cache_folder(self) -> Path:
        return self.tts_cache_dir or self.asset_dir.parent / "tts-cache"

    @property
    def coqui_threads(self) -> int:
        """torch CPU threads per worker process: COQUI_THREADS, else the cores shared out among the workers."""
        return self.coqui_threads_setting or max(1, (os.cpu_count() or 1) // self.workers)
