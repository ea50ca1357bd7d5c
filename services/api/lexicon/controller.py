"""`PUT|GET /api/v2/videos/{video_id}/lexicon`: how a video's terms are spoken (SPEC §8.1)."""

from litestar import Controller, get, put
from litestar.status_codes import HTTP_200_OK
from sqlalchemy import Row

from services.api.auth.roles import Role, requires
from services.api.db.engine import Database
from services.api.db.models import VideoLexiconRow
from services.api.examples import LexiconPutBody
from services.api.lexicon.schemas import VideoLexicon
from services.api.lexicon.store import decode_entries, replace_lexicon, stored_lexicon
from services.api.openapi import error_responses
from services.api.params import VideoId
from services.api.timestamps import iso_utc


class LexiconController(Controller):
    path = "/videos/{video_id:str}/lexicon"
    tags = ["lexicon"]
    guards = [requires(Role.VIEWER)]

    @get("/", operation_id="getLexicon", responses=error_responses(401, 403, 404, 422))
    async def get_lexicon(self, db: Database, video_id: VideoId) -> VideoLexicon:
        """The video's pronunciations; no entries (and no `updated_at`) while it has none."""
        row = await stored_lexicon(db, video_id)
        return VideoLexicon(video_id=video_id, entries=[]) if row is None else lexicon_view(row)

    @put(
        "/",
        operation_id="putLexicon",
        status_code=HTTP_200_OK,
        guards=[requires(Role.EDITOR)],
        responses=error_responses(401, 403, 404, 413, 422, 429),
    )
    async def put_lexicon(self, db: Database, subject: str, video_id: VideoId, data: LexiconPutBody) -> VideoLexicon:
        """Replace the video's lexicon with `entries` (an empty list clears it). Whole words,
        longest term first; a script's own `lexicon` wins over these. Jobs already created keep
        the lexicon they were created with; the next job speaks by this one."""
        return lexicon_view(await replace_lexicon(db, video_id, data.entries, subject))


def lexicon_view(row: VideoLexiconRow | Row) -> VideoLexicon:
    """The stored lexicon as returned: what was stored, read back."""
    return VideoLexicon(
        video_id=row.video_id, entries=decode_entries(row.entries), updated_at=iso_utc(row.updated_at), updated_by=row.updated_by
    )
