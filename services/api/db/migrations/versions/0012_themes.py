"""Themes (a brand's look, named by scripts) and the theme each job was created with; media found
by its id alone, since a theme may name media of any video.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_index("ix_media_media_id", "media", ["media_id"])
    op.create_table(
        "themes",
        sa.Column("theme_id", sa.String(64), primary_key=True),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("font", sa.String(40)),
        sa.Column("logo", sa.String(40)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "job_themes",
        sa.Column("job_id", sa.String(64), sa.ForeignKey("render_jobs.job_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("assets", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_themes")
    op.drop_table("themes")
    op.drop_index("ix_media_media_id", table_name="media")
