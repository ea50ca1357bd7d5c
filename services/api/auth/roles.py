"""Ordered roles (SPEC §4): each includes every role before it."""

from enum import IntEnum

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard


class Role(IntEnum):
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


def requires(role: Role) -> Guard:
    """A guard that lets callers with `role` or a later one through."""

    # Async: Litestar runs a plain-function guard in a worker thread, a thread hop per request.
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        caller = connection.scope.get("user")
        if caller is None:
            # Authentication skips OPTIONS (CORS preflights carry no token); it reveals nothing.
            if connection.scope.get("method") == "OPTIONS":
                return
            raise NotAuthorizedException("a bearer token is required")
        if caller.role < role:
            raise PermissionDeniedException(
                f"this needs the {role.name.lower()} role; the token has {caller.role.name.lower()}"
            )

    guard.__name__ = f"requires_{role.name.lower()}"
    return guard
