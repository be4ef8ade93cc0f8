"""Loopback HTTP(S) servers with scripted behaviour, for tests and benchmarks.

    with LoopbackServer({"/a": Reply(body=b"<p>hi</p>"), "/slow": Reply(drip=0.5)}) as srv:
        fetch(srv.url("/a"))
        assert srv.hits("/a") == 1

A route maps a path (query included when the route names one; otherwise the path alone)
to one of:
- a `Reply`, served to every request (status, headers, body, delays, drip, chunked,
  a false Content-Length, a TCP reset, or raw bytes that are not HTTP at all);
- a sequence of `Reply`, served in turn (the last one repeats), e.g. 503, 503, 200;
- a function of the `Request` returning a `Reply` (e.g. to answer 304 to If-None-Match).
Unknown paths answer 404. Every request is recorded (`requests`, `hits`) with its headers
and its arrival time on the monotonic clock, so tests can check that no connection was made
or how far apart two requests were. `LoopbackServer(routes, tls=context)` serves https.
Each answer closes its connection, unless `keep_alive=True` (then a connection stays open
until the client asks to close it); `connections` counts the connections accepted.

`RecordingProxy` is a forwarding HTTP proxy (absolute-form requests and CONNECT tunnels) that
records every request line it receives.

Helpers: `redirect`, `robots`, `gzip_bomb`, `deflate_bomb`, `gzipped`,
`tls_certificate` for a throw-away CA and a server certificate (`tls=`), and `SilentPort`,
a port that takes connections and never answers (or, full, never lets one complete).
"""

from __future__ import annotations

import contextlib
import gzip
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    """What the server does for one request."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before the status line
    header_drip: float | None = None  # seconds between single bytes of the status line+headers
    drip: float | None = None  # seconds between single bytes of the body
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    content_length: int | None = None  # announce this instead of the real length
    repeat: int = 1  # send `body` this many times (large bodies without holding them)
    reset: bool = False  # drop the connection with a TCP reset instead of answering
    raw: bytes | None = None  # send these bytes verbatim (not HTTP, broken HTTP ...) and close
    close_delimited: bool = False  # no Content-Length, not chunked: the body ends at the close


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    path: str
    headers: Mapping[str, str]  # lower-case names
    at: float  # time.monotonic() on arrival


Route = Reply | Sequence[Reply] | Callable[[Request], Reply]


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect to `location` (absolute or relative)."""
    return Reply(status=status, headers=(("Location", location),), content_type=None)


def robots(text: str) -> Reply:
    """A robots.txt answer."""
    return Reply(body=text.encode(), content_type="text/plain")


