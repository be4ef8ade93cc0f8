"""WARC files for tests, written record by record (one gzip member each) with fastwarc.

`Capture` describes one record; `write_warc` writes a list of them and returns each record's
offset, so a test can damage one member and know which record it hit.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastwarc.warc import WarcRecord, WarcRecordType

_TYPES = {
    "response": WarcRecordType.response,
    "revisit": WarcRecordType.revisit,
    "resource": WarcRecordType.resource,
    "request": WarcRecordType.request,
    "metadata": WarcRecordType.metadata,
    "warcinfo": WarcRecordType.warcinfo,
}


@dataclass(frozen=True)
class Capture:
    url: str
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    date: str = "2026-11-01T10:00:00Z"
    kind: str = "response"
    http_headers: tuple[tuple[str, str], ...] = ()  # extra headers (Content-Encoding ...)
    warc_headers: dict[str, str] = field(default_factory=dict)
    raw_block: bytes | None = None  # the record block exactly, instead of an HTTP message


def http_block(capture: Capture) -> bytes:
    lines = [f"HTTP/1.1 {capture.status} X", f"Content-Type: {capture.content_type}"]
    lines += [f"{name}: {value}" for name, value in capture.http_headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + capture.body


def record_bytes(capture: Capture) -> bytes:
    record = WarcRecord()
    record.init_headers(_TYPES[capture.kind])
    if capture.kind != "warcinfo":
        record.headers["WARC-Target-URI"] = capture.url
    record.headers["WARC-Date"] = capture.date
    if capture.raw_block is not None:
        record.set_bytes_content(capture.raw_block)
    elif capture.kind in ("response", "revisit"):
        record.set_bytes_content(http_block(capture))
        record.is_http = True
    else:
        record.set_bytes_content(capture.body)
        record.headers["Content-Type"] = capture.content_type
    for name, value in capture.warc_headers.items():
        record.headers[name] = value
    out = io.BytesIO()
    record.write(out, checksum_data=True)
    return out.getvalue()


def write_warc(path: Path, captures: Sequence[Capture], *, compress: bool = True) -> list[int]:
    """Write `captures` to `path`; returns the offset of each record."""
    offsets = []
    with path.open("wb") as out:
        for capture in captures:
            offsets.append(out.tell())
            data = record_bytes(capture)
            out.write(gzip.compress(data, mtime=0) if compress else data)
    return offsets


def article_html(title: str, paragraphs: Sequence[str], *, lang: str = "en") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='{lang}'><head><title>{title}</title>"
        f"<meta property='og:title' content='{title}'></head><body><article><h1>{title}</h1>"
        f"{body}</article></body></html>"
    ).encode()
