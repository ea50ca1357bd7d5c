"""The worker's two bus sockets and the options that keep their links honest (DESIGN §3).

ZMTP heartbeats make libzmq itself notice a dead TCP path (a peer gone without a FIN, a
firewall that forgot the flow): it closes such a connection and reconnects with backoff.
HEARTBEAT_TTL asks the API's side to drop it too, so the broker stops sending into it.
"""

import secrets

import zmq
import zmq.asyncio

from libs.contracts.bus import routing_id
from services.renderer.settings import RendererSettings

RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2_000


def command_socket(context: zmq.asyncio.Context, worker_id: str, settings: RendererSettings) -> zmq.asyncio.Socket:
    """The DEALER to the broker's ROUTER, under a routing id of its own that names the worker."""
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.IDENTITY, routing_id(worker_id, secrets.token_hex(4)))
    dealer.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    dealer.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    _keep_link_honest(dealer, settings)
    _connect_all(dealer, settings.command_endpoints)
    return dealer


def event_socket(context: zmq.asyncio.Context, settings: RendererSettings) -> zmq.asyncio.Socket:
    """The PUB to the broker's SUB, for progress."""
    pub = context.socket(zmq.PUB)
    _keep_link_honest(pub, settings)
    _connect_all(pub, settings.event_endpoints)
    return pub


def _connect_all(socket: zmq.Socket, endpoints: tuple[str, ...]) -> None:
    """One endpoint: messages wait in its queue until the broker is up (the first Ready must).
    Several (one per API instance, one of them bound): IMMEDIATE, or libzmq would deal
    messages out to endpoints nobody bound, where they would wait for good; until the
    dispatcher's connection is up they are dropped instead, and its broker adopts the worker
    from the next heartbeat."""
    if len(endpoints) > 1:
        socket.setsockopt(zmq.IMMEDIATE, 1)
    for endpoint in endpoints:
        socket.connect(endpoint)


def _keep_link_honest(socket: zmq.Socket, settings: RendererSettings) -> None:
    socket.setsockopt(zmq.LINGER, 0)
    interval_ms = round(settings.heartbeat_interval * 1000)
    socket.setsockopt(zmq.HEARTBEAT_IVL, interval_ms)
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, interval_ms * settings.heartbeat_liveness)
    socket.setsockopt(zmq.HEARTBEAT_TTL, interval_ms * settings.heartbeat_liveness)
