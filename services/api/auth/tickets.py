"""WebSocket tickets: a browser cannot put its bearer token in a WebSocket's headers, and a
token in the URL is written to access logs and kept in browser history. So the page trades
its token (in the Authorization header) for a ticket that opens progress streams only and
expires within a minute, and puts that in the URL instead."""

from datetime import UTC, datetime, timedelta

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_201_CREATED

from libs.tokens import mint
from services.api.auth.jwt import WEBSOCKET_TICKET, Caller
from services.api.auth.roles import Role, requires
from services.api.openapi import error_responses

TICKET_TTL = timedelta(seconds=60)
"""Long enough for a page to open its socket on a slow link; a ticket is used once, at connect."""


class WebSocketTicket(msgspec.Struct, kw_only=True):
    ticket: str
    """Pass as `?ticket=` to `WS /ws/videos/{video_id}/render-progress`."""
    expires_at: datetime


class WebSocketTicketController(Controller):
    path = "/ws-tickets"
    tags = ["progress"]
    guards = [requires(Role.VIEWER)]

    @post("/", operation_id="createWebSocketTicket", status_code=HTTP_201_CREATED, responses=error_responses(401, 403))
    async def create_ticket(self, request: Request[Caller, Token, State], jwt_secret: str) -> WebSocketTicket:
        """A ticket for the progress WebSocket with the caller's subject and role, valid 60 s."""
        caller = request.user
        return WebSocketTicket(
            ticket=mint(jwt_secret, caller.subject, caller.role, TICKET_TTL, purpose=WEBSOCKET_TICKET),
            expires_at=datetime.now(UTC) + TICKET_TTL,
        )
