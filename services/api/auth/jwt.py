"""Bearer-token authentication for /api and the WebSocket, through Litestar's JWTAuth."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from libs.tokens import ALGORITHM, Role

# Liveness, readiness, Prometheus scrapes and the asset files (a <video> cannot send a token) stay open.
ALWAYS_OPEN = ["^/healthz$", "^/readyz$", "^/metrics$", "^/assets/"]
SCHEMA = "^/schema"


VERIFIED_TOKENS_KEPT = 10_000
WEBSOCKET_TICKET = "websocket"
"""The `purpose` of a ticket minted by POST /api/v2/ws-tickets."""


@dataclass(frozen=True)
class Caller:
    """The authenticated subject of a request (`created_by`) and its role."""

    subject: str
    role: Role


class HeaderOrQueryTokenMiddleware(JWTAuthenticationMiddleware):
    """Browsers cannot set headers on a WebSocket, so there a credential comes in the URL: a
    `?ticket=` (short-lived, good for WebSockets only, so a URL that ends up in a log or a
    browser history is worth little) or, for clients written before tickets, `?token=`.

    A client sends the same token with every request, and checking its signature and claims
    costs more than serving a cached read; a token string verified before only has its expiry
    checked again (roles live in the token, so nothing else can have changed)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._verified: dict[str, AuthenticationResult] = {}

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        known = self._verified.get(encoded_token)
        if known is not None and known.auth.exp > datetime.now(UTC):
            return known
        result = await super().authenticate_token(encoded_token, connection)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()
        self._verified[encoded_token] = result
        return result

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        from_browser_socket = connection.scope["type"] == ScopeType.WEBSOCKET and not connection.headers.get(self.auth_header)
        ticket = connection.query_params.get("ticket")
        if from_browser_socket and ticket:
            result = await self.authenticate_token(encoded_token=ticket, connection=connection)
            if result.auth.extras.get("purpose") != WEBSOCKET_TICKET:
                raise NotAuthorizedException("`ticket` takes a ticket from POST /api/v2/ws-tickets, not a bearer token")
            return result
        query_token = connection.query_params.get("token")
        if from_browser_socket and query_token:
            result = await self.authenticate_token(encoded_token=query_token, connection=connection)
        else:
            result = await super().authenticate_request(connection)
        if result.auth.extras.get("purpose"):
            raise NotAuthorizedException("a WebSocket ticket opens one progress stream; it is not a bearer token")
        return result


async def caller_from_token(token: Token, _: ASGIConnection) -> Caller | None:
    """None (so 401) unless the token names a known role."""
    try:
        return Caller(subject=token.sub, role=Role.named(str(token.extras.get("role", ""))))
    except KeyError:
        return None


def jwt_auth(secret: str, *, public_schema: bool) -> JWTAuth[Caller, Token]:
    return JWTAuth[Caller, Token](
        token_secret=secret,
        algorithm=ALGORITHM,
        retrieve_user_handler=caller_from_token,
        authentication_middleware_class=HeaderOrQueryTokenMiddleware,
        exclude=ALWAYS_OPEN + ([SCHEMA] if public_schema else []),
        description="A bearer token from `slidereel token --sub NAME --role ROLE`.",
    )
