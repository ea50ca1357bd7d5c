"""Bearer-token authentication for /api and the WebSocket, through Litestar's JWTAuth."""

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from services.api.auth.roles import Role
from services.api.auth.tokens import ALGORITHM, Caller

# Liveness, readiness and the asset files (a <video> cannot send a token) stay open.
ALWAYS_OPEN = ["^/healthz$", "^/readyz$", "^/assets/"]
SCHEMA = "^/schema"


class HeaderOrQueryTokenMiddleware(JWTAuthenticationMiddleware):
    """Browsers cannot set headers on a WebSocket, so there the token may come as `?token=`."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        query_token = connection.query_params.get("token")
        if connection.scope["type"] == "websocket" and query_token and not connection.headers.get(self.auth_header):
            return await self.authenticate_token(encoded_token=query_token, connection=connection)
        return await super().authenticate_request(connection)


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
