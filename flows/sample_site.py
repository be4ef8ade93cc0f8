"""Serve the bundled sample site on 127.0.0.1 so that the default run exercises real fetching.

Each outlet directory of `seeds/sample_site/` is its own site, `http://<outlet>.localhost`
(its own host for politeness), served by an HTTP server on a free loopback port. The fetcher
reaches it through `pins` (`FetchPolicy.pinned_hosts`): the URLs, and the article ids and
feed validators keyed by them, stay the same whatever port is free, and a busy port never
stops a run. In text responses, `{{site:ID}}` becomes that outlet's base URL.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flows.sources import SITE_PLACEHOLDER

logger = logging.getLogger(__name__)

_TEXT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


def base_url(outlet: str) -> str:
    """The base URL of a sample outlet: the same on every run and every machine."""
    return f"http://{outlet}.localhost"


@dataclass(frozen=True, slots=True)
class SampleSite:
    """The running servers: outlet id -> base URL, and where each outlet's host listens."""

    bases: Mapping[str, str]  # outlet id -> "http://<outlet>.localhost"
    pins: Mapping[str, tuple[str, int]]  # "<outlet>.localhost" -> ("127.0.0.1", port)


class _Handler(BaseHTTPRequestHandler):
    server_version = "newsflow-sample-site"

    def __init__(self, *args: object, root: Path, bases: Mapping[str, str], **kw: object) -> None:
        self.root = root
        self.bases = bases
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        body, content_type = self._resolve()
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _resolve(self) -> tuple[bytes | None, str]:
        path = unquote(urlsplit(self.path).path)
        if path.endswith("/"):
            path += "index.html"
        target = (self.root / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            return None, ""
        data = target.read_bytes()
        suffix = target.suffix.lower()
        if suffix in _TEXT_TYPES:
            text = data.decode("utf-8")
            text = SITE_PLACEHOLDER.sub(lambda m: self.bases.get(m.group(1), m.group(0)), text)
            return text.encode("utf-8"), _TEXT_TYPES[suffix]
        guessed = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return data, guessed

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("sample site: " + format, *args)


@contextmanager
def serve_sample_site(site_dir: Path, outlets: set[str] | None = None) -> Iterator[SampleSite]:
    """Start one loopback server per outlet directory, each on a free port; stop them on exit."""
    site_dir = site_dir.resolve()
    names = sorted(p.name for p in site_dir.iterdir() if p.is_dir())
    if outlets is not None:
        missing = sorted(outlets - set(names))
        if missing:
            raise FileNotFoundError(f"{site_dir}: no sample outlet named {', '.join(missing)}")
        names = [name for name in names if name in outlets]
    bases = {name: base_url(name) for name in names}
    pins: dict[str, tuple[str, int]] = {}
    servers: list[ThreadingHTTPServer] = []
    try:
        for name in names:
            handler = partial(_Handler, root=site_dir / name, bases=bases)
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            server.daemon_threads = True
            servers.append(server)
            pins[urlsplit(bases[name]).netloc] = ("127.0.0.1", int(server.server_address[1]))
            thread = threading.Thread(target=server.serve_forever, name=f"sample-{name}")
            thread.daemon = True
            thread.start()
        yield SampleSite(bases=bases, pins=pins)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
