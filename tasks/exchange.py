"""One HTTP/1.1 GET to an address the guard checked, bounded in time and size.

`request_once` never follows redirects, never retries and never raises for anything a server
can do: whatever happens ends as an `Exchange` (a status and headers, a body, or a reason
code from `tasks.reasons` with a detail). It is written on `http.client` because every
layer `requests` adds (proxies from the environment, redirects, decoding, a per-read timeout,
its own name resolution) is one we would have to switch off:
- the connection goes to the checked address and port (`ResolvedTarget.address` and
  `connect_port`: a pinned host's own), never to the host name, with the URL's Host header;
  for https the TLS handshake verifies the certificate against the host name (SNI);
- a watchdog timer shuts the socket down at the total deadline, so a server dripping a byte
  at a time (in the headers or in the body) cannot hold a worker longer than the deadline;
- the body is read in pieces and decoded (gzip, deflate) with a bound on the decoded size,
  and a `Content-Length` above the cap is refused before any of the body is read.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tasks.guard import ResolvedTarget
from tasks.reasons import ReasonCode

_CHUNK = 64 * 1024
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")


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


class _PinnedHTTPSConnection(http.client.HTTPConnection):
    """TLS to a pinned address, verifying the certificate against the URL's host name."""

    default_port = 443

    def __init__(
        self,
        address: str,
        port: int,
        *,
        server_hostname: str,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(address, port, timeout=timeout)
        self._server_hostname = server_hostname
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_hostname)


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


def _connection(
    target: ResolvedTarget, timeout: float, tls: ssl.SSLContext
) -> http.client.HTTPConnection:
    address, port = target.address, target.connect_port
    if target.scheme == "https":
        return _PinnedHTTPSConnection(
            address, port, server_hostname=target.host, timeout=timeout, context=tls
        )
    return http.client.HTTPConnection(address, port, timeout=timeout)


def request_once(
    target: ResolvedTarget, headers: Mapping[str, str], limits: Limits, tls: ssl.SSLContext
) -> Exchange:
    """GET `target.path` from `target.address`; the body is read only for a 2xx answer."""
    started = time.monotonic()
    deadline = started + limits.deadline_s
    conn = _connection(target, min(limits.connect_timeout_s, limits.deadline_s), tls)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(limits.deadline_s, expire)  # cancelled however this ends
    watchdog.start()
    status: int | None = None
    reply_headers: tuple[tuple[str, str], ...] = ()
    received = [0]  # body bytes read from the wire, kept when reading stops early

    def failed(reason: ReasonCode, detail: str) -> Exchange:
        elapsed = time.monotonic() - started
        return Exchange(status, reply_headers, None, received[0], reason, detail, elapsed)

    try:
        conn.connect()
        if expired.is_set():  # it fired while connecting, when there was no socket to shut
            raise _Expired
        conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
        conn.request("GET", target.path, headers=dict(headers))
        response = conn.getresponse()
        status = response.status
        reply_headers = tuple(response.getheaders())
        done = Exchange(status=status, headers=reply_headers)
        if not 200 <= status < 300:
            return replace(done, elapsed=time.monotonic() - started)
        body = _read_body(response, done, limits, expired, received)
        return replace(done, body=body, wire_bytes=received[0], elapsed=time.monotonic() - started)
    except _Refused as exc:
        return failed(exc.reason, exc.detail)
    except _Expired:
        return failed("timeout", f"no complete answer within {limits.deadline_s:g}s")
    except (http.client.HTTPException, OSError) as exc:  # ssl.SSLError is an OSError
        reason: ReasonCode
        if expired.is_set() or isinstance(exc, TimeoutError):
            reason = "timeout"
        elif isinstance(exc, ssl.SSLError):
            reason = "tls_error"
        elif isinstance(exc, OSError | http.client.IncompleteRead):
            reason = "connection_error"
        else:
            reason = "protocol_error"
        return failed(reason, f"{type(exc).__name__}: {exc}")
    finally:
        watchdog.cancel()
        conn.close()


def _read_body(
    response: http.client.HTTPResponse,
    exchange: Exchange,
    limits: Limits,
    expired: threading.Event,
    received: list[int],
) -> bytes:
    cap = limits.max_bytes
    media = media_type(exchange.header("Content-Type"))
    if limits.html_types is not None and media is not None and media not in limits.html_types:
        raise _Refused("non_html", f"content type {media}")
    length = exchange.header("Content-Length")
    if length and length.strip().isdigit() and int(length) > cap and not limits.truncate:
        raise _Refused("too_large", f"Content-Length {int(length)} over the cap {cap}")
    coding = (exchange.header("Content-Encoding") or "").strip().lower()
    if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise _Refused("bad_encoding", f"Content-Encoding {coding}")
    inflater = _Inflater(coding)
    parts: list[bytes] = []
    size = 0
    while True:
        if expired.is_set():
            raise _Expired
        chunk = response.read1(_CHUNK)
        if not chunk:
            if expired.is_set():
                raise _Expired
            if response.length:  # the server closed before the announced length
                detail = f"connection closed {response.length} bytes short of its Content-Length"
                raise _Refused("connection_error", detail)
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
