"""What the dispatcher instance sees of the renderer pool, for the other API instances'
/readyz and /metrics (several instances on one PostgreSQL, DESIGN §8).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "dispatcher_status",
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("instance", sa.String(255), nullable=False),
        sa.Column("renderers", sa.Integer, nullable=False),
        sa.Column("waiting_for_engine", sa.JSON, nullable=False),
        sa.Column("reported_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dispatcher_status")
