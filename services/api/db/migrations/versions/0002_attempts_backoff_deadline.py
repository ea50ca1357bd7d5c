"""Attempt history, retry backoff and per-attempt deadlines.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from services.api.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("render_jobs") as table:
        table.add_column(sa.Column("not_before", UTCDateTime))
        table.add_column(sa.Column("deadline_at", UTCDateTime))
    op.create_table(
        "job_attempts",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("outcome", sa.String(16)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("job_attempts")
    with op.batch_alter_table("render_jobs") as table:
        table.drop_column("deadline_at")
        table.drop_column("not_before")
