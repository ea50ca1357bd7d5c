"""The voice catalog in the dispatcher's report, so every API instance answers GET /api/v2/voices.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("dispatcher_status") as table:
        table.add_column(sa.Column("voices", sa.JSON, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("dispatcher_status") as table:
        table.drop_column("voices")
