"""Expiring HMAC signatures on asset URLs (SPEC §2 Assets), made and checked in this one place.

A <video src> cannot send a bearer token, so with ASSET_SIGNING_KEY set an asset URL carries
its own short-lived permission: `?expires=<unix seconds>&sig=<hex HMAC-SHA256>` over
`video_id/job_id/file:expires`. Signing the path and the expiry together means neither can
be changed without the key.
"""

import hashlib
import hmac
import time


def signed_query(key: str, ttl_sec: int, asset_path: str, now: float | None = None) -> str:
    """The query string that lets `asset_path` be fetched for the next `ttl_sec` seconds."""
    expires = int(time.time() if now is None else now) + ttl_sec
    return f"expires={expires}&sig={_signature(key, asset_path, expires)}"


def signature_is_valid(key: str, asset_path: str, expires: str | None, sig: str | None, now: float | None = None) -> bool:
    """Whether `expires` and `sig` (as sent, possibly missing) sign `asset_path` and have not run out."""
    if expires is None or sig is None:
        return False
    try:
        expires_at = int(expires)
    except ValueError:
        return False
    if expires_at < (time.time() if now is None else now):
        return False
    # Constant time, so the signature cannot be guessed byte by byte from response timings;
    # compared as bytes because compare_digest refuses non-ASCII str.
    return hmac.compare_digest(_signature(key, asset_path, expires_at).encode(), sig.encode())


def _signature(key: str, asset_path: str, expires: int) -> str:
    return hmac.new(key.encode(), f"{asset_path}:{expires}".encode(), hashlib.sha256).hexdigest()
