"""Lexicons (a video's, and the one each job was created with) and the voice that spoke a job.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("render_jobs") as table:
        table.add_column(sa.Column("voice_used", sa.Text, nullable=True))
    op.create_table(
        "video_lexicons",
        sa.Column("video_id", sa.String(128), primary_key=True),
        sa.Column("entries", sa.LargeBinary, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "job_lexicons",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("entries", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("render_jobs") as table:
        table.drop_column("voice_used")
    op.drop_table("job_lexicons")
    op.drop_table("video_lexicons")
