"""A TCP relay on 127.0.0.1 that can turn its open connections into a black hole: they stop
carrying bytes either way but stay open (no FIN, no RST), as when a NAT or firewall forgets a
flow or a host vanishes from the network. New connections are still forwarded."""

import selectors
import socket
import threading
from types import TracebackType

CHUNK = 65536


class BlackHoleRelay:
    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._swallowed: list[socket.socket] = []
        """Black-holed ends, kept open (unread, unwritten) until the relay stops."""
        self._lock = threading.Lock()
        self._black_hole_requested = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="black-hole-relay", daemon=True)
        self.connections = 0
        """Connections accepted so far."""

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def __enter__(self) -> "BlackHoleRelay":
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for end in [self._listener, *self._peers, *self._swallowed]:
            end.close()
        self._selector.close()

    def black_hole(self) -> int:
        """Every connection open now goes silent for good; returns how many there were."""
        with self._lock:
            self._black_hole_requested.set()
            open_now = len(self._peers) // 2
        # The relay thread does it between two reads, so no half-forwarded chunk is left behind.
        while self._black_hole_requested.is_set() and self._thread.is_alive():
            self._stopping.wait(0.01)
        return open_now

    def _serve(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj in self._peers:
                    self._forward(key.fileobj)
            with self._lock:
                if self._black_hole_requested.is_set():
                    self._swallow_open_connections()
                    self._black_hole_requested.clear()

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        upstream = socket.create_connection(self._target)
        self.connections += 1
        for end, other in ((client, upstream), (upstream, client)):
            self._peers[end] = other
            self._selector.register(end, selectors.EVENT_READ)

    def _forward(self, end: socket.socket) -> None:
        other = self._peers[end]
        try:
            data = end.recv(CHUNK)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        # A clean close or reset on one side is passed on as a close of the other.
        for side in (end, other):
            self._selector.unregister(side)
            self._peers.pop(side)
            side.close()

    def _swallow_open_connections(self) -> None:
        for end in list(self._peers):
            self._selector.unregister(end)
            self._swallowed.append(end)
        self._peers.clear()
