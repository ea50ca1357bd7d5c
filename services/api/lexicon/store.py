"""A video's lexicon, one row replaced whole by each PUT, and the snapshot a new job keeps.

Entries are stored as msgspec JSON, as validated, so reading them back is one typed decode."""

from collections.abc import Sequence

import msgspec
from sqlalchemy import Row, bindparam, select

from libs.contracts.script import LexiconEntry
from libs.lexicon import merge
from services.api.db.engine import Database
from services.api.db.inserts import columns_of, insert_into
from services.api.db.models import VideoLexiconRow, utc_now

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(list[LexiconEntry])
_NO_ENTRIES = _ENCODER.encode([])
_LEXICONS = VideoLexiconRow.__table__
_LEXICON_OF_VIDEO = select(_LEXICONS).where(_LEXICONS.c.video_id == bindparam("video_id"))


def _replace_statement(dialect: str):
    statement = insert_into(dialect, _LEXICONS)
    return statement.on_conflict_do_update(
        index_elements=[_LEXICONS.c.video_id],
        set_={name: statement.excluded[name] for name in ("entries", "updated_by", "updated_at")},
    )


# Insert or replace in one statement: two PUTs at once (two API instances) cannot both insert.
_REPLACE = {dialect: _replace_statement(dialect) for dialect in ("sqlite", "postgresql")}


def encode_entries(entries: Sequence[LexiconEntry]) -> bytes:
    return _ENCODER.encode(entries)


def decode_entries(data: bytes | None) -> list[LexiconEntry]:
    return _DECODER.decode(data) if data else []


async def video_lexicon(db: Database, video_id: str) -> list[LexiconEntry]:
    """The video's entries as they are now; [] when it has none."""
    row = await stored_lexicon(db, video_id)
    return decode_entries(row.entries) if row is not None else []


async def stored_lexicon(db: Database, video_id: str) -> Row | None:
    """The video's lexicon row (entries still encoded, who replaced it and when), or None."""
    async with db.reader.connect() as connection:
        return (await connection.execute(_LEXICON_OF_VIDEO, {"video_id": video_id})).first()


async def replace_lexicon(db: Database, video_id: str, entries: Sequence[LexiconEntry], updated_by: str) -> VideoLexiconRow:
    """Stores `entries` as the video's lexicon, replacing any before. Jobs already created keep
    the lexicon they were created with (their own snapshot, `job_snapshot`)."""
    row = VideoLexiconRow(video_id=video_id, entries=encode_entries(entries), updated_by=updated_by, updated_at=utc_now())
    async with db.writer.begin() as connection:
        await connection.execute(_REPLACE[db.dialect], columns_of(row))
    return row


def job_snapshot(video_entries: bytes | None, script_entries: Sequence[LexiconEntry] | None) -> bytes | None:
    """The encoded lexicon a job is created with: the video's entries with its script's merged
    in (the script's win), or None when there are none (the usual case: no row to write)."""
    if not script_entries:
        # The video's entries as stored: with nothing to merge in, nothing to decode.
        return video_entries if video_entries and video_entries != _NO_ENTRIES else None
    return encode_entries(merge(decode_entries(video_entries), script_entries))
