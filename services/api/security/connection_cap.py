"""At most `WS_MAX_CONNECTIONS_PER_SUBJECT` concurrent WebSockets per token subject.

Each progress socket holds a channel subscription and a backlog of up to `WS_MAX_BACKLOG`
events; without a cap one token could hold any number of them. A socket counts for the whole
life of its handler, so one that vanishes without a close frame is released as soon as the
handler notices (its read fails), like one closed politely.
"""

from collections import Counter

from litestar import WebSocket
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

TOO_MANY_CONNECTIONS_CLOSE = 4429
"""The subject already has its maximum of sockets open; close one before opening another."""


class WebSocketCapPerSubject(ASGIMiddleware):
    # One instance serves every WebSocket route, so the counts are shared by all of them.
    scopes = (ScopeType.WEBSOCKET,)

    def __init__(self, max_per_subject: int) -> None:
        self._max_per_subject = max_per_subject
        self._open: Counter[str] = Counter()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        subject = scope["user"].subject
        # Check and increment have no await between them, so concurrent handshakes cannot both pass.
        if self._open[subject] >= self._max_per_subject:
            await self._refuse(WebSocket(scope, receive, send))
            return
        self._open[subject] += 1
        try:
            await next_app(scope, receive, send)
        finally:
            self._open[subject] -= 1
            if not self._open[subject]:
                del self._open[subject]

    async def _refuse(self, socket: WebSocket) -> None:
        # Accepted first: a close before the handshake reaches the client as a bare HTTP 403,
        # without a code or a reason it could act on.
        await socket.accept()
        await socket.send_json(
            {
                "type": "error",
                "error_code": "RATE_LIMITED",
                "message": f"At most {self._max_per_subject} progress sockets per subject may be open at once.",
            }
        )
        await socket.close(code=TOO_MANY_CONNECTIONS_CLOSE, reason="too many connections")
