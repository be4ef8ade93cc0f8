"""One HTTP/1.1 GET to an address the guard checked, bounded in time and size.

`Transport.request_once` never follows redirects, never retries and never raises for
anything a server can do: whatever happens ends as an `Exchange` (a status and headers, a
body, or a reason code from `tasks.reasons` with a detail).

It is written on `requests` (one `Session` per thread, with its own `HTTPAdapter`) over
urllib3 2.x, with every layer that would loosen a bound switched off or replaced:
- direct connections go to the checked address and port (`ResolvedTarget.address` and
  `connect_port`: a pinned host's own), never to the host name: the request's URL names the
  address and carries the URL's Host header; for https the TLS handshake sends the host name
  (SNI) and verifies the certificate against it. urllib3 keys its connection pools by
  scheme, address, port and (https) that host name, so a kept-alive connection is only ever
  reused for the same checked address, and for https the same verified name;
- a watchdog timer shuts the connection's socket down at the total deadline (connect, TLS,
  headers and body together), so a server dripping a byte at a time cannot hold a worker
  longer than the deadline; the socket is watched through a duplicate of its descriptor, so
  the shutdown reaches it whichever object (plain or TLS) holds it at that moment;
- the body is read raw (`decode_content=False`) in pieces and decoded here (gzip, deflate)
  with a bound on the decoded size; a `Content-Length` above the cap is refused before any of
  the body is read, and the wire size is capped too;
- no redirects, no retries (urllib3's are 0), no cookies, no settings from the environment:
  the request is prepared here and goes through the session's adapter (`HTTPAdapter.send`),
  never `Session.request`/`Session.send`, which would add the session's headers, cookies,
  and the environment's proxies, CA bundles and .netrc, and would read a redirect's whole
  body, unbounded and decoded, even with `allow_redirects=False`.

A connection is kept for the next request to the same address when its answer was read to
the end (a 2xx body, or a non-2xx body of at most 64 KiB); any answer cut short, refused or
timed out closes its connection.

Proxy (opt-in, `proxy=`, or `proxy_from_env=True` for `HTTP_PROXY`/`HTTPS_PROXY`/
`ALL_PROXY`/`NO_PROXY`): an http:// or https:// proxy URL used for http targets (absolute-form
GET) and https targets (CONNECT, then TLS to the target verified against its host name).
Through a proxy the request names the URL's host and port, as proxies need them, and the
proxy makes the connection: the caller has still checked the target with the guard, but
the proxy resolves the name itself. A request with `use_proxy=False` (the fetcher's pinned
hosts) always goes direct.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests
import requests.adapters
import requests.utils
import urllib3
import urllib3.connection
import urllib3.exceptions

from tasks.guard import ResolvedTarget
from tasks.reasons import ReasonCode

_CHUNK = 64 * 1024
_DRAIN = 64 * 1024  # a non-2xx body up to this size is read away to keep the connection
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")
PROXY_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one exchange."""

    deadline_s: float  # total time: connect, headers and body
    connect_timeout_s: float
    max_bytes: int  # body cap, on the wire and decoded
    truncate: bool = False  # keep the first max_bytes and stop, instead of refusing (robots)
    html_types: frozenset[str] | None = None  # when set: other media types are `non_html`


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and whatever came back."""

    status: int | None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None  # the decoded body of a 2xx answer read in full
    wire_bytes: int = 0
    reason: ReasonCode | None = None  # a failure before or while reading the body
    detail: str = ""
    elapsed: float = 0.0

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def media_type(content_type: str | None) -> str | None:
    """`text/html` of `text/HTML; charset=utf-8`; None when there is none."""
    if not content_type:
        return None
    return content_type.partition(";")[0].strip().lower() or None


def check_proxy_url(url: str) -> str:
    """`url` if it is an http:// or https:// proxy URL with a host; ValueError otherwise."""
    try:
        parsed = urllib3.util.parse_url(url.strip())
    except urllib3.exceptions.LocationParseError as exc:
        raise ValueError(f"proxy {url!r}: {exc}") from None
    if parsed.scheme not in PROXY_SCHEMES or not parsed.host:
        raise ValueError(f"proxy {url!r}: not an http:// or https:// URL with a host")
    return url.strip()


