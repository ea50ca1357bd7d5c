"""Which origins the console's page may load assets from, and which browser origins may read
assets across origins (CORS), both derived from settings so neither is ever `*`.

Asset URLs are built from `PUBLIC_BASE_URL` (SPEC §2), so that origin is where the console's
<video>, poster and subtitle track come from, whatever origin the page itself was opened at.
"""

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """`scheme://host[:port]` as a browser writes it in an Origin header (default port left out)."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    port = "" if parts.port in (None, DEFAULT_PORTS.get(parts.scheme)) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


class AssetOrigins:
    """The origins asset URLs can have, and the browser origins allowed to read them."""

    def __init__(self, public_base_url: str, cors_allowed_origins: tuple[str, ...]) -> None:
        public = urlsplit(public_base_url)
        self.public_origin = origin_of(public_base_url)
        self._scheme = public.scheme
        self._port = public.port or DEFAULT_PORTS.get(public.scheme)
        own_names()  # looked up now, not on the first request that asks
        self._public_is_this_host = is_this_host(public.hostname or "")
        self._allowed = frozenset({self.public_origin, *cors_allowed_origins})

    @property
    def sources(self) -> tuple[str, ...]:
        """For the console's CSP img-src and media-src, beside 'self'."""
        return (self.public_origin,)

    def may_read(self, origin: str) -> bool:
        """A configured origin, or, when the public URL is this host itself (one machine, no
        proxy), this same server reached by another of the host's names or addresses: a
        console opened at 127.0.0.1 playing assets of `http://localhost:8000`."""
        if origin in self._allowed:
            return True
        if not self._public_is_this_host:
            return False
        parts = urlsplit(origin)
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return False
        return parts.scheme == self._scheme and port == self._port and is_this_host(parts.hostname or "")


@functools.cache
def own_names() -> frozenset[str]:
    """This machine's host names; looked up once (getfqdn may ask DNS), at start-up."""
    return frozenset({socket.gethostname().lower(), socket.getfqdn().lower()})


@functools.lru_cache(maxsize=256)
def is_this_host(host: str) -> bool:
    """Whether `host` names this machine: a loopback name, its own host name, or an address
    one of its interfaces holds (binding to an address another machine holds fails). Names
    other than these are not resolved: a DNS lookup must not sit on the request path."""
    host = host.lower().strip("[]")
    if host in LOOPBACK_NAMES or host in own_names():
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:  # EADDRNOTAVAIL: not an address of this machine
            return False
    return True
