"""Leases for webhook deliveries and deck imports (db/leases.py): who holds a row and until when,
in columns of their own, where a delivery used to be leased by moving its next try ahead and an
import by how long its row went untouched.

Revision ID: 0010
Revises: 0009
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from services.api.db.models import UTCDateTime

revision = "0010"
down_revision = "0009"

RUN_LEASE = timedelta(seconds=60)
"""What an import's row untouched this long meant until now: its conversion was lost."""


def upgrade() -> None:
    with op.batch_alter_table("webhook_outbox") as table:
        table.add_column(sa.Column("lease_owner", sa.String(128)))
        table.add_column(sa.Column("lease_until", UTCDateTime))
    with op.batch_alter_table("deck_imports") as table:
        table.add_column(sa.Column("lease_until", UTCDateTime))
    # A conversion under way keeps the lease its last touch gave it; computed here rather than
    # in SQL, whose date arithmetic differs between SQLite and PostgreSQL (few rows: only the
    # imports converting right now).
    imports = sa.table(
        "deck_imports",
        sa.column("video_id"),
        sa.column("import_id"),
        sa.column("status"),
        sa.column("updated_at", UTCDateTime),
        sa.column("lease_until", UTCDateTime),
    )
    connection = op.get_bind()
    converting = connection.execute(
        sa.select(imports.c.video_id, imports.c.import_id, imports.c.updated_at).where(imports.c.status == "CONVERTING")
    ).all()
    for video_id, import_id, updated_at in converting:
        connection.execute(
            sa.update(imports)
            .where(imports.c.video_id == video_id, imports.c.import_id == import_id)
            .values(lease_until=updated_at + RUN_LEASE)
        )


def downgrade() -> None:
    with op.batch_alter_table("deck_imports") as table:
        table.drop_column("lease_until")
    with op.batch_alter_table("webhook_outbox") as table:
        table.drop_column("lease_owner")
        table.drop_column("lease_until")