# ------------------------------------------------------------------ the deadline


class _Watch:
    """The total deadline of one exchange: at `expire`, every socket it watches is shut down.

    Sockets are held as duplicates of their descriptors (closed by `close`): shutting one
    down ends the connection under whatever object uses it, including a TLS handshake.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.expired = False

    def add(self, sock: socket.socket) -> None:
        copy = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._socks.append(copy)
            if self.expired:  # it fired while this socket was being opened
                with contextlib.suppress(OSError):
                    copy.shutdown(socket.SHUT_RDWR)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            for sock in self._socks:
                sock.close()
            self._socks.clear()


class _Watching(threading.local):
    watch: _Watch | None = None  # the _Watch of the exchange running in this thread


_watching = _Watching()


def _watch(sock: socket.socket | None) -> None:
    """Watch `sock` (an open socket, or None: urllib3 sets a closed connection's to None)."""
    watch = _watching.watch
    if watch is not None and sock is not None:
        watch.add(sock)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # before the proxy tunnel and the TLS handshake
        return sock


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls: type[urllib3.connection.HTTPConnection] = _HTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn: Any = super()._get_conn(timeout)
        _watch(conn.sock)  # a kept-alive connection, reused
        return conn


class _HTTPSPool(_HTTPPool, urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


# ------------------------------------------------------------------ requests


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """The transport adapter: watched connections, our TLS context, the Host's TLS name.

    The TLS name (SNI and certificate check) is the host of the request's Host header, so
    a URL that names the checked address is still verified against the URL's host name.
    """

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        super().__init__(max_retries=0)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params["scheme"] == "https":
            pool_kwargs["ssl_context"] = self._tls
            host = str(request.headers["Host"])  # set by request_once, a str already
            name = urllib3.util.parse_url(f"//{host}").host
            if name:
                pool_kwargs["server_hostname"] = name  # urllib3 strips an IPv6 literal's []
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Trust is the TLS context's (loaded once), not a CA bundle path per connection."""


def _session(tls: ssl.SSLContext) -> requests.Session:
    session = requests.Session()
    adapter = _PinnedAdapter(tls)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Transport:
    """Sends exchanges: one `requests.Session` per calling thread, closed by `close`."""

    def __init__(
        self, tls: ssl.SSLContext, *, proxy: str | None = None, proxy_from_env: bool = False
    ) -> None:
        self._tls = tls
        self._proxy = check_proxy_url(proxy) if proxy else None
        self._proxy_from_env = proxy_from_env
        self._local = threading.local()
        self._sessions: weakref.WeakSet[requests.Session] = weakref.WeakSet()
        self._lock = threading.Lock()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every kept-alive connection of every thread's session."""
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.close()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _session(self._tls)
            with self._lock:
                self._sessions.add(session)
        return session

    def proxy_for(self, target: ResolvedTarget) -> str | None:
        """The proxy a request to `target` goes through, or None for a direct connection."""
        if self._proxy is not None:
            return self._proxy
        if self._proxy_from_env:
            url = _named_url(target)
            proxy = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
            return check_proxy_url(proxy) if proxy else None
        return None

    def request_once(
        self,
        target: ResolvedTarget,
        headers: Mapping[str, str],
        limits: Limits,
        *,
        use_proxy: bool = True,
    ) -> Exchange:
        """GET `target.path` with `headers` (the Host header is the target's); the body is
        read only for a 2xx answer. `use_proxy=False` goes direct even with a proxy set."""
        proxy = self.proxy_for(target) if use_proxy else None
        request = requests.PreparedRequest()
        request.prepare_method("GET")
        # Header names are case-insensitive there: the target's Host replaces any given one.
        # It is also the TLS name (see _PinnedAdapter).
        request.prepare_headers({**headers, "Host": target.host_header})
        # The URL as the guard made it (not requoted): the checked address, or the name for
        # a proxy.
        request.url = _named_url(target) if proxy else _address_url(target)
        proxies = {"http": proxy, "https": proxy} if proxy else {}
        return _exchange(self._session(), request, proxies, limits)


def _named_url(target: ResolvedTarget) -> str:
    return f"{target.scheme}://{target.host_header}{target.path}"


def _address_url(target: ResolvedTarget) -> str:
    address = target.address.replace("%", "%25")  # a zone index, as a URL spells it
    address = f"[{address}]" if ":" in address else address
    return f"{target.scheme}://{address}:{target.connect_port}{target.path}"


# ------------------------------------------------------------------ one exchange


class _Inflater:
    """Content-Encoding decoder that never produces more than it is allowed to."""

    def __init__(self, coding: str) -> None:
        self._coding = coding  # "", identity, gzip, x-gzip or deflate
        self._z: zlib._Decompress | None = None  # made when two bytes have come
        self._head = b""  # a first byte alone, until the second one arrives

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode `data`, returning at most `room` bytes (more pending means: over the cap)."""
        if self._coding in ("", "identity"):
            return data[:room]
        if self._z is None:
            data = self._head + data
            if len(data) < 2:  # deflate tells zlib from raw by the first two bytes
                self._head = data
                return b""
            self._z = zlib.decompressobj(self._wbits(data))
        out = self._z.decompress(data, room)
        if len(out) < room and self._z.eof and self._z.unused_data and self._coding != "deflate":
            rest = self._z.unused_data  # a further gzip member
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += self.feed(rest, room - len(out))
        return out

    def _wbits(self, start: bytes) -> int:
        if self._coding != "deflate":
            return 16 + zlib.MAX_WBITS  # gzip
        # zlib-wrapped as RFC 9110 says, or raw deflate as some servers send it
        wrapped = start[0] & 0x0F == 8 and (start[0] << 8 | start[1]) % 31 == 0
        return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS

    @property
    def complete(self) -> bool:
        """Whether the compressed stream has ended (no body at all is complete too)."""
        if self._z is None:
            return not self._head
        return self._z.eof


class _Expired(Exception):
    """The watchdog fired: the total deadline passed."""


@dataclass(eq=False)
class _Refused(Exception):
    """The answer is refused (too large, wrong type ...): a reason code and a detail."""

    reason: ReasonCode
    detail: str


def _exchange(
    session: requests.Session,
    request: requests.PreparedRequest,
    proxies: dict[str, str],
    limits: Limits,
) -> Exchange:
    started = time.monotonic()
    watch = _Watch()
    watchdog = threading.Timer(limits.deadline_s, watch.expire)  # cancelled however this ends
    _watching.watch = watch
    watchdog.start()
    status: int | None = None
    reply_headers: tuple[tuple[str, str], ...] = ()
    received = [0]  # body bytes read from the wire, kept when reading stops early
    response: requests.Response | None = None

    def failed(reason: ReasonCode, detail: str) -> Exchange:
        elapsed = time.monotonic() - started
        return Exchange(status, reply_headers, None, received[0], reason, detail, elapsed)

    try:
        # The adapter's send, not the session's: Session.send reads a redirect's whole body
        # (to build `Response.next`) even with allow_redirects=False, unbounded and decoded.
        response = session.get_adapter(str(request.url)).send(
            request,  # the adapter streams: it never reads the body itself
            proxies=proxies,
            timeout=(min(limits.connect_timeout_s, limits.deadline_s), limits.deadline_s),
        )
        status = response.status_code
        reply_headers = tuple(response.raw.headers.items())
        done = Exchange(status=status, headers=reply_headers)
        if not 200 <= status < 300:
            _drain(response)
            return replace(done, elapsed=time.monotonic() - started)
        body = _read_body(response.raw, done, limits, watch, received)
        return replace(done, body=body, wire_bytes=received[0], elapsed=time.monotonic() - started)
    except _Refused as exc:
        return failed(exc.reason, exc.detail)
    except _Expired:
        return failed("timeout", _missed(limits))
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if watch.expired:
            return failed("timeout", _missed(limits))
        reason, detail = _failure(exc)
        return failed(reason, detail)
    finally:
        watchdog.cancel()
        _watching.watch = None
        if response is not None and not response.raw.closed:
            response.close()  # an answer not read to its end: its connection is not reused
        watch.close()


def _missed(limits: Limits) -> str:
    return f"no complete answer within {limits.deadline_s:g}s"


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception under requests' and urllib3's wrappers: they raise theirs
    from (or while handling) the one they wrap, or hold it unraised in their arguments."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__
        inner = inner or next((a for a in exc.args if isinstance(a, BaseException)), None)
        if inner is None:
            break
        exc = inner
    return exc


def _failure(exc: BaseException) -> tuple[ReasonCode, str]:
    cause = _cause(exc)
    detail = f"{type(cause).__name__}: {cause}"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "connection_error", f"proxy: {detail}"
    if isinstance(cause, TimeoutError):
        return "timeout", detail
    if isinstance(cause, ssl.SSLError):  # the certificate checks' errors too
        return "tls_error", detail
    if isinstance(cause, OSError | http.client.IncompleteRead):
        return "connection_error", detail
    return "protocol_error", detail


def _drain(response: requests.Response) -> None:
    """Read a small non-2xx body away so that its connection can be reused."""
    length = response.headers.get("Content-Length", "").strip()
    if not length.isdigit() or int(length) > _DRAIN:
        return  # left unread: the connection is closed
    with contextlib.suppress(urllib3.exceptions.HTTPError):  # urllib3 wraps OSError
        response.raw.read(_DRAIN + 1, decode_content=False)


def _read_body(
    raw: urllib3.BaseHTTPResponse,
    exchange: Exchange,
    limits: Limits,
    watch: _Watch,
    received: list[int],
) -> bytes:
    cap = limits.max_bytes
    media = media_type(exchange.header("Content-Type"))
    if limits.html_types is not None and media is not None and media not in limits.html_types:
        raise _Refused("non_html", f"content type {media}")
    length = exchange.header("Content-Length")
    announced = int(length) if length and length.strip().isdigit() else None
    if announced is not None and announced > cap and not limits.truncate:
        raise _Refused("too_large", f"Content-Length {announced} over the cap {cap}")
    coding = (exchange.header("Content-Encoding") or "").strip().lower()
    if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise _Refused("bad_encoding", f"Content-Encoding {coding}")
    inflater = _Inflater(coding)
    parts: list[bytes] = []
    size = 0
    while True:
        if watch.expired:
            raise _Expired
        try:
            chunk = raw.read1(_CHUNK, decode_content=False)
        except urllib3.exceptions.ProtocolError as exc:
            if watch.expired:
                raise _Expired from exc
            if isinstance(_cause(exc), http.client.IncompleteRead) and announced is not None:
                short = announced - received[0]
                detail = f"connection closed {short} bytes short of its Content-Length"
                raise _Refused("connection_error", detail) from exc
            raise
        if not chunk:
            if watch.expired:
                raise _Expired
            if not inflater.complete:
                raise _Refused("bad_encoding", f"{coding} body cut short")
            break
        received[0] += len(chunk)
        if received[0] > cap and not limits.truncate:
            raise _Refused("too_large", f"body over the cap {cap} on the wire")
        try:
            data = inflater.feed(chunk, cap + 1 - size)
        except zlib.error as exc:
            raise _Refused("bad_encoding", f"corrupt {coding} body: {exc}") from exc
        sniff = size == 0 and limits.html_types is not None and media is None
        if sniff and data.startswith(_BINARY_MAGIC):
            raise _Refused("non_html", "binary content without a content type")
        parts.append(data)
        size += len(data)
        if size > cap:
            if limits.truncate:
                break
            raise _Refused("too_large", f"decoded body over the cap {cap}")
    return b"".join(parts)[:cap]  # in truncate mode, the last piece may go past the cap
