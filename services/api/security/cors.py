"""CORS for browser frontends on other origins, off unless origins are configured."""

from litestar.config.cors import CORSConfig


def cors_config(allowed_origins: tuple[str, ...]) -> CORSConfig | None:
    """None without origins: then Litestar adds no CORS headers at all (its default is `*`)."""
    if not allowed_origins:
        return None
    # Tokens travel in the Authorization header, never in cookies, so no credentials mode is needed;
    # Retry-After is not a CORS-safelisted header, and a frontend needs it to back off.
    return CORSConfig(allow_origins=list(allowed_origins), expose_headers=["Retry-After"])
