"""Security headers on every HTTP response, errors and unmatched paths included.

A `before_send` hook rather than a route middleware: Litestar calls it for every message the
application sends, also for the 404s and 405s answered before any route handler is chosen.
"""

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""Nothing the API serves is a page: no script, style or frame may load from a response."""
DOCS_PATH = "/schema"
"""The OpenAPI UI loads its scripts and styles from a CDN, so the API policy would blank it."""
ASSETS_PATH = "/assets/"
CONSOLE_PAGES = ("/", "/index.html")
CONSOLE_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The web console's page (services/api/console) loads only its own files, calls only this
origin (fetch and WebSocket) and plays assets from it: no inline script or style, no eval."""


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    path = scope["path"]
    message.setdefault("headers", [])
    headers = MutableScopeHeaders.from_message(message)
    for name, value in COMMON.items():
        headers.setdefault(name, value)
    if path in CONSOLE_PAGES:
        headers.setdefault("Content-Security-Policy", CONSOLE_CONTENT_SECURITY_POLICY)
    elif path != DOCS_PATH and not path.startswith(DOCS_PATH + "/"):
        headers.setdefault("Content-Security-Policy", API_CONTENT_SECURITY_POLICY)
    # A frontend on another origin plays the files in a <video> (no CORS request); the API's own
    # JSON is for CORS-checked fetches, never for another site's no-cors embedding.
    headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin" if path.startswith(ASSETS_PATH) else "same-origin")
