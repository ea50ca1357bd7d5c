"""A renderer configured with every API instance's endpoints talks to the one instance that
bound them (DESIGN §8): real ZeroMQ sockets, one endpoint bound and one nobody bound."""

import contextlib

import pytest
import zmq
import zmq.asyncio

from services.renderer.settings import RendererSettings
from services.renderer.sockets import command_socket
from tests.stack import free_port

GIVE_UP_MS = 10_000


def test_endpoint_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("RENDER_COMMAND_ENDPOINT", "tcp://127.0.0.2:5555, tcp://127.0.0.3:5555,")
    monkeypatch.setenv("RENDER_EVENT_ENDPOINT", "tcp://127.0.0.2:5556")
    settings = RendererSettings()
    assert settings.command_endpoints == ("tcp://127.0.0.2:5555", "tcp://127.0.0.3:5555")
    assert settings.event_endpoints == ("tcp://127.0.0.2:5556",)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_every_message_reaches_the_bound_endpoint_none_waits_on_the_other():
    bound, unbound = (f"tcp://127.0.0.1:{free_port()}" for _ in range(2))
    context = zmq.asyncio.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(bound)
    dealer = command_socket(context, "host-w0", RendererSettings(command_endpoints=(unbound, bound)))
    try:
        # Until the connection is up, IMMEDIATE refuses to queue; a worker resends what matters.
        while not await router.poll(100):
            with contextlib.suppress(zmq.Again):
                dealer.send(b"hello", zmq.NOBLOCK)
        await router.recv_multipart()
        for number in range(20):
            dealer.send(str(number).encode(), zmq.NOBLOCK)
        received = []
        # Without IMMEDIATE every other message would wait for the unbound endpoint, for good.
        while await router.poll(GIVE_UP_MS):
            received.append((await router.recv_multipart())[1])
            if len(received) == 20:
                break
        assert received == [str(number).encode() for number in range(20)]
    finally:
        dealer.close()
        router.close()
        context.term()
