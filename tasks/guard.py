"""The address guard: which URLs the fetcher may connect to, and at which address.

Feeds name URLs that we do not control, so a link (or a redirect) can point at the
machine itself, at the cloud metadata service or at a private network. `check_url` allows
only http and https, resolves the host name once, and refuses the URL when any address it
resolves to is not a public unicast address. The fetcher then connects to the address that
was checked (never resolving the name a second time), so a name cannot change its answer
between the check and the connection.

Every spelling of an address ends up as the same `ipaddress` object before it is judged:
`0x7f000001`, `2130706433`, `017700000001` and `127.1` are parsed by the same rules as the
C resolver (`inet_aton`), `[::ffff:127.0.0.1]` is unwrapped to its IPv4 address, a zone
index (`[2606:4700::1%25eth0]`) is no part of the address, and other names are resolved. A
host name that is not a valid DNS name (an empty or over-long label) is refused.

Names under `localhost` (`localhost`, `news.localhost` ...) are loopback by definition
(RFC 6761 6.3): they are taken as 127.0.0.1 without asking any resolver, and refused like it.

Tests and the bundled sample site serve pages on 127.0.0.1: `allow_private` lists the exact
`host:port` netlocs that may resolve to a non-public address. It is empty by default.

`pinned` is the operator's own map from a URL's host (`host`, or `host:port` for another
port than the scheme's default) to the address and port to connect to instead, e.g.
`{"daily-courier.localhost": ("127.0.0.1", 28470)}`. A pinned host is never resolved and is
allowed whatever its address; the URL keeps its host, so the Host header, TLS name,
robots.txt and politeness stay those of the URL. Every other URL is checked as above.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import quote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Sequence[str]]  # host name -> its IP addresses, as text
Pins = Mapping[str, tuple[str, int]]  # "host[:port]" of a URL -> (IP address, port) to connect to

NO_PINS: Pins = MappingProxyType({})
LOCALHOST_ADDRESS = "127.0.0.1"

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_REQUEST_SAFE = "/%:@!$&'()*+,;=-._~[]"


class BlockedAddress(Exception):
    """The URL may not be fetched: its scheme, host or address is refused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableHost(Exception):
    """The host name did not resolve (DNS failure); possibly transient."""


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """A URL that passed the guard, with the address the connection must go to."""

    url: str
    scheme: str
    host: str  # lower-case host name as written in the URL (IDNA-encoded), no brackets
    port: int  # the URL's port (explicit or the scheme's default)
    address: str  # the checked (or pinned) IP address to connect to
    path: str  # path and query to send in the request line
    connect_port: int  # the port to connect to: the URL's, unless the host is pinned

    @property
    def netloc(self) -> str:
        """`host:port` with the port always present: the key for politeness and allowances."""
        return netloc_key(self.host, self.port)

    @property
    def host_header(self) -> str:
        """The Host header value: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"


def netloc_key(host: str, port: int) -> str:
    """`host:port` as `allow_private` lists it (IPv6 hosts in brackets)."""
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}"


def system_resolver(host: str) -> Sequence[str]:
    """The addresses the system resolver gives for `host`; `UnresolvableHost` if none."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"{host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


def _literal_address(host: str) -> IPAddress | None:
    """The address a numeric host spells, in any form the C resolver accepts, else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if all(c in "0123456789abcdefx." for c in host):  # host is lower case (split_url)
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refusal(address: IPAddress) -> str | None:
    """Why an address may not be fetched from, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            inner = refusal(mapped)
            return f"{inner} (inside {address})" if inner else None
        if address.teredo is not None:
            return f"teredo address {address}"
    for flag in (  # the most telling name first: 169.254.169.254 is private, but link-local
        "is_loopback",
        "is_unspecified",
        "is_link_local",
        "is_multicast",
        "is_reserved",
        "is_private",
    ):
        if getattr(address, flag):
            return f"{flag.removeprefix('is_').replace('_', '-')} address {address}"
    if not address.is_global:
        return f"non-global address {address}"
    return None


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL, or BlockedAddress for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise BlockedAddress(f"invalid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedAddress(f"scheme {scheme or '(none)'!r} not allowed")
    if not host:
        raise BlockedAddress("URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BlockedAddress("URL carries credentials")
    try:  # IDNA for non-ASCII names; for any name, refuses empty and over-long labels
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise BlockedAddress(f"invalid host name: {exc}") from exc
    host = host.rstrip(".").lower()  # not empty: IDNA refused a name of dots only
    # The request line may not carry spaces, controls or raw non-ASCII: percent-encode them,
    # leaving existing escapes and reserved characters as they are.
    path = quote(parts.path or "/", safe=_REQUEST_SAFE)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=_REQUEST_SAFE + '?')}"
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme], path


