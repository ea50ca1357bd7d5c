"""The web console: static files served at `/`, no build step.

The page itself needs no token (it only asks for one); every call it makes to `/api` and
`/ws` carries the token the user pasted. Its Content-Security-Policy is set in
`services/api/security/headers.py`.
"""

from pathlib import Path

from litestar import Router, head
from litestar.datastructures import CacheControlHeader
from litestar.response.file import ASGIFileResponse
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"
# Revalidate on each load (ETag), so an upgraded API never runs with a stale app.js.
CACHE_CONTROL = CacheControlHeader(no_cache=True)


def console_router() -> Router:
    router = create_static_files_router(
        path="/",
        directories=[STATIC_DIR],
        html_mode=True,
        name="console",
        opt={"exclude_from_auth": True},
        cache_control=CACHE_CONTROL,
    )
    router.register(index_head)
    return router


@head("/", name="console/index/head")
async def index_head() -> ASGIFileResponse:
    """What `GET /` answers, without the body. Litestar's static files answer HEAD for each file
    but not for `/` (405), and leave Content-Type out of every HEAD answer, so both are set here."""
    return ASGIFileResponse(
        file_path=STATIC_DIR / "index.html",
        filename="index.html",
        content_disposition_type="inline",
        is_head_response=True,
        headers={"Content-Type": "text/html; charset=utf-8", CACHE_CONTROL.HEADER_NAME: CACHE_CONTROL.to_header()},
    )
