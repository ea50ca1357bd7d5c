"""Typed tables: scripts, render jobs, their stored progress events, published assets, the
webhook outbox, media, deck imports, lexicons and themes."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from libs.contracts.codes import ACTIVE_STATUSES, JobStatus


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """SQLite drops the zone on the way in; give every value back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    pass


JOB_STATUS = Enum(
    JobStatus,
    native_enum=False,
    length=16,
    create_constraint=False,
    validate_strings=True,
    values_callable=lambda statuses: [status.value for status in statuses],
)
"""A job's status as the JobStatus it is, stored as the VARCHAR(16) it always was (no migration):
rows read back typed, and a status that does not exist is refused before it is written."""


ACTIVE_JOB = text("status IN ({})".format(", ".join(f"'{status.value}'" for status in JobStatus if status in ACTIVE_STATUSES)))
"""Where the one-active-job-per-video index applies (status IN ('PENDING', 'RUNNING'), in
JobStatus order); INSERT … ON CONFLICT names it word for word, so PostgreSQL can infer the
index (jobs/store.py)."""


class ScriptRow(Base):
    __tablename__ = "scripts"

    video_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    script_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column()
    """The Script as msgspec JSON, exactly as validated."""
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRow(Base):
    __tablename__ = "render_jobs"
    __table_args__ = (
        # The database, not a check-then-insert, keeps one active job per video.
        Index(
            "uq_render_jobs_active_video",
            "video_id",
            unique=True,
            sqlite_where=ACTIVE_JOB,
            postgresql_where=ACTIVE_JOB,
        ),
        Index("ix_render_jobs_video_created", "video_id", "created_at"),
        Index("ix_render_jobs_status_created", "status", "created_at"),
    )

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    video_id: Mapped[str] = mapped_column(String(128))
    script_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[JobStatus] = mapped_column(JOB_STATUS)
    step: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    assets: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    """Highest stored event seq of this job (events are numbered per job, across attempts)."""
    renderer_seq: Mapped[int] = mapped_column(Integer, default=0)
    """Highest Progress.seq applied from the current attempt: older progress is dropped."""
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """A retried job waits PENDING until then (backoff)."""
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The running attempt times out then."""
    engine: Mapped[str | None] = mapped_column(String(32))
    """The TTS engine the script's voice needs; None: any worker's default engine."""
    voice_used: Mapped[str | None] = mapped_column(Text)
    """The voice spec that spoke the whole video (the script's, or its fallback); None until it
    SUCCEEDED. Text, not a short string: an alias may stand for a long model path."""


class AttemptRow(Base):
    """One attempt of a job: where it ran and how it ended."""

    __tablename__ = "job_attempts"

    job_id: Mapped[str] = mapped_column(ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)


class JobEventRow(Base):
    __tablename__ = "job_events"

    job_id: Mapped[str] = mapped_column(ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[JobStatus] = mapped_column(JOB_STATUS)
    step: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(32))
    assets: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PublishedRow(Base):
    __tablename__ = "published_assets"

    video_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("render_jobs.job_id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDeliveryRow(Base):
    """One webhook event for one URL, written in the transaction that ended its job and kept
    until delivered or given up on (`webhooks/`)."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "status", "next_attempt_at"),)

    webhook_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The `webhook-id` header: the same on every retry, so receivers can deduplicate."""
    job_id: Mapped[str] = mapped_column(ForeignKey("render_jobs.job_id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column()
    """The JSON body exactly as signed and sent, fixed when the job ended."""
    status: Mapped[str] = mapped_column(String(16))
    """PENDING until a 2xx (DELIVERED) or until retries run out (DEAD)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    """The API instance trying it now (or that tried it last): only that one writes the try's outcome."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Until when that instance's try holds the row (db/leases.py); NULL between tries."""


class DispatcherStatusRow(Base):
    """The renderer pool as the dispatcher instance last reported it (one row), so an instance
    that does not dispatch can still answer /readyz, /metrics and the voice catalog (dispatch/role.py)."""

    __tablename__ = "dispatcher_status"

    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    instance: Mapped[str] = mapped_column(String(255))
    """Which API instance holds the role (host and port), for operators."""
    renderers: Mapped[int] = mapped_column(Integer)
    waiting_for_engine: Mapped[dict[str, int]] = mapped_column(JSON)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    voices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The voice catalog (VoiceInfo objects) of the connected renderers."""


class MediaRow(Base):
    """A file uploaded to a video: an image as stored (re-encoded, metadata stripped: media/intake.py),
    or a font or audio file as uploaded (media/fonts.py, media/audio.py). Its file is published in
    the asset store under `{video_id}/{media_id}`. Each kind fills its own facts, the others' are NULL."""

    __tablename__ = "media"
    # A theme names media of any video: it is found by its id alone (themes/store.py).
    __table_args__ = (Index("ix_media_media_id", "media_id"),)

    video_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    media_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), server_default="image")
    """image, font or audio."""
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the uploaded bytes, which `media_id` is derived from."""
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_sec: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    codec: Mapped[str | None] = mapped_column(String(32))
    family: Mapped[str | None] = mapped_column(String(200))
    covers_hangul: Mapped[bool | None] = mapped_column(Boolean)
    bytes: Mapped[int] = mapped_column(Integer)
    """Of the stored file."""
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeckImportRow(Base):
    """A deck being converted into a DRAFT script (decks/importer.py), or the end of that."""

    __tablename__ = "deck_imports"

    video_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    import_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """`deck-` + 24 hex digits of the deck's SHA-256: the same bytes are the same import."""
    run_id: Mapped[str] = mapped_column(String(32))
    """Which conversion of it may write progress, the owner of its lease: a restarted import
    gets a new one, so a conversion given up for dead can never overwrite its successor."""
    source: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    pages: Mapped[int] = mapped_column(Integer)
    pages_done: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    script_id: Mapped[str | None] = mapped_column(String(128))
    scenes_without_narration: Mapped[list[int] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Its last write, or its conversion's last sign of life."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Until when its conversion holds it (db/leases.py), renewed while the conversion lives
    (decks/importer.py HEARTBEAT_SEC); NULL once it ended. A CONVERTING row whose lease ran out
    lost its API instance."""


class VideoLexiconRow(Base):
    """A video's pronunciations (PUT …/lexicon): what the jobs created from now on speak by."""

    __tablename__ = "video_lexicons"

    video_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    entries: Mapped[bytes] = mapped_column()
    """list[LexiconEntry] as msgspec JSON, exactly as validated."""
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobLexiconRow(Base):
    """The lexicon a job speaks by, fixed when the job was created (its video's and its script's
    merged, libs/lexicon.py), so a later edit of the video's lexicon never changes a job. A table
    of its own rather than a job column: up to a megabyte that only the dispatcher's claim reads,
    kept out of every job read. Only jobs with a non-empty lexicon have a row."""

    __tablename__ = "job_lexicons"

    job_id: Mapped[str] = mapped_column(ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True)
    entries: Mapped[bytes] = mapped_column()
    """list[LexiconEntry] as msgspec JSON."""


class ThemeRow(Base):
    """A brand's look (PUT /api/v2/themes/{theme_id}): what the scripts naming it are drawn with."""

    __tablename__ = "themes"

    theme_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[bytes] = mapped_column()
    """The Theme as msgspec JSON, exactly as validated."""
    # The body's media ids again, as columns: the TTL sweep and a job's snapshot find the media
    # by them without decoding every theme.
    font: Mapped[str | None] = mapped_column(String(40))
    logo: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Of the first PUT; a replacing PUT keeps it, which tells the two apart (201 or 200)."""
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobThemeRow(Base):
    """The theme a job is drawn with, its media resolved to asset-store keys, fixed when the job
    was created so a later PUT of the theme never changes a retry. Only jobs whose script names
    a theme have a row."""

    __tablename__ = "job_themes"

    job_id: Mapped[str] = mapped_column(ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True)
    assets: Mapped[bytes] = mapped_column()
    """ThemeAssets as msgspec JSON."""
