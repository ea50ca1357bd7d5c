"""Renderer settings, read once from the environment (SPEC §6)."""

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from libs.contracts.timing import HEARTBEAT_INTERVAL_SEC, HEARTBEAT_LIVENESS
from libs.environment import env, optional_env
from libs.logs import LogFormat, log_format_from_env
from libs.storage import StoreSettings


def _host_prefix() -> str:
    """The host name, plus honcho's process name (e.g. renderer.1) when honcho started the pool."""
    honcho = os.environ.get("HONCHO_PROCESS_NAME")
    return f"{socket.gethostname()}-{honcho}" if honcho else socket.gethostname()


def _endpoints(name: str, default: str) -> tuple[str, ...]:
    return tuple(endpoint.strip() for endpoint in env(name, default).split(",") if endpoint.strip())


def _env_path(name: str) -> Path | None:
    return Path(os.environ[name]) if os.environ.get(name) else None


def _secret(name: str) -> str | None:
    """A credential from NAME, or read from the file NAME_FILE names (a mounted secret);
    surrounding whitespace is not part of it."""
    if os.environ.get(name):
        return os.environ[name].strip()
    path = _env_path(f"{name}_FILE")
    return path.read_text(encoding="utf-8").strip() or None if path else None


class Secret(str):
    """A credential: its repr is masked, so a settings object printed or logged keeps it."""

    def __repr__(self) -> str:
        return "Secret('***')"


def _secret_setting(name: str) -> Secret | None:
    value = _secret(name)
    return Secret(value) if value else None


@dataclass(frozen=True, kw_only=True)
class RendererSettings(StoreSettings):
    command_endpoints: tuple[str, ...] = field(
        default_factory=lambda: _endpoints("RENDER_COMMAND_ENDPOINT", "tcp://127.0.0.1:5555")
    )
    event_endpoints: tuple[str, ...] = field(default_factory=lambda: _endpoints("RENDER_EVENT_ENDPOINT", "tcp://127.0.0.1:5556"))
    """Every API instance's endpoints, comma-separated: only the dispatcher's are bound (DESIGN §8)."""
    workers: int = field(default_factory=lambda: int(env("RENDER_WORKERS", "2")))
    worker_prefix: str = field(default_factory=lambda: env("RENDER_WORKER_PREFIX", _host_prefix()))
    """Worker ids are `{worker_prefix}-w{slot}`: unique per host, the same across restarts."""
    tts_engine: str = field(default_factory=lambda: env("TTS_ENGINE", "espeak"))
    tts_voice_aliases: str = field(default_factory=lambda: env("TTS_VOICE_ALIASES", ""))
    """name=voice,…: names a script's `voice` may use for a voice spec such as coqui:<model dir>."""
    tts_fallback: str = field(default_factory=lambda: env("TTS_FALLBACK", ""))
    """language:voice>voice,…: what to try when the chosen engine cannot narrate a script."""
    tts_cache_dir: Path | None = field(default_factory=lambda: _env_path("TTS_CACHE_DIR"))
    """None: `tts-cache` beside ASSET_DIR, so each data folder has its own (see tts_cache_folder)."""
    tts_cache_max_mb: float = field(default_factory=lambda: float(env("TTS_CACHE_MAX_MB", "512")))
    coqui_model_dir: Path | None = field(default_factory=lambda: _env_path("COQUI_MODEL_DIR"))
    coqui_model_root: Path | None = field(default_factory=lambda: _env_path("COQUI_MODEL_ROOT"))
    """The folder whose model folders a script's `voice` may name (coqui:<folder>)."""
    coqui_threads_setting: int | None = field(
        default_factory=lambda: int(os.environ["COQUI_THREADS"]) if os.environ.get("COQUI_THREADS") else None
    )
    # Cloud voices (SPEC §8.1): keys only from the environment or a file, never logged or sent on.
    azure_speech_key: Secret | None = field(default_factory=lambda: _secret_setting("AZURE_SPEECH_KEY"))
    azure_speech_region: str | None = field(default_factory=lambda: optional_env("AZURE_SPEECH_REGION"))
    azure_speech_endpoint: str | None = field(default_factory=lambda: optional_env("AZURE_SPEECH_ENDPOINT"))
    """Default https://{region}.tts.speech.microsoft.com; requests go to {endpoint}/cognitiveservices/v1."""
    google_tts_api_key: Secret | None = field(default_factory=lambda: _secret_setting("GOOGLE_TTS_API_KEY"))
    google_tts_endpoint: str = field(default_factory=lambda: env("GOOGLE_TTS_ENDPOINT", "https://texttospeech.googleapis.com"))
    tts_concurrency: int = field(default_factory=lambda: int(env("TTS_CONCURRENCY", "4")))
    """Sentences a cloud engine synthesizes at once for one job."""
    tts_requests_per_second: float = field(default_factory=lambda: float(env("TTS_REQUESTS_PER_SECOND", "20")))
    """Per engine and worker process: requests started per second, at most."""
    tts_request_timeout_sec: float = field(default_factory=lambda: float(env("TTS_REQUEST_TIMEOUT_SEC", "20")))
    tts_circuit_failures: int = field(default_factory=lambda: int(env("TTS_CIRCUIT_FAILURES", "5")))
    """Consecutive failed requests (after their retries) that open an engine's circuit."""
    tts_circuit_open_sec: float = field(default_factory=lambda: float(env("TTS_CIRCUIT_OPEN_SEC", "30")))
    """How long an open circuit fails every request at once before one request may try again."""
    # The self-hosted neural voice.
    supertonic_model_dir: Path | None = field(default_factory=lambda: _env_path("SUPERTONIC_MODEL_DIR"))
    supertonic_threads_setting: int | None = field(
        default_factory=lambda: int(os.environ["SUPERTONIC_THREADS"]) if os.environ.get("SUPERTONIC_THREADS") else None
    )
    supertonic_steps: int = field(default_factory=lambda: int(env("SUPERTONIC_STEPS", "5")))
    """Denoising steps per sentence: more is cleaner and slower (5: the quality/speed knee measured upstream)."""
    font_path: Path | None = field(default_factory=lambda: _env_path("RENDER_FONT_PATH"))
    cancel_grace_sec: float = field(default_factory=lambda: float(env("RENDER_CANCEL_GRACE_SEC", "5")))
    """A canceled render still running after this long gets its worker killed and replaced."""
    log_level: str = field(default_factory=lambda: env("LOG_LEVEL", "INFO"))
    log_format: LogFormat = field(default_factory=log_format_from_env)
    heartbeat_interval: float = HEARTBEAT_INTERVAL_SEC
    heartbeat_liveness: int = HEARTBEAT_LIVENESS

    @property
    def tts_cache_folder(self) -> Path:
        return self.tts_cache_dir or self.asset_dir.parent / "tts-cache"

    @property
    def coqui_threads(self) -> int:
        """torch CPU threads per worker process: COQUI_THREADS, else the cores shared out among the workers."""
        return self.coqui_threads_setting or self._threads_per_worker

    @property
    def supertonic_threads(self) -> int:
        """onnxruntime intra-op threads per worker process: SUPERTONIC_THREADS, else the cores shared out."""
        return self.supertonic_threads_setting or self._threads_per_worker

    @property
    def _threads_per_worker(self) -> int:
        return max(1, (os.cpu_count() or 1) // self.workers)
