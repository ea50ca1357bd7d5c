"""Signing key and token minting shared by the API and the `slidereel token` command."""

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.security.jwt import Token

from services.api.auth.roles import Role

ALGORITHM = "HS256"
SECRET_FILE = "jwt_secret"


@dataclass(frozen=True)
class Caller:
    """The authenticated subject of a request (`created_by`) and its role."""

    subject: str
    role: Role


def load_or_create_secret(
    configured: str | None, data_dir: Path, file_name: str = SECRET_FILE,
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


def mint(secret: str, subject: str, role: Role, ttl: timedelta) -> str:
    token = Token(sub=subject, exp=datetime.now(UTC) + ttl, iat=datetime.now(UTC), extras={"role": role.name.lower()})
    return token.encode(secret, ALGORITHM)
