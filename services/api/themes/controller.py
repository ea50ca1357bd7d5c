"""`PUT|GET /api/v2/themes/{theme_id}`, `GET /api/v2/themes`: a brand's look (SPEC §8.3)."""

import msgspec
from litestar import Controller, Response, get, put
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from services.api.auth.roles import Role, requires
from services.api.db.engine import Database
from services.api.db.models import ThemeRow
from services.api.examples import ThemeBody
from services.api.openapi import READ_ERRORS, error_responses
from services.api.params import Limit, Offset, ThemeIdParam
from services.api.themes.schemas import ThemePage, ThemeView
from services.api.themes.store import decode_theme, replace_theme, stored_theme, theme_page
from services.api.timestamps import iso_utc


class ThemeController(Controller):
    path = "/themes"
    tags = ["themes"]
    guards = [requires(Role.VIEWER)]

    @put(
        "/{theme_id:str}",
        operation_id="putTheme",
        status_code=HTTP_200_OK,
        guards=[requires(Role.EDITOR)],
        responses={
            **error_responses(401, 403, 413, 422, 429),
            HTTP_201_CREATED: ResponseSpec(ThemeView, description="Created"),
        },
    )
    async def put_theme(self, db: Database, subject: str, theme_id: ThemeIdParam, data: ThemeBody) -> Response[ThemeView]:
        """Create the theme (201) or replace it whole (200). `font` must be a font and `logo` an
        image uploaded to any video (POST …/media). Jobs already created keep the theme they were
        created with; the next job is drawn with this one."""
        row, created = await replace_theme(db, theme_id, data, subject)
        return Response(theme_view(row), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/", operation_id="listThemes", responses=error_responses(401, 403, 422))
    async def list_themes(self, db: Database, limit: Limit = 20, offset: Offset = 0) -> ThemePage:
        """Every theme, by name."""
        rows, total = await theme_page(db, limit, offset)
        return ThemePage(themes=[theme_view(row) for row in rows], total=total, limit=limit, offset=offset)

    @get("/{theme_id:str}", operation_id="getTheme", responses=READ_ERRORS)
    async def get_theme(self, db: Database, theme_id: ThemeIdParam) -> ThemeView:
        """One theme; 404 THEME_NOT_FOUND when there is none by that name."""
        return theme_view(await stored_theme(db, theme_id))


def theme_view(row: ThemeRow) -> ThemeView:
    """The stored theme as returned: what was stored, read back."""
    return ThemeView(
        theme_id=row.theme_id,
        updated_at=iso_utc(row.updated_at),
        updated_by=row.updated_by,
        **msgspec.structs.asdict(decode_theme(row.body)),
    )
