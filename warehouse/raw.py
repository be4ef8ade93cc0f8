"""The raw archive: every fetched page of a run in one WARC/1.1 file, gzipped per record.

Each page becomes a `response` record (the HTTP status line, a few headers and the body as
received: the bytes the fetcher got after undoing content and transfer encodings, never
re-encoded text) followed by a `metadata` record (JSON: source id, requested URL, the charset the
run decoded the body with, what discovery said) that points back to it with `WARC-Concurrent-To`.
So a reprocess decodes a body exactly as the live run did. The records are written and read by
fastwarc; every record carries `WARC-Block-Digest` (and a response `WARC-Payload-Digest`), so
`warcio check` and any other WARC reader accept the file.

An archive is never replaced in place. It is named by its content,
`<data_dir>/raw/run_date=YYYY-MM-DD/<scope>.<digest>.warc.gz`, and a page's `raw_record_id` is
`"<run_date>/<file name>#<offset>"`, the byte offset of its response record's gzip member, so
one page can be read back without scanning the file. The same pages, fetch times, run date and
scope give the same bytes (record ids and `WARC-Date` come from them, gzip headers carry no
time), hence the same name. A rerun of a date publishes its archive beside the previous one; the
tables that name the previous one keep resolving until they are replaced too, and only then is
the previous archive removed (`warehouse.publish`). So a `raw_record_id` leads to the record it
was written for at every point of a publication.

While a run is being written its archive's name is not known yet: `RawArchive.append` hands
out provisional ids (`<run_date>/<scope>.pending.warc.gz#<offset>`) and `RawArchive.resolve`
turns them into final ones once the archive is closed. The archive is written in a locked
staging area and moved into `raw/` when the run is published.

Reading never guesses: a damaged or truncated archive, or a record that is not what this module
writes, raises `CorruptRawArchive` naming the file and the offset of the gzip member at fault.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
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
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
from fastwarc.stream_io import GzipReader, GzipWriter
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

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
_CHUNK = 1 << 20
_GZIP_LEVEL = 6  # zlib's default: level 9 costs much more time for a few percent of size
_MAX_HEADER_BYTES = 8 << 20  # http.client accepts 100 header lines of 64 KiB each
DIGEST_CHARS = 16  # hex digits of the content digest in an archive's name


class CorruptRawArchive(ValueError):
    """A raw archive (or a record in it) cannot be read back."""


@dataclass(frozen=True, slots=True)
class _Record:
    """One record read back: where its gzip member starts, its WARC headers, and its payload
    (the HTTP body of a response, with the status and headers before it; the block otherwise)."""

    offset: int
    headers: dict[str, str]
    payload: bytes
    status: int | None = None
    http_headers: tuple[tuple[str, str], ...] = ()

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
        stamp = page.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        response = _warc_record(
            WarcRecordType.response,
            response_id,
            stamp,
            page.final_url,
            "application/http;msgtype=response",
            _http_block(page.status, headers, page.body),
        )
        metadata = _warc_record(
            WarcRecordType.metadata,
            metadata_id,
            stamp,
            page.final_url,
            "application/json",
            json.dumps(_page_metadata(page), default=datetime.isoformat).encode(),
        )
        metadata.headers.set("WARC-Concurrent-To", _urn(response_id))
        data = _gzip_members(
            (response, hashlib.sha1(page.body, usedforsecurity=False).digest()),
            (metadata, None),
        )
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
        records = sum(1 for _ in _records(self.staged_path))
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


def _record_ids(scope: str, run_date: date, page: FetchedPage) -> tuple[uuid.UUID, uuid.UUID]:
    """The `WARC-Record-ID`s of a page's response and metadata records: the same for the same
    page, fetch time, run date and scope, and different for any other."""
    key = f"{run_date.isoformat()}/{scope}/{page.url}/{page.fetched_at.isoformat()}"
    response = uuid.uuid5(_NAMESPACE, key)
    return response, uuid.uuid5(response, key)


def _urn(record_id: uuid.UUID) -> str:
    return f"<urn:uuid:{record_id}>"


def _warc_record(
    kind: WarcRecordType,
    record_id: uuid.UUID,
    stamp: str,
    target: str,
    content_type: str,
    block: bytes,
) -> WarcRecord:
    record = WarcRecord()
    record.init_headers(kind, f"uuid:{record_id}".encode())
    record.headers.set("WARC-Date", stamp)  # init_headers stamps the clock's time
    record.headers.set("WARC-Target-URI", _field(target))
    record.headers.set("Content-Type", content_type)
    record.set_bytes_content(block)
    return record


def _gzip_members(*records: tuple[WarcRecord, bytes | None]) -> bytes:
    """The records, one gzip member each, with their block digests and the given SHA-1
    payload digests; gzip headers carry no time, so the same records give the same bytes."""
    buffer = io.BytesIO()
    writer = GzipWriter(buffer, compression_level=_GZIP_LEVEL)
    for record, payload_digest in records:
        record.write(writer, checksum_data=True, payload_digest=payload_digest)
        writer.finish()  # ends the gzip member: a reader can start at the next record
    writer.close()
    return buffer.getvalue()


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


def _records(path: Path, offset: int = 0) -> Generator[_Record, None, None]:
    """Every record of an archive from the gzip member at `offset` on, read by fastwarc."""
    with Path(path).open("rb") as handle:
        handle.seek(offset)
        stream = GzipReader(handle)
        records = ArchiveIterator(stream, max_header_len=_MAX_HEADER_BYTES, stream_detect=False)
        start = offset
        while True:
            try:
                record = next(records, None)
                if record is None:
                    break
                start = _member_start(stream, start)
                item = _read(path, start, record)
            except (OSError, CorruptRawArchive) as error:  # OSError: fastwarc's, gzip or WARC
                start = _member_start(stream, start)
                _member_end(path, handle, start)  # a member cut short explains any error best
                if isinstance(error, CorruptRawArchive):
                    raise
                raise CorruptRawArchive(f"{path}#{start}: {error}") from error
            yield item
        _check_members(path, handle, start)


def _member_start(stream: GzipReader, default: int) -> int:
    """Where the gzip member being read starts in the file (fastwarc ends each read with a
    member, so this is the member of the record just read)."""
    position = stream.frame_start_position()
    return default if position is None else position


def _read(path: Path, offset: int, record: WarcRecord) -> _Record:
    headers = record.headers.to_dict()
    if "Content-Length" not in headers:
        raise CorruptRawArchive(f"{path}#{offset}: no Content-Length")
    expected = record.content_length  # of the payload still to read
    payload = record.reader.read()
    if len(payload) < expected:
        raise CorruptRawArchive(f"{path}#{offset}: block shorter than Content-Length")
    if record.record_type != WarcRecordType.response:
        return _Record(offset, headers, payload)
    http = record.http_headers
    if http is None or http.status_code is None:
        raise CorruptRawArchive(f"{path}#{offset}: not an HTTP response")
    return _Record(offset, headers, payload, http.status_code, http.to_tuples())


def _check_members(path: Path, handle: BinaryIO, offset: int) -> None:
    """From the gzip member at `offset` to its end the file is whole gzip members. (fastwarc
    reads a last member that was cut short as if it were whole, and skips a cut gzip header.)"""
    size = os.fstat(handle.fileno()).st_size
    while offset < size:
        offset = _member_end(path, handle, offset)


def _member_end(path: Path, handle: BinaryIO, offset: int) -> int:
    """Where the gzip member at `offset` ends, once its data and checksum are found whole."""
    handle.seek(offset)
    # wbits 31: a gzip header and trailer around the deflate data
    inflater = zlib.decompressobj(wbits=31)
    read = 0
    try:
        while not inflater.eof:
            data = handle.read(_CHUNK)
            if not data:
                raise CorruptRawArchive(f"{path}#{offset}: truncated gzip member")
            read += len(data)
            while data and not inflater.eof:  # what the member holds is not kept
                inflater.decompress(data, _CHUNK)
                data = inflater.unconsumed_tail
    except zlib.error as error:
        raise CorruptRawArchive(f"{path}#{offset}: damaged gzip member ({error})") from error
    return offset + read - len(inflater.unused_data)


def _page(path: Path, response: _Record, metadata: _Record | None) -> FetchedPage:
    headers = {k.lower(): v for k, v in response.http_headers}
    meta = json.loads(metadata.payload) if metadata else {}
    final_url = response.headers["WARC-Target-URI"]
    found = meta.get("discovered")
    return FetchedPage(
        source_id=meta.get("source_id", ""),
        url=meta.get("url", final_url),
        final_url=final_url,
        status=response.status or 0,
        content_type=headers.get("content-type"),
        body=response.payload,
        headers=tuple((k, v) for k, v in response.http_headers if k.lower() != "content-length"),
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
    pending: _Record | None = None
    for record in _records(path):
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
    records = _records(path, int(offset_text))
    try:
        response = next(records, None)
        if response is None or response.type != "response":
            raise CorruptRawArchive(f"{raw_record_id!r} is not a response record")
        metadata = next(records, None)
    finally:
        records.close()
    paired = metadata is not None and _describes(metadata, response)
    return _page(path, response, metadata if paired else None)


def _describes(record: _Record, response: _Record) -> bool:
    """Whether `record` is the metadata record written with `response`."""
    concurrent = record.headers.get("WARC-Concurrent-To")
    return record.type == "metadata" and concurrent == response.record_id
