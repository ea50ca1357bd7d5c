"""Scripts, render jobs with one active job per video, stored job events, published assets.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.api.db.models import UTCDateTime

revision = "0001"
down_revision = None

ACTIVE = sa.text("status IN ('PENDING', 'RUNNING')")


def upgrade() -> None:
    op.create_table(
        "scripts",
        sa.Column("video_id", sa.String(128), primary_key=True),
        sa.Column("script_id", sa.String(128), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("approved_at", UTCDateTime),
    )
    op.create_table(
        "render_jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("video_id", sa.String(128), nullable=False),
        sa.Column("script_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32)),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("worker_id", sa.String(128)),
        sa.Column("assets", sa.JSON),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("renderer_seq", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
    )
    op.create_index(
        "uq_render_jobs_active_video",
        "render_jobs",
        ["video_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index("ix_render_jobs_video_created", "render_jobs", ["video_id", "created_at"])
    op.create_index("ix_render_jobs_status_created", "render_jobs", ["status", "created_at"])
    op.create_table(
        "job_events",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32)),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("assets", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "published_assets",
        sa.Column("video_id", sa.String(128), primary_key=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("render_jobs.job_id"), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("published_assets")
    op.drop_table("job_events")
    op.drop_table("render_jobs")
    op.drop_table("scripts")
