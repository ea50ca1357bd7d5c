"""The TTS engine a job's voice needs, so it is dispatched only to a worker that offers it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("render_jobs") as table:
        table.add_column(sa.Column("engine", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("render_jobs") as table:
        table.drop_column("engine")
