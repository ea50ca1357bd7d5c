"""Fonts and audio beside images in a video's media: each row's kind and that kind's facts.
Existing rows are images; width and height are NULL for the other kinds.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("media") as table:
        table.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="image"))
        table.alter_column("width", existing_type=sa.Integer, nullable=True)
        table.alter_column("height", existing_type=sa.Integer, nullable=True)
        table.add_column(sa.Column("duration_sec", sa.Float))
        table.add_column(sa.Column("sample_rate", sa.Integer))
        table.add_column(sa.Column("channels", sa.Integer))
        table.add_column(sa.Column("codec", sa.String(32)))
        table.add_column(sa.Column("family", sa.String(200)))
        table.add_column(sa.Column("covers_hangul", sa.Boolean))


def downgrade() -> None:
    # Only images fit the old table: the fonts' and audio's rows go (their files stay until
    # the asset store is cleaned by hand).
    op.execute(sa.text("DELETE FROM media WHERE kind <> 'image'"))
    with op.batch_alter_table("media") as table:
        for column in ("covers_hangul", "family", "codec", "channels", "sample_rate", "duration_sec", "kind"):
            table.drop_column(column)
        table.alter_column("width", existing_type=sa.Integer, nullable=False)
        table.alter_column("height", existing_type=sa.Integer, nullable=False)
