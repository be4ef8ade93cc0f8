"""The raw archive: every fetched page of a run in one WARC/1.1 file, gzipped per record.

Each page becomes a `response` record (the HTTP status line, a few headers and the body as
received) followed by a `metadata` record (JSON: source id, requested URL, the charset the run
decoded it with, what discovery said) that points back to it with `WARC-Concurrent-To`.

An archive is never replaced in place. It is named by its content,
`<data_dir>/raw/run_date=YYYY-MM-DD/<scope>.<digest>.warc.gz`, and a page's `raw_record_id` is
`"<run_date>/<file name>#<offset>"`, the byte offset of its response record's gzip member, so
one page can be read back without scanning the file. A rerun of a date publishes its archive
beside the previous one; the tables that name the previous one keep resolving until they are
replaced too, and only then is the previous archive removed (`warehouse.publish`). So a
`raw_record_id` leads to the record it was written for at every point of a publication.

While a run is being written its archive's name is not known yet: `RawArchive.append` hands
out provisional ids (`<run_date>/<scope>.pending.warc.gz#<offset>`) and `RawArchive.resolve`
turns them into final ones once the archive is closed. The archive is written in a locked
staging area and moved into `raw/` when the run is published.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import uuid
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from tasks.records import Discovered, FetchedPage
from warehouse.lake import (
    StagingArea,
    check_scope,
    fsync_path,
    make_dirs,
    raw_dir,
    raw_partition,
    writing,
)

_CHUNK = 1 << 16
# The body is stored decoded and whole: framing headers would lie about it; cookies stay out.
_DROPPED_HEADERS = frozenset(
    {
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "set-cookie",
    }
)
_NAMESPACE = uuid.UUID("6f1c9a52-3b0e-4c55-9d0a-6a2f3c1e8b47")
_PENDING = "pending"
DIGEST_CHARS = 16  # hex digits of the content digest in an archive's name


class CorruptRawArchive(ValueError):
    """A raw archive (or a record in it) cannot be read back."""


@dataclass(frozen=True, slots=True)
class WarcRecord:
    offset: int
    headers: dict[str, str]
    block: bytes

    @property
    def type(self) -> str:
        return self.headers.get("WARC-Type", "")

    @property
    def record_id(self) -> str:
        return self.headers.get("WARC-Record-ID", "")


def archive_name(raw_record_id: str) -> str:
    """The archive a `raw_record_id` points into: `"<run_date>/<file name>"`."""
    return raw_record_id.partition("#")[0]


def archive_path(data_dir: Path, name: str) -> Path:
    """Where the archive `"<run_date>/<file name>"` lives under `data_dir`."""
    day, _, file_name = name.partition("/")
    if not day or not file_name or "/" in file_name or file_name.startswith("."):
        raise CorruptRawArchive(f"not a raw archive name: {name!r}")
    return raw_dir(data_dir) / f"run_date={day}" / file_name


def archives_of(data_dir: Path, run_date: date, scope: str) -> list[Path]:
    """Every published archive of one run's date and scope (more than one only between a
    rerun's publication and the removal of the archive it replaced)."""
    folder = raw_partition(data_dir, run_date)
    if not folder.is_dir():
        return []
    # <scope>.<digest>.warc.gz; <scope>.warc.gz was the name before archives were versioned.
    digest = rf"(\.[0-9a-f]{{{DIGEST_CHARS}}})?"
    pattern = re.compile(rf"{re.escape(check_scope(scope))}{digest}\.warc\.gz")
    return sorted(path for path in folder.iterdir() if pattern.fullmatch(path.name))


# ------------------------------------------------------------------ writing


