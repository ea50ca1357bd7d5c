"""Security headers on every HTTP response, errors and unmatched paths included.

A `before_send` hook rather than a route middleware: Litestar calls it for every message the
application sends, also for the 404s and 405s answered before any route handler is chosen.
"""

from litestar.datastructures import MutableScopeHeaders
from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from services.api.security.origins import AssetOrigins

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


def console_content_security_policy(asset_origins: AssetOrigins) -> str:
    """The web console's page (services/api/console) loads only its own files and font, calls
    only the origin it was opened at (fetch and WebSocket), and plays assets from where asset
    URLs point: no inline script or style, no eval. It shows a video's media and plays voice
    previews from `blob:` URLs: their content needs the bearer token, so the page fetches the
    bytes itself (only the page's own script can make such a URL)."""
    assets = " ".join(("'self'", *asset_origins.sources))
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src {assets} blob:; "
        f"media-src {assets} blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def security_headers(asset_origins: AssetOrigins) -> BeforeMessageSendHookHandler:
    console_policy = console_content_security_policy(asset_origins)

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path = scope["path"]
        message.setdefault("headers", [])
        headers = MutableScopeHeaders.from_message(message)
        for name, value in COMMON.items():
            headers.setdefault(name, value)
        if path in CONSOLE_PAGES:
            headers.setdefault("Content-Security-Policy", console_policy)
        elif path != DOCS_PATH and not path.startswith(DOCS_PATH + "/"):
            headers.setdefault("Content-Security-Policy", API_CONTENT_SECURITY_POLICY)
        if path.startswith(ASSETS_PATH):
            # A <video> on another site plays the files without CORS; the console asks with CORS
            # (crossorigin="anonymous"), which its subtitle track needs when assets are elsewhere.
            headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
            allow_asset_reader(headers, scope, asset_origins)
        else:
            # The API's JSON is for CORS-checked fetches, never for another site's no-cors embedding.
            headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")

    return add_security_headers


def allow_asset_reader(headers: MutableScopeHeaders, scope: Scope, asset_origins: AssetOrigins) -> None:
    """CORS for an asset request from an allowed origin; every asset response varies by Origin,
    so a shared cache never hands one origin's answer to another."""
    if "origin" not in (headers.get("Vary") or "").lower():
        headers.add("Vary", "Origin")
    origin = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"origin"), None)
    if origin is not None and asset_origins.may_read(origin):
        headers.setdefault("Access-Control-Allow-Origin", origin)
