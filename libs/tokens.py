"""The installation's bearer tokens: ordered roles, the signing key kept in the data dir, and
minting. Shared by the API, which verifies tokens, and the `slidereel` command, which mints
them; PyJWT alone, so the command starts without importing the API's web framework."""

import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path

import jwt

ALGORITHM = "HS256"
SECRET_FILE = "jwt_secret"


class Role(IntEnum):
    """Ordered roles (SPEC §4): each includes every role before it."""

    VIEWER = 1
    """Reads scripts, jobs and progress."""
    EDITOR = 2
    """Also writes scripts, starts and cancels renders."""
    APPROVER = 3
    """Also approves scripts."""
    ADMIN = 4
    """Also runs operations (e.g. the TTL purge)."""

    @classmethod
    def named(cls, name: str) -> "Role":
        return cls[name.upper()]


def load_or_create_secret(
    configured: str | None,
    data_dir: Path,
    file_name: str = SECRET_FILE,
    generate: Callable[[], str] = lambda: secrets.token_urlsafe(48),
) -> str:
    """JWT_SECRET when set; otherwise a random secret kept in the data dir, made once with
    mode 0600 so every later start (and the token command) signs with the same key. The
    webhook secret is kept the same way under its own `file_name` and format."""
    if configured:
        return configured
    path = data_dir / file_name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: the API and the token command may race here,
        # and neither may ever read a half-written secret or overwrite the other's.
        draft = data_dir / f".{file_name}.{os.getpid()}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(generate())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text(encoding="ascii").strip()


def mint(secret: str, subject: str, role: Role, ttl: timedelta, purpose: str | None = None) -> str:
    """The claims Litestar's `Token.encode` writes, role nested under `extras` as in the tokens
    already handed out, so the API's JWTAuth reads old and new tokens alike. A token with a
    `purpose` is good for that one use only (the API's WebSocket tickets), never as a bearer token."""
    now = datetime.now(UTC)
    extras = {"role": role.name.lower(), **({"purpose": purpose} if purpose else {})}
    claims = {"exp": now + ttl, "sub": subject, "iat": now, "extras": extras}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
