"""The web console: static files served at `/`, no build step.

The page itself needs no token (it only asks for one); every call it makes to `/api` and
`/ws` carries the token the user pasted. Its Content-Security-Policy is set in
`services/api/security/headers.py`.
"""

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).parent / "static"


def console_router() -> Router:
    return create_static_files_router(
        path="/",
        directories=[STATIC_DIR],
        html_mode=True,
        name="console",
        opt={"exclude_from_auth": True},
        # Revalidate on each load (ETag), so an upgraded API never runs with a stale app.js.
        cache_control=CacheControlHeader(no_cache=True),
    )