class RawArchive:
    """Appends fetched pages to this run's archive; thread-safe; publish or discard it."""

    def __init__(self, data_dir: Path, run_date: date, scope: str) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.run_date = run_date
        self.scope = check_scope(scope)
        self._area = StagingArea(data_dir, f"{run_date.isoformat()}__{scope}.raw")
        self.staged_path = self._area.path / f"{scope}.{_PENDING}.warc.gz"
        self.pending_prefix = f"{run_date.isoformat()}/{self.staged_path.name}#"
        self._handle: BinaryIO | None = self.staged_path.open("wb")
        self._digest = hashlib.sha256()
        self._lock = threading.Lock()
        self.count = 0
        self.name: str | None = None  # "<run_date>/<scope>.<digest>.warc.gz", once closed

    def __enter__(self) -> RawArchive:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()

    @property
    def final_path(self) -> Path:
        if self.name is None:
            raise RuntimeError(f"raw archive {self.staged_path} is not closed yet")
        return archive_path(self.data_dir, self.name)

    def append(self, page: FetchedPage) -> str:
        """Write one page; returns its provisional `raw_record_id` (see `resolve`)."""
        response_id, metadata_id = _record_ids(self.scope, self.run_date, page)
        headers = [(k, v) for k, v in page.headers if k.lower() not in _DROPPED_HEADERS]
        if page.content_type and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", page.content_type))
        response = _warc_record(
            "response",
            response_id,
            page.fetched_at,
            page.final_url,
            "application/http;msgtype=response",
            _http_block(page.status, headers, page.body),
        )
        metadata = _warc_record(
            "metadata",
            metadata_id,
            page.fetched_at,
            page.final_url,
            "application/json",
            json.dumps(_page_metadata(page), default=datetime.isoformat).encode(),
            extra=[("WARC-Concurrent-To", response_id)],
        )
        data = zlib_gzip(response) + zlib_gzip(metadata)
        with self._lock:
            if self._handle is None:
                raise RuntimeError(f"raw archive {self.staged_path} is closed")
            offset = self._handle.tell()
            with writing(self.staged_path, self.data_dir):
                self._handle.write(data)
            self._digest.update(data)
            self.count += 1
        return f"{self.pending_prefix}{offset}"

    def close(self) -> None:
        """Flush and fsync the staged file and name it by its content; no appends after."""
        with self._lock:
            if self._handle is None:
                return
            handle, self._handle = self._handle, None
            with writing(self.staged_path, self.data_dir):
                try:
                    handle.flush()
                    os.fsync(handle.fileno())
                finally:
                    handle.close()
            digest = self._digest.hexdigest()[:DIGEST_CHARS]
            self.name = f"{self.run_date.isoformat()}/{self.scope}.{digest}.warc.gz"

    def resolve(self, ids: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """`raw_record_id` values with this archive's provisional ids made final."""
        if self.name is None:
            pending = pc.any(pc.starts_with(ids, self.pending_prefix)).as_py()
            if pending:
                raise RuntimeError(f"raw archive {self.staged_path} is still open")
            return ids
        return pc.replace_substring(ids, self.pending_prefix, f"{self.name}#")

    def publish(self, on_step: Callable[[str], None] | None = None) -> Path:
        """Validate the staged archive, move it to its final name, release the staging area."""
        self.close()
        records = sum(1 for _ in iter_warc(self.staged_path))
        if records != 2 * self.count:  # a response and a metadata record per page
            raise CorruptRawArchive(
                f"{self.staged_path}: wrote {self.count} pages, read back {records} records"
            )
        final = self.final_path
        make_dirs(final.parent)
        if on_step:
            on_step("rename:raw")
        os.replace(self.staged_path, final)
        fsync_path(final.parent)
        self._area.release()
        return final

    def discard(self) -> None:
        """Drop the staged archive; safe to call twice, and after a failed write or close."""
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):  # a full disk fails the last flush; the run
                handle.close()  # already failed with the first error, and the file goes anyway
        self._area.release()


def remove_unreferenced(
    data_dir: Path, run_date: date, scope: str, referenced: Iterable[str]
) -> list[Path]:
    """Delete the archives of (run_date, scope) that no published row names any more."""
    keep = {archive_path(data_dir, name) for name in referenced}
    removed = [path for path in archives_of(data_dir, run_date, scope) if path not in keep]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        fsync_path(removed[0].parent)
    return removed


def zlib_gzip(data: bytes) -> bytes:
    """One gzip member with a fixed header (no timestamp): same input, same bytes."""
    compressor = zlib.compressobj(wbits=31)  # 31: a gzip header and trailer
    return compressor.compress(data) + compressor.flush()


def _record_ids(scope: str, run_date: date, page: FetchedPage) -> tuple[str, str]:
    """The `WARC-Record-ID`s of a page's response and metadata records: the same for the same
    page, fetch time, run date and scope, and different for any other."""
    key = f"{run_date.isoformat()}/{scope}/{page.url}/{page.fetched_at.isoformat()}"
    response = uuid.uuid5(_NAMESPACE, key)
    metadata = uuid.uuid5(response, key)
    return f"<urn:uuid:{response}>", f"<urn:uuid:{metadata}>"


