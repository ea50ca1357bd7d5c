"""API settings, read once from the environment (SPEC §6)."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from libs.contracts.script import MAX_SCENES
from libs.contracts.timing import HEARTBEAT_INTERVAL_SEC, HEARTBEAT_LIVENESS
from libs.environment import env, optional_env
from libs.logs import LogFormat, log_format_from_env
from libs.storage import StoreSettings


@dataclass(frozen=True, kw_only=True)
class Settings(StoreSettings):
    db_path: Path = field(default_factory=lambda: Path(env("RENDER_JOB_DB_PATH", "./data/render_jobs.db")))
    database_url: str | None = field(default_factory=lambda: optional_env("DATABASE_URL"))
    public_base_url: str = field(default_factory=lambda: env("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/"))
    command_endpoint: str = field(default_factory=lambda: env("RENDER_COMMAND_ENDPOINT", "tcp://127.0.0.1:5555"))
    event_endpoint: str = field(default_factory=lambda: env("RENDER_EVENT_ENDPOINT", "tcp://127.0.0.1:5556"))
    max_attempts: int = field(default_factory=lambda: int(env("RENDER_MAX_ATTEMPTS", "3")))
    job_ttl_days: int = field(default_factory=lambda: int(env("RENDER_JOB_TTL_DAYS", "30")))
    render_resolution: tuple[int, int] = field(default_factory=lambda: _parse_resolution(env("RENDER_RESOLUTION", "1920x1080")))
    """The 16:9 frame. A script's other formats are scaled alike, by the factor that takes 1080 to
    this setting's short side (libs/frames.py): 640x360 renders 9:16 at 360x640 and 4:5 at 360x450."""
    render_fps: int | None = field(
        default_factory=lambda: int(os.environ["RENDER_FPS"]) if os.environ.get("RENDER_FPS") else None
    )
    render_timeout_base_sec: float = field(default_factory=lambda: float(env("RENDER_TIMEOUT_BASE_SEC", "60")))
    render_timeout_per_char_sec: float = field(default_factory=lambda: float(env("RENDER_TIMEOUT_PER_CHAR_SEC", "0.1")))
    tts_voice_aliases: str = field(default_factory=lambda: env("TTS_VOICE_ALIASES", ""))
    """The renderers' voice aliases (name=spec,…): the API reads which engine an alias needs."""
    heartbeat_interval: float = HEARTBEAT_INTERVAL_SEC
    heartbeat_liveness: int = HEARTBEAT_LIVENESS
    """A renderer silent for this many heartbeat intervals is dead."""
    job_ttl_sweep_sec: float = field(default_factory=lambda: float(env("RENDER_JOB_TTL_SWEEP_SEC", "3600")))
    """How often expired jobs and abandoned staging folders are removed."""
    ws_max_backlog: int = field(default_factory=lambda: int(env("WS_MAX_BACKLOG", "1000")))
    """Events a WebSocket client may fall behind before it is closed with 4008 (SPEC §3)."""
    media_max_bytes: int = field(default_factory=lambda: int(env("MEDIA_MAX_BYTES", str(25 * 1024 * 1024))))
    """The largest image or font upload (its body); 413 beyond."""
    media_max_pixels: int = field(default_factory=lambda: int(env("MEDIA_MAX_PIXELS", "50000000")))
    """Width × height an image may declare; refused from its header, before decoding (a bomb is small on disk)."""
    media_max_side_px: int = field(default_factory=lambda: int(env("MEDIA_MAX_SIDE_PX", "12000")))
    media_max_audio_bytes: int = field(default_factory=lambda: int(env("MEDIA_MAX_AUDIO_BYTES", str(100 * 1024 * 1024))))
    """The largest audio upload; 413 beyond. Fonts are held to MEDIA_MAX_BYTES like images."""
    media_max_audio_sec: float = field(default_factory=lambda: float(env("MEDIA_MAX_AUDIO_SEC", "1800")))
    """The longest audio accepted: refused from the header's claim, and again while decoding (a header can lie)."""
    media_check_timeout_sec: float = field(default_factory=lambda: float(env("MEDIA_CHECK_TIMEOUT_SEC", "30")))
    """A font or audio reader process still running after this is killed and the upload refused (422)."""
    media_max_concurrent_checks: int = field(default_factory=lambda: int(env("MEDIA_MAX_CONCURRENT_CHECKS", "4")))
    """Font and audio reader processes one API instance runs at once (each may take most of a GB); more wait."""
    deck_max_bytes: int = field(default_factory=lambda: int(env("DECK_MAX_BYTES", str(100 * 1024 * 1024))))
    """The largest deck upload (PDF or PPTX body); 413 beyond."""
    deck_max_pages: int = field(default_factory=lambda: min(int(env("DECK_MAX_PAGES", str(MAX_SCENES))), MAX_SCENES))
    """Pages (one scene each) a deck may have; never more than a script's scenes."""
    deck_max_unzipped_bytes: int = field(default_factory=lambda: int(env("DECK_MAX_UNZIPPED_BYTES", str(512 * 1024 * 1024))))
    """What a PPTX may expand to: declared sizes checked at once, real ones while converting."""
    deck_timeout_sec: float = field(default_factory=lambda: float(env("DECK_TIMEOUT_SEC", "300")))
    """A conversion still running after this is killed and the deck refused (422)."""
    deck_max_concurrent: int = field(default_factory=lambda: int(env("DECK_MAX_CONCURRENT", "2")))
    """Conversions one API instance runs at once (each a process; LibreOffice takes ~200 MB); more wait."""
    soffice: str = field(default_factory=lambda: env("DECK_SOFFICE", "soffice"))
    """LibreOffice's command, for PPTX decks; without it a PPTX is refused with DECK_CONVERTER_MISSING."""

    jwt_secret: str | None = field(default_factory=lambda: optional_env("JWT_SECRET"))
    public_schema: bool = field(default_factory=lambda: env("SCHEMA_PUBLIC", "true").lower() in ("1", "true", "yes"))
    """Whether /schema (OpenAPI) is served without a token."""
    asset_signing_key: str | None = field(default_factory=lambda: optional_env("ASSET_SIGNING_KEY"))
    """When set, asset URLs carry an expiring signature and the asset route refuses any without one."""
    asset_url_ttl_sec: int = field(default_factory=lambda: int(env("ASSET_URL_TTL_SEC", "86400")))
    """How long a signed asset URL stays valid after the response that carried it."""
    asset_accel_redirect_prefix: str | None = field(default_factory=lambda: optional_env("ASSET_ACCEL_REDIRECT_PREFIX"))
    """Behind nginx: after the asset route's checks pass, answer with `X-Accel-Redirect: <prefix><video>/<job>/<file>`
    and let nginx send the file from an internal location (deploy/nginx/slidereel.conf)."""
    rate_limit_writes_per_minute: int = field(default_factory=lambda: int(env("RATE_LIMIT_WRITES_PER_MINUTE", "600")))
    """Script writes, approvals and render starts one token subject may make per minute; 429 beyond."""
    ws_max_connections_per_subject: int = field(default_factory=lambda: int(env("WS_MAX_CONNECTIONS_PER_SUBJECT", "20")))
    """Concurrent progress WebSockets one token subject may hold; the next is closed with 4429."""
    cors_allowed_origins: tuple[str, ...] = field(
        default_factory=lambda: tuple(origin.strip() for origin in env("CORS_ALLOWED_ORIGINS", "").split(",") if origin.strip())
    )
    """Browser origins allowed to call the API; none = no CORS headers at all."""
    webhook_urls: tuple[str, ...] = field(
        default_factory=lambda: tuple(url.strip() for url in env("WEBHOOK_URLS", "").split(",") if url.strip())
    )
    """Each gets a signed POST when a job ends SUCCEEDED, FAILED or CANCELED."""
    webhook_secret: str | None = field(default_factory=lambda: optional_env("WEBHOOK_SECRET"))
    """`whsec_<base64>`; unset = generated into the data dir on first start."""
    webhook_retry_base_sec: float = field(default_factory=lambda: float(env("WEBHOOK_RETRY_BASE_SEC", "5")))
    """Delay before the first retry of a failed delivery; it doubles after each further failure."""
    log_level: str = field(default_factory=lambda: env("LOG_LEVEL", "INFO"))
    log_format: LogFormat = field(default_factory=log_format_from_env)

    @property
    def data_dir(self) -> Path:
        """Where generated state lives beside the database (e.g. the JWT secret)."""
        return self.db_path.parent

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def shared_job_table(self) -> bool:
        """The job table is a server that several API instances may share (PostgreSQL)."""
        # The URL's scheme names the backend before any "+driver" (SQLAlchemy's form), and is
        # read here without importing SQLAlchemy: the CLI reads these settings too.
        return self.sqlalchemy_url.partition(":")[0].partition("+")[0] != "sqlite"

    def check_shared_secrets(self) -> None:
        """With a shared job table, every instance must sign and verify with the same secrets: a
        secret generated into one host's data dir would make the others refuse its tokens and
        sign webhooks with another key. Raises ValueError naming what is missing."""
        missing = [
            name for name, value in (("JWT_SECRET", self.jwt_secret), ("WEBHOOK_SECRET", self.webhook_secret)) if not value
        ]
        if self.shared_job_table and missing:
            raise ValueError(
                f"DATABASE_URL names a shared database, so {' and '.join(missing)} must be set, "
                "the same on every API instance (deploy/.env.example)"
            )


def _parse_resolution(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)
