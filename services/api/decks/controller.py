"""The deck endpoints: a PDF or PPTX becomes a DRAFT script (SPEC §7, issue 15)."""

from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from libs.contracts.codes import ErrorCode
from libs.contracts.script import MAX_TITLE_CHARS
from services.api.auth.roles import Role, requires
from services.api.db.models import DeckImportRow, utc_now
from services.api.decks.importer import DeckImporter
from services.api.decks.intake import DeckKind
from services.api.decks.records import RUN_LEASE, DeckImports, ImportStatus, is_stale
from services.api.decks.schemas import DeckImportPage, DeckImportView
from services.api.openapi import READ_ERRORS, error_responses
from services.api.params import Limit, Offset, VideoId
from services.api.timestamps import iso_utc
from services.api.uploads import uploaded_bytes

Title = Annotated[
    str | None,
    Parameter(
        max_length=MAX_TITLE_CHARS,
        description=("The script's title; by default the deck's own (PDF Title, PPTX title), else 'Imported PDF deck'."),
    ),
]
Language = Annotated[
    str, Parameter(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length=35, description="The script's BCP-47 language.")
]
ImportId = Annotated[str, Parameter(pattern=r"^deck-[0-9a-f]{24}$", description="`deck-` + 24 hex digits of the deck's SHA-256.")]


class DeckController(Controller):
    path = "/videos/{video_id:str}/decks"
    tags = ["decks"]
    guards = [requires(Role.VIEWER)]

    @post(
        "/",
        operation_id="importDeck",
        status_code=HTTP_202_ACCEPTED,
        guards=[requires(Role.EDITOR)],
        responses={
            **error_responses(401, 403, 413, 415, 422, 429, 503),
            HTTP_200_OK: ResponseSpec(DeckImportView, description="The video has an import of these bytes, converting or done"),
        },
    )
    async def import_deck(
        self,
        request: Request,
        decks: DeckImporter,
        subject: str,
        video_id: VideoId,
        title: Title = None,
        language: Language = "ko",
    ) -> Response[DeckImportView]:
        """Imports a deck into a DRAFT script with one image scene per page: the body itself, or
        a multipart/form-data field `file`. A PDF, or a PPTX when the server has LibreOffice
        (else 422 DECK_CONVERTER_MISSING); told by its bytes. Narration comes from the PPTX
        speaker notes, else it is left for the user to write (approval refuses a blank scene);
        each page's text is kept as the scene's `hint`. At most DECK_MAX_BYTES (100 MiB),
        DECK_MAX_PAGES (200) pages and, for a PPTX, DECK_MAX_UNZIPPED_BYTES (512 MiB) unzipped.

        What can be told at once is refused at once (413, 415, 422). Otherwise 202: the pages
        are being drawn; follow `GET …/decks/{import_id}` (status, pages_done of pages) until
        SUCCEEDED (its `script_id`) or FAILED (its error). 200 with the import when the video
        has one of these bytes already, converting or done; a FAILED one is begun again (202)."""
        data = await uploaded_bytes(request)
        row, started = await decks.start(video_id, data, subject, title=title, language=language)
        return Response(
            deck_import_view(row),
            status_code=HTTP_202_ACCEPTED if started else HTTP_200_OK,
            headers={"location": f"/api/v2/videos/{video_id}/decks/{row.import_id}"},
        )

    @get("/", operation_id="listDeckImports", responses=READ_ERRORS)
    async def list_imports(
        self, imports: DeckImports, video_id: VideoId, limit: Limit = 20, offset: Offset = 0
    ) -> DeckImportPage:
        """The video's deck imports, newest first."""
        rows, total = await imports.page(video_id, limit, offset)
        return DeckImportPage(
            video_id=video_id, imports=[deck_import_view(row) for row in rows], total=total, limit=limit, offset=offset
        )

    @get("/{import_id:str}", operation_id="getDeckImport", responses=READ_ERRORS)
    async def get_import(self, imports: DeckImports, video_id: VideoId, import_id: ImportId) -> DeckImportView:
        """One import: its status and progress, then its script or its error."""
        return deck_import_view(await imports.get(video_id, import_id))


def deck_import_view(row: DeckImportRow) -> DeckImportView:
    view = DeckImportView(
        video_id=row.video_id,
        import_id=row.import_id,
        source=DeckKind(row.source),
        status=ImportStatus(row.status),
        pages=row.pages,
        pages_done=row.pages_done,
        message=row.message,
        script_id=row.script_id,
        scenes_without_narration=row.scenes_without_narration or [],
        error_code=row.error_code,
        error_message=row.error_message,
        error_detail=row.error_detail,
        created_by=row.created_by,
        created_at=iso_utc(row.created_at),
        updated_at=iso_utc(row.updated_at),
    )
    if is_stale(row, utc_now()):
        # Its instance stopped without saying so (killed, its host lost): nobody converts it.
        view.status, view.message = ImportStatus.FAILED, "Failed"
        view.error_code = ErrorCode.WORKER_LOST.value
        view.error_message = f"The API instance converting the deck went silent for over {RUN_LEASE.seconds} s; upload it again."
        view.error_detail = {}
    return view