def _bomb(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * (1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    parts.append(packer.flush())
    return b"".join(parts)


def gzip_bomb(size: int) -> Reply:
    """A gzip-encoded HTML body that expands to `size` bytes (of zeros)."""
    return Reply(body=_bomb(size, 16 + zlib.MAX_WBITS), headers=(("Content-Encoding", "gzip"),))


def deflate_bomb(size: int) -> Reply:
    """A deflate-encoded (zlib-wrapped) HTML body that expands to `size` bytes."""
    return Reply(body=_bomb(size, zlib.MAX_WBITS), headers=(("Content-Encoding", "deflate"),))


def gzipped(data: bytes) -> bytes:
    """`data` gzip-compressed (for sitemap.xml.gz and Content-Encoding tests)."""
    return gzip.compress(data, mtime=0)


def tls_certificate(folder: Path, name: str = "localhost") -> tuple[str, ssl.SSLContext]:
    """A throw-away CA and a server certificate for the host `name` only, written to `folder`:
    (the CA file a client trusts, a server-side context for `LoopbackServer(tls=...)`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    start, end = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsflow test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "server.pem"
    cert_file.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file)
    return str(ca_file), context


@dataclass
class _State:
    routes: dict[str, Route]
    keep_alive: bool = False
    served: dict[str, int] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        state = self.server.state
        request = Request(
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            at=time.monotonic(),
        )
        with state.lock:
            state.requests.append(request)
            key = self.path if self.path in state.routes else self.path.split("?", 1)[0]
            route = state.routes.get(key)
            turn = state.served.get(key, 0)
            state.served[key] = turn + 1
        if route is None:
            reply = Reply(status=404, body=b"not found", content_type="text/plain")
        elif isinstance(route, Reply):
            reply = route
        elif callable(route):
            reply = route(request)
        else:
            reply = route[min(turn, len(route) - 1)]
        if not state.keep_alive or reply.raw is not None or reply.close_delimited:
            self.close_connection = True  # else as the request asks (HTTP/1.1: keep it)
        self._answer(reply)

    def _pause(self, seconds: float) -> None:
        if self.server.state.stopping.wait(seconds):
            raise ConnectionAbortedError("server stopping")

    def _answer(self, reply: Reply) -> None:
        if reply.delay:
            self._pause(reply.delay)
        if reply.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if reply.raw is not None:
            self.wfile.write(reply.raw)
            self.wfile.flush()
            return
        lines = [f"HTTP/1.1 {reply.status} X"]
        if reply.content_type:
            lines.append(f"Content-Type: {reply.content_type}")
        lines.extend(f"{name}: {value}" for name, value in reply.headers)
        if self.close_connection:
            lines.append("Connection: close")
        if reply.chunked:
            lines.append("Transfer-Encoding: chunked")
        elif not reply.close_delimited:
            length = reply.content_length
            if length is None:
                length = len(reply.body) * reply.repeat
            lines.append(f"Content-Length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if reply.header_drip:
            for i in range(len(head)):
                self.wfile.write(head[i : i + 1])
                self.wfile.flush()
                self._pause(reply.header_drip)
        else:
            self.wfile.write(head)
        for _ in range(reply.repeat):
            self._send_body(reply)
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_body(self, reply: Reply) -> None:
        if not reply.body:
            return
        if reply.drip:
            for i in range(len(reply.body)):
                self._write(reply.body[i : i + 1], reply.chunked)
                self.wfile.flush()
                self._pause(reply.drip)
        else:
            self._write(reply.body, reply.chunked)

    def _write(self, data: bytes, chunked: bool) -> None:
        if chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hang up on hostile replies by design: not an error worth printing."""

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.state.lock:
            self.state.connections += 1
        super().process_request(request, client_address)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving scripted routes."""

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        keep_alive: bool = False,
    ) -> None:
        """`tls`: a server-side context to serve https instead of http. `keep_alive`: keep
        connections open between requests (only for replies with a length, not `raw`)."""
        self._state = _State(routes=dict(routes or {}), keep_alive=keep_alive)
        self._server = _Server(self._state)
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; dripping handlers stop at their next byte."""
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def netloc(self) -> str:
        """`127.0.0.1:<port>`: what `FetchPolicy.allow_private` lists to allow this server."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        """The URL of `path` on this server, spelling the host as `host`."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, route: Route) -> None:
        """Add or replace a route while the server runs."""
        with self._state.lock:
            self._state.routes[path] = route
            self._state.served.pop(path, None)

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def connections(self) -> int:
        """How many connections the server has accepted so far."""
        with self._state.lock:
            return self._state.connections

    def hits(self, path: str | None = None) -> int:
        """How many requests arrived (for `path`, query ignored unless given; or in all)."""
        return sum(
            1
            for r in self.requests
            if path is None or r.path == path or r.path.split("?", 1)[0] == path
        )


class RecordingProxy:
    """A forwarding HTTP proxy on 127.0.0.1 that records every request line it receives.

    An absolute-form request (`GET http://127.0.0.1:8080/a HTTP/1.1`) is sent on to its
    host, one request per client connection; `CONNECT host:port` opens a tunnel. The proxy
    resolves names itself (as a real one does), so tests only name loopback hosts.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`: the proxy setting that sends requests here."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def lines(self) -> list[str]:
        """Every request line received so far, in arrival order."""
        with self._lock:
            return list(self._lines)

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError), contextlib.ExitStack() as stack:
            stack.enter_context(client)
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            head, _, rest = head.partition(b"\r\n\r\n")
            line, *header_lines = head.decode("latin-1").split("\r\n")
            with self._lock:
                self._lines.append(line)
            method, target, _version = line.split(" ", 2)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = stack.enter_context(
                    socket.create_connection((host.strip("[]"), int(port)), timeout=10)
                )
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(client, upstream, rest)
                return
            parts = urlsplit(target)
            upstream = stack.enter_context(
                socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10)
            )
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            kept = [
                h
                for h in header_lines
                if h.split(":", 1)[0].strip().lower() not in ("connection", "proxy-connection")
            ]
            request = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
            upstream.sendall(request.encode("latin-1") + b"\r\n\r\n" + rest)
            while data := upstream.recv(65536):
                client.sendall(data)


def _pipe(one: socket.socket, other: socket.socket, pending: bytes) -> None:
    """Relay bytes both ways until either side closes."""
    if pending:
        other.sendall(pending)
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (other if sock is one else one).sendall(data)


class SilentPort:
    """A port on 127.0.0.1 whose listener never accepts and never answers.

    A first connection completes (the kernel queues it) and then hears nothing; with
    `full=True` the test's own connection takes that one place, so that a further attempt
    hangs in connect itself (its SYN is dropped). `close` may be called from another thread.
    """

    def __init__(self, *, full: bool = False) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._held = [socket.create_connection(("127.0.0.1", self.port))] if full else []
        self.closed = threading.Event()

    def __enter__(self) -> SilentPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the listener: a connection attempt still waiting is then refused."""
        self.closed.set()
        for sock in (*self._held, self._listener):
            sock.close()


def loopback_policy(*servers: LoopbackServer, **policy: Any) -> Any:
    """A `FetchPolicy` allowed onto these servers only, with 1 MB caps, no per-host delay,
    short deadlines and backoff; `policy` overrides any `FetchPolicy` field."""
    from tasks.fetch import FetchPolicy

    settings: dict[str, Any] = {
        "user_agent": "newsflow-test/0 (+http://127.0.0.1/)",
        "deadline_s": 5.0,
        "connect_timeout_s": 2.0,
        "allow_private": frozenset(s.netloc for s in servers),
        "per_host_delay_s": 0.0,
        "max_bytes": 1 << 20,
        "max_document_bytes": 1 << 20,
        "max_retries": 2,
        "backoff_base_s": 0.05,
        "max_retry_after_s": 5.0,
        "proxy": None,
        "proxy_from_env": False,
        **policy,
    }
    return FetchPolicy(**settings)


def loopback_fetcher(*servers: LoopbackServer, seed: int, **policy: Any) -> Any:
    """A live `HttpFetcher` with `loopback_policy(*servers, **policy)`. `seed` fixes the
    backoff jitter, so a test's waits are the same from run to run."""
    import random

    from tasks.fetch import HttpFetcher

    return HttpFetcher(loopback_policy(*servers, **policy), rng=random.Random(seed))