def _warc_record(
    kind: str,
    record_id: str,
    when: datetime,
    target: str,
    content_type: str,
    block: bytes,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    headers = [
        ("WARC-Type", kind),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", stamp),
        ("WARC-Target-URI", target),
        *(extra or []),
        ("Content-Type", content_type),
        ("WARC-Block-Digest", "sha256:" + hashlib.sha256(block).hexdigest()),
        ("Content-Length", str(len(block))),
    ]
    head = "WARC/1.1\r\n" + "".join(f"{k}: {_field(v)}\r\n" for k, v in headers) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def _field(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _http_block(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}"]  # an unknown status: an empty phrase (RFC 9112)
    lines += [f"{k}: {_field(v)}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


def _page_metadata(page: FetchedPage) -> dict[str, Any]:
    return {
        "source_id": page.source_id,
        "url": page.url,
        "encoding": page.encoding,  # so that a reprocess decodes the body as the run did
        "discovered": asdict(page.discovered) if page.discovered else None,
    }


# ------------------------------------------------------------------ reading


def iter_warc(path: Path, offset: int = 0) -> Generator[WarcRecord, None, None]:
    """Every record of a WARC.gz (one gzip member per record) from `offset` on."""
    with Path(path).open("rb") as handle:
        handle.seek(offset)
        for start, data in _members(handle, offset):
            yield _parse_record(path, start, data)


def _members(handle: IO[bytes], offset: int) -> Iterator[tuple[int, bytes]]:
    pending = b""
    while True:
        if not pending:
            pending = handle.read(_CHUNK)
            if not pending:
                return
        start = offset
        inflater = zlib.decompressobj(wbits=31)
        parts: list[bytes] = []
        while not inflater.eof:
            if not pending:
                pending = handle.read(_CHUNK)
                if not pending:
                    raise CorruptRawArchive(f"truncated gzip member at offset {start}")
            try:
                parts.append(inflater.decompress(pending))
            except zlib.error as error:
                raise CorruptRawArchive(f"bad gzip member at offset {start}: {error}") from error
            offset += len(pending) - len(inflater.unused_data)
            pending = inflater.unused_data
        yield start, b"".join(parts)


def _parse_record(path: Path, offset: int, data: bytes) -> WarcRecord:
    head, sep, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    if not sep or not lines[0].startswith("WARC/"):
        raise CorruptRawArchive(f"{path}#{offset}: not a WARC record")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    try:
        length = int(headers["Content-Length"])
    except (KeyError, ValueError):
        raise CorruptRawArchive(f"{path}#{offset}: no Content-Length") from None
    if len(rest) < length:
        raise CorruptRawArchive(f"{path}#{offset}: block shorter than Content-Length")
    return WarcRecord(offset=offset, headers=headers, block=rest[:length])


def parse_http_response(block: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers (in order) and body of an `application/http` response block."""
    head, _, body = block.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (x.partition(":") for x in lines[1:])]
    return status, headers, body


def _page(path: Path, response: WarcRecord, metadata: WarcRecord | None) -> FetchedPage:
    status, http_headers, body = parse_http_response(response.block)
    headers = {k.lower(): v for k, v in http_headers}
    meta = json.loads(metadata.block) if metadata else {}
    final_url = response.headers["WARC-Target-URI"]
    found = meta.get("discovered")
    return FetchedPage(
        source_id=meta.get("source_id", ""),
        url=meta.get("url", final_url),
        final_url=final_url,
        status=status,
        content_type=headers.get("content-type"),
        body=body,
        headers=tuple((k, v) for k, v in http_headers if k.lower() != "content-length"),
        fetched_at=datetime.fromisoformat(response.headers["WARC-Date"]),
        raw_record_id=f"{path.parent.name.removeprefix('run_date=')}/{path.name}#{response.offset}",
        discovered=_discovered(found) if found else None,
        encoding=meta.get("encoding"),
    )


def _discovered(data: dict[str, Any]) -> Discovered:
    """What discovery said, as `_page_metadata` stored it; a field an older archive lacks
    takes `Discovered`'s default."""
    fields = dict(data)
    for key in ("published_at", "modified_at"):
        fields[key] = datetime.fromisoformat(data[key]) if data.get(key) else None
    for key in ("authors", "keywords", "categories"):
        fields[key] = tuple(data.get(key) or ())
    return Discovered(**fields)


def read_pages(path: Path) -> Iterator[FetchedPage]:
    """The pages of one archive file, in the order they were written."""
    path = Path(path)
    pending: WarcRecord | None = None
    for record in iter_warc(path):
        if record.type == "response":
            if pending is not None:
                yield _page(path, pending, None)
            pending = record
        elif pending is not None and _describes(record, pending):
            yield _page(path, pending, record)
            pending = None
    if pending is not None:
        yield _page(path, pending, None)


def read_archives(data_dir: Path, names: Iterable[str]) -> Iterator[FetchedPage]:
    """The pages of the named archives (`archive_name` of their ids), in the order written."""
    for name in names:
        path = archive_path(data_dir, name)
        if not path.is_file():
            raise CorruptRawArchive(f"raw archive {path} is missing")
        yield from read_pages(path)


def read_record(data_dir: Path, raw_record_id: str) -> FetchedPage:
    """The one page a `raw_record_id` names."""
    name, _, offset_text = raw_record_id.partition("#")
    path = archive_path(data_dir, name)
    if not offset_text.isdigit() or not path.is_file():
        raise CorruptRawArchive(f"no raw record {raw_record_id!r} under {raw_dir(data_dir)}")
    records = iter_warc(path, int(offset_text))
    try:
        response = next(records, None)
        if response is None or response.type != "response":
            raise CorruptRawArchive(f"{raw_record_id!r} is not a response record")
        metadata = next(records, None)
    finally:
        records.close()
    paired = metadata is not None and _describes(metadata, response)
    return _page(path, response, metadata if paired else None)


def _describes(record: WarcRecord, response: WarcRecord) -> bool:
    """Whether `record` is the metadata record written with `response`."""
    concurrent = record.headers.get("WARC-Concurrent-To")
    return record.type == "metadata" and concurrent == response.record_id