def normalize_pins(pins: Pins) -> dict[str, tuple[str, int]]:
    """Pins keyed as `check_url` looks them up: lower-case `host` or `host:port`.

    Raises ValueError, naming the entry, for a key that is not a host with an optional port,
    an address that is not an IP address, or a port outside 1-65535.
    """
    normal: dict[str, tuple[str, int]] = {}
    for key, (address, port) in pins.items():
        try:
            parts = urlsplit(f"//{key.strip()}")
            host, key_port = parts.hostname, parts.port
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise ValueError(f"pinned host {key!r}: {exc}") from None
        if not host or parts.path or parts.query or parts.username is not None:
            raise ValueError(f"pinned host {key!r}: not a host[:port]")
        if not 0 < int(port) < 65536:
            raise ValueError(f"pinned host {key!r}: port {port} out of range")
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"pinned host {key!r}: {exc}") from None
        host = host.rstrip(".")
        name = f"[{host}]" if ":" in host else host
        normal[netloc_key(host, key_port) if key_port is not None else name] = (address, int(port))
    return normal


def _pinned(pins: Pins, scheme: str, host: str, port: int) -> tuple[str, int] | None:
    if not pins:
        return None
    pin = pins.get(netloc_key(host, port))
    if pin is None and port == DEFAULT_PORTS[scheme]:
        pin = pins.get(f"[{host}]" if ":" in host else host)
    return pin


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def check_url(
    url: str,
    allow_private: frozenset[str] = frozenset(),
    *,
    resolve: Resolver = system_resolver,
    pinned: Pins = NO_PINS,
) -> ResolvedTarget:
    """Check a URL and pin the address to connect to.

    A host in `pinned` (keys as `normalize_pins` makes them) goes to its pinned address and
    port, without resolution or address checks. Otherwise raises `BlockedAddress` (with the
    reason) for a scheme other than http(s), a URL without a host, or a host whose addresses
    include a loopback, private, link-local, multicast, reserved, unspecified or otherwise
    non-global one, unless its `host:port` is listed in `allow_private`. Raises
    `UnresolvableHost` when the name does not resolve.
    """
    scheme, host, port, path = split_url(url)
    pin = _pinned(pinned, scheme, host, port)
    if pin is not None:
        address, connect_port = pin
        return ResolvedTarget(url.strip(), scheme, host, port, address, path, connect_port)
    allowed = netloc_key(host, port) in allow_private
    literal = _literal_address(host)
    if literal is not None:
        addresses = [str(literal)]
    elif _is_localhost(host):
        addresses = [LOCALHOST_ADDRESS]
    else:
        addresses = list(resolve(host))
    if not addresses:
        raise UnresolvableHost(f"{host}: no addresses")
    if not allowed:
        for text in addresses:
            why = refusal(ipaddress.ip_address(text))  # a zone (fe80::1%eth0) is accepted
            if why:
                raise BlockedAddress(f"{host} resolves to {why}")
    return ResolvedTarget(
        url=url.strip(),
        scheme=scheme,
        host=host,
        port=port,
        address=addresses[0],
        path=path,
        connect_port=port,
    )
