"""Role guards for route handlers; the ordered roles themselves live in `libs.tokens`,
beside the tokens that carry them."""

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from libs.tokens import Role


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
            raise PermissionDeniedException(f"this needs the {role.name.lower()} role; the token has {caller.role.name.lower()}")

    guard.__name__ = f"requires_{role.name.lower()}"
    return guard
