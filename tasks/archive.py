"""WARC archives as a source: which files a `warc` source names, and what each record becomes.

A `warc` source's location is one of (`archive_files`):
- a local file, a directory (its `*.warc` and `*.warc.gz`, not recursive) or a glob;
- an http(s) URL of one WARC file;
- a paths listing, local or http(s), whose name ends in `.paths` or `.paths.gz`: one path per
  line, as Common Crawl publishes `warc.paths.gz`. Each path is resolved against the source's
  `base_url`; without one, against the listing's host root for a URL listing (Common Crawl's
  paths start at its bucket root) and the listing's folder for a local one.

A file's day is the 14-digit timestamp in its name (`CC-NEWS-20261101083015-00042.warc.gz`,
`file_day`); a run for date D reads the files of day D. A file whose name has none takes the
UTC day of its first record's `WARC-Date` (`first_record_day`).

`read_archive` reads one file with fastwarc. Each record that captures a page (`response`,
`revisit`, `resource`) becomes exactly one outcome: a `FetchedPage` (a 2xx HTML capture within
the size cap that passes the source's filters) or a `Rejected` at stage `archive` with a reason.
Records that only describe captures (`warcinfo`, `request`, `metadata`, `conversion`,
`continuation`) are counted per type in the file's `FileTally`. A stretch of the file that
cannot be read (a corrupt or empty gzip member, one whose gzip header is damaged, a damaged record,
junk between records, a last record the file ends inside) is skipped to the next record that
can be, and the tally counts the stretches and the bytes skipped; a record lost in one is not
an outcome, nor is part of one. A file in which no record can be read at all (not a WARC)
gets `problem` set.

A page's `raw_record_id` is `<location>#<offset>`: the file as the source named it (an
absolute `file://` URL or the http(s) URL) and the byte offset of its record there, so the
original can be read again (`read_one`). Pure apart from reading the given file.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import logging
import re
import zlib
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import requests
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from tasks.charset import detect_encoding
from tasks.exchange import media_type
from tasks.fetch import HTML_TYPES, status_reason
from tasks.guard import BlockedAddress, UnresolvableHost, check_url
from tasks.reasons import OK, STAGE_ARCHIVE, ReasonCode
from tasks.records import FetchedPage, Rejected

logger = logging.getLogger(__name__)

LISTING_SUFFIXES = (".paths", ".paths.gz")
WARC_SUFFIXES = (".warc", ".warc.gz")
_TIMESTAMP = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})\d{6}(?!\d)")
_PAGE_TYPES = ("response", "revisit", "resource")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_SCAN = 1 << 20  # bytes read at a time while looking for the next readable record
_HEAD = 1 << 16  # the longest WARC header block looked for


@dataclass(frozen=True, slots=True)
class ArchiveRules:
    """Which captures a `warc` source keeps (`Source.publishers` ...), and the size cap."""

    max_bytes: int
    publishers: tuple[str, ...] = ()  # host names or registrable domains; none: every host
    url_patterns: tuple[str, ...] = ()  # regular expressions searched in the URL; none: all
    since: datetime | None = None  # WARC-Date window, inclusive start
    until: datetime | None = None  # exclusive end

    def refusal(self, url: str, captured: datetime | None) -> str | None:
        """Why a capture of `url` at `captured` is filtered out; None when it is kept."""
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        if self.publishers and not any(
            host == p or host.endswith("." + p) for p in self.publishers
        ):
            return f"publisher: {host or 'no host'} is not one of the source's publishers"
        if self.url_patterns and not any(re.search(p, url) for p in self.url_patterns):
            return "url_pattern: the URL matches none of the source's patterns"
        if captured is not None and (
            (self.since is not None and captured < self.since)
            or (self.until is not None and captured >= self.until)
        ):
            return f"warc_date: captured {captured.isoformat()}, outside the source's window"
        return None


@dataclass(slots=True)
class FileTally:
    """What reading one file gave besides its outcomes."""

    records: int = 0  # every record read, of any type
    described: Counter[str] = field(default_factory=Counter)  # non-page records by type
    corrupt: int = 0  # stretches that could not be read
    skipped_bytes: int = 0  # bytes in those stretches
    problem: str | None = None  # the file could not be read as a WARC at all


# ---------------------------------------------------------------- which files


def is_listing(location: str) -> bool:
    return urlsplit(location).path.endswith(LISTING_SUFFIXES)


def is_remote(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")


def local_files(location: str) -> list[str]:
    """The WARC files a local location names, as sorted `file://` URLs.

    A missing file, an empty directory or a glob that matches nothing is an error: the
    source names nothing to read.
    """
    path = Path(location)
    if path.is_dir():
        found = [p for p in path.iterdir() if p.name.endswith(WARC_SUFFIXES) and p.is_file()]
    elif glob.has_magic(location):
        found = [Path(p) for p in glob.glob(location) if Path(p).is_file()]
    elif path.is_file():
        found = [path]
    else:
        raise FileNotFoundError(f"no WARC file, directory or glob match at {location}")
    if not found:
        raise FileNotFoundError(f"{location} holds no .warc or .warc.gz file")
    return sorted(p.resolve().as_uri() for p in found)


def listing_entries(text: str, listing: str, base_url: str | None = None) -> list[str]:
    """The WARC files of a paths listing, as absolute URLs, in the listing's order.

    Blank lines and `#` comments are skipped; entries that are not WARC files are refused.
    """
    base = base_url or _listing_base(listing)
    if not base.endswith("/"):
        base += "/"
    files = []
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if not urlsplit(entry).path.endswith(WARC_SUFFIXES):
            raise ValueError(f"{listing} line {number}: {entry!r} is not a .warc or .warc.gz path")
        files.append(urljoin(base, entry.lstrip("/")))
    return files


def listed_files(location: str, base_url: str | None, downloader: Downloader) -> list[str]:
    """The WARC files a `warc` source's location names, as `file://` or http(s) URLs."""
    if is_listing(location):
        remote = is_remote(location)
        data = downloader.fetch(location) if remote else Path(location).read_bytes()
        base = base_url
        if base is not None and not is_remote(base):
            base = Path(base).as_uri() + "/"
        elif base is None and not remote:
            base = Path(location).parent.as_uri() + "/"
        return listing_entries(decode_listing(data, location), location, base)
    if is_remote(location):
        return [location]
    return local_files(location)


def files_of_day(
    location: str, base_url: str | None, day: date, downloader: Downloader
) -> list[str]:
    """The files of a `warc` source whose day (`file_day`, else the first record's) is `day`."""
    chosen = []
    for entry in listed_files(location, base_url, downloader):
        named = file_day(entry)
        if named is None and is_remote(entry):
            named = downloader.first_day(entry)
        elif named is None:
            with local_path(entry).open("rb") as handle:
                named = first_record_day(handle)
        if named == day:
            chosen.append(entry)
    return chosen


def _listing_base(listing: str) -> str:
    parts = urlsplit(listing)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}/"
    return listing.rsplit("/", 1)[0] + "/"


def decode_listing(data: bytes, listing: str) -> str:
    """The text of a paths listing as read (gunzipped when it is gzip)."""
    if data[:2] == _GZIP_MAGIC[:2]:  # a server may have decoded a .gz already
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"paths listing {listing} is not valid gzip: {error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"paths listing {listing} is not UTF-8 text: {error}") from None


def file_name(location: str) -> str:
    return unquote(urlsplit(location).path.rsplit("/", 1)[-1])


def file_day(location: str) -> date | None:
    """The day of the 14-digit timestamp in the file's name, if it has one."""
    match = _TIMESTAMP.search(file_name(location))
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def local_path(location: str) -> Path:
    """The path of a `file://` location."""
    return Path(unquote(urlsplit(location).path))


def first_record_day(handle: BinaryIO) -> date | None:
    """The UTC day of the first dated record of an open WARC (None when none can be read)."""
    try:
        for record in ArchiveIterator(handle, parse_http=False, fsspec_args=False):
            captured = _warc_date(record)
            if captured is not None:
                return captured.date()
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- remote files


@dataclass(frozen=True, slots=True)
class Downloader:
    """Reads remote listings and WARC files over http(s), one request at a time.

    Each URL is checked by the address guard first (`allow_private` as for pages); the
    request sends our user agent, takes no proxy, cookie or CA bundle from the environment,
    follows no redirect, and stops at `max_bytes`. Archive locations are the operator's
    own configuration, so the connection goes to the host name the guard checked rather
    than to a pinned address.
    """

    user_agent: str
    max_bytes: int
    timeout_s: float = 60.0
    allow_private: frozenset[str] = frozenset()

    def fetch(self, url: str) -> bytes:
        """The whole body of a (small) remote file: a paths listing."""
        with self._get(url) as response:
            data = response.raw.read(self.max_bytes + 1, decode_content=True)
        if len(data) > self.max_bytes:
            raise ValueError(f"{url} is larger than {self.max_bytes} bytes")
        return bytes(data)

    def save(self, url: str, target: Path) -> Path:
        """Download `url` to `target` (written under a temporary name, then renamed; a
        download that fails or is refused leaves neither behind)."""
        partial = target.with_name(target.name + ".partial")
        size = 0
        try:
            with self._get(url) as response, partial.open("wb") as out:
                # The bytes as served: offsets in the file are offsets at the URL.
                while chunk := response.raw.read(_SCAN, decode_content=False):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ValueError(f"{url} is larger than {self.max_bytes} bytes")
                    out.write(chunk)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return target

    def record_at(self, url: str, offset: int) -> FetchedPage:
        """The page of the record at `offset` of a remote WARC, asking for that byte range
        (a server that ignores the range sends the whole file: the bytes before it are
        skipped)."""
        with self._get(url, start=offset) as response:
            stream = response.raw
            if response.status_code == 200:
                _discard(stream, offset)
            return _page_at(stream, url, offset, self.max_bytes)

    def first_day(self, url: str) -> date | None:
        """The day of the first dated record of a remote WARC, reading only its start."""
        with self._get(url) as response:
            return first_record_day(response.raw)

    @contextlib.contextmanager
    def _get(self, url: str, start: int = 0) -> Iterator[requests.Response]:
        try:
            check_url(url, self.allow_private)
        except (BlockedAddress, UnresolvableHost) as error:
            raise OSError(f"{url} refused: {error}") from None
        with requests.Session() as session:
            session.trust_env = False
            headers = {"User-Agent": self.user_agent}
            if start:
                headers["Range"] = f"bytes={start}-"
            response = session.get(
                url,
                headers=headers,
                stream=True,
                timeout=self.timeout_s,
                allow_redirects=False,
            )
            with response:
                if response.status_code not in ((200, 206) if start else (200,)):
                    raise OSError(f"{url} answered {response.status_code}")
                yield response


# ---------------------------------------------------------------- which records


def read_archive(
    path: Path, location: str, source_id: str, rules: ArchiveRules, tally: FileTally
) -> Generator[FetchedPage | Rejected, None, None]:
    """Every page-capturing record of the WARC at `path` as an outcome (module docstring).

    `location` is how the source names the file: it goes into each `raw_record_id`.
    """
    size = path.stat().st_size
    with path.open("rb") as handle, path.open("rb") as probe:  # probe: looks without moving
        compressed = handle.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
        start: int | None = 0
        read_any = False
        while start is not None:
            handle.seek(start)
            done = reading = None  # the last record handled, the one being handled
            try:
                for record in ArchiveIterator(handle, parse_http=False, fsspec_args=False):
                    reading = record.stream_pos
                    if not compressed and _cut(probe, reading, size):
                        _skip(tally, location, reading, size - reading, _CUT)
                        return
                    outcome = _outcome(record, location, source_id, rules, tally)
                    tally.records += 1
                    done, reading, read_any = reading, None, True
                    if outcome is not None:
                        yield outcome
            except OSError as error:
                # The damage is in the record being handled, or after the last one handled.
                if reading is not None:
                    lost, start = reading, _next_start(handle, reading + 1, compressed)
                elif done is not None:
                    lost = _record_end(handle, done, compressed, size)
                    start = _next_start(handle, lost, compressed)
                else:
                    lost, start = start, _next_start(handle, start + 1, compressed)
                if not read_any and start is None:
                    tally.problem = f"not a WARC file: {error}"
                    return
                _skip(tally, location, lost, (size if start is None else start) - lost, error)
                continue
            # The reader stops quietly at a member cut short at the end of the file, and at an
            # empty gzip member anywhere: the records after one are looked for.
            end = start if done is None else _record_end(handle, done, compressed, size)
            if not read_any:
                tally.problem = "not a WARC file: no record in it" if size else "empty file"
                return
            start = _next_start(handle, end + (done is None), compressed) if end < size else None
            why = _CUT if start is None else "no record in these bytes"
            _skip(tally, location, end, (size if start is None else start) - end, why)


_CUT = "the file ends inside a record"


def _member_end(handle: BinaryIO, offset: int) -> int:
    """Where the gzip member at `offset` ends, decompressing it (output dropped a MiB at a
    time); the end of the file if it does not end."""
    handle.seek(offset)
    inflate = zlib.decompressobj(31)
    fed = 0
    while not inflate.eof and (chunk := handle.read(_HEAD)):  # most members are one read
        fed += len(chunk)
        try:
            while chunk and not inflate.eof:
                inflate.decompress(chunk, _SCAN)
                chunk = inflate.unconsumed_tail
        except zlib.error:
            break
    return offset + fed - len(inflate.unused_data)


def _cut(probe: BinaryIO, offset: int, size: int) -> bool:
    """Whether the uncompressed record at `offset` runs past the end of the file (the reader
    would hand over its first bytes as if they were the whole record)."""
    end = _block_end(probe, offset)
    return end > size if end is not None else offset + _HEAD > size


def _skip(tally: FileTally, location: str, offset: int, skipped: int, why: object) -> None:
    if skipped > 0:
        tally.corrupt += 1
        tally.skipped_bytes += skipped
        logger.warning("Skipped %d bytes of %s at offset %d: %s", skipped, location, offset, why)


def read_one(path: Path, location: str, offset: int, max_bytes: int) -> FetchedPage:
    """The page of the record at `offset` (a `raw_record_id`'s), read again from its file."""
    with path.open("rb") as handle:
        handle.seek(offset)
        return _page_at(handle, location, offset, max_bytes)


def _page_at(stream: BinaryIO, location: str, offset: int, max_bytes: int) -> FetchedPage:
    """The page of the first record of `stream`, which is at `offset` of `location`."""
    try:
        for record in ArchiveIterator(stream, parse_http=False, fsspec_args=False):
            outcome = _outcome(record, location, "", ArchiveRules(max_bytes), FileTally())
            if isinstance(outcome, FetchedPage):
                return replace(outcome, raw_record_id=f"{location}#{offset}")
            detail = outcome.detail if outcome is not None else "not a page capture"
            raise ValueError(f"{location}#{offset} is not an archived page: {detail}")
    except OSError as error:
        raise ValueError(f"no readable WARC record at {location}#{offset}: {error}") from None
    raise ValueError(f"no WARC record at {location}#{offset}")


def _discard(stream: BinaryIO, size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, _SCAN))
        if not chunk:
            raise ValueError("the file is shorter than the record's offset")
        size -= len(chunk)


def _outcome(
    record: WarcRecord, location: str, source_id: str, rules: ArchiveRules, tally: FileTally
) -> FetchedPage | Rejected | None:
    kind = str(record.record_type)
    if kind not in _PAGE_TYPES:
        tally.described[kind] += 1
        return None
    url = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")
    record_id = f"{location}#{record.stream_pos}"

    def reject(reason: ReasonCode, detail: str) -> Rejected:
        return Rejected(source_id, url, STAGE_ARCHIVE, reason, detail, record_id)

    captured = _warc_date(record)
    if not url:
        return reject("corrupt_record", f"{kind} record without WARC-Target-URI")
    if refusal := rules.refusal(url, captured):
        return reject("filtered_out", refusal)
    if kind == "revisit":
        profile = record.headers.get("WARC-Profile") or "no profile"
        return reject("warc_revisit", f"a revisit record ({profile}): no payload of its own")
    if truncated := record.headers.get("WARC-Truncated"):
        return reject("warc_truncated", f"the capture was cut short ({truncated})")
    if record.content_length > rules.max_bytes + 65536:  # HTTP headers ride in the block
        return reject("too_large", f"record block of {record.content_length} bytes")
    block = record.reader.read()  # a stream error here is a corrupt stretch: it propagates
    if kind == "resource":
        content_type = record.headers.get("Content-Type")
        answer = _Answer(200, (("Content-Type", content_type or ""),), block)
    else:
        parsed = _http(block)
        if not isinstance(parsed, _Answer):
            return reject(*parsed)
        answer = parsed
        content_type = answer.header("content-type")
    status, headers, body = answer.status, answer.headers, answer.body
    if (reason := status_reason(status)) != OK:
        return reject(reason, f"archived answer {status}")
    media = media_type(content_type)
    if media is not None and media not in HTML_TYPES:
        return reject("non_html", f"content type {media}")
    if len(body) > rules.max_bytes:
        return reject("too_large", f"decoded body of {len(body)} bytes over the cap")
    return FetchedPage(
        source_id=source_id,
        url=url,
        final_url=url,
        status=status,
        content_type=content_type,
        body=body,
        fetched_at=captured or datetime.fromtimestamp(0, UTC),
        raw_record_id=record_id,
        encoding=detect_encoding(body, content_type),
        headers=headers,
    )


@dataclass(frozen=True, slots=True)
class _Answer:
    """An archived HTTP answer: its status, headers and decoded payload."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


def _http(block: bytes) -> _Answer | tuple[ReasonCode, str]:
    """(status, headers, decoded payload) of an HTTP response block, or why it has none."""
    if not block.startswith(b"HTTP/"):
        return "not_http", "the response record holds no HTTP message"
    record = WarcRecord()
    record.init_headers(WarcRecordType.response)
    record.set_bytes_content(block)
    record.is_http = True
    try:
        record.parse_http(auto_decode="all")
        headers = record.http_headers
        if headers is None:
            return "not_http", "no HTTP headers could be read"
        body = record.reader.read()
    except OSError as error:
        return "bad_encoding", f"the HTTP payload could not be decoded: {error}"
    items = tuple((str(k), str(v)) for k, v in headers.items())
    return _Answer(int(headers.status_code or 0), items, body)


def _warc_date(record: WarcRecord) -> datetime | None:
    text = record.headers.get("WARC-Date")
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _next_start(handle: BinaryIO, offset: int, compressed: bool) -> int | None:
    """The offset of the first record at or after `offset` that starts readably, if any."""
    while (candidate := _next_magic(handle, offset, compressed)) is not None:
        if _starts_record(handle, candidate, compressed):
            return candidate
        offset = candidate + 1
    return None


def _record_end(handle: BinaryIO, offset: int, compressed: bool, size: int) -> int:
    """Where the record read whole at `offset` ends: the end of its gzip member, or
    (uncompressed) its header block, Content-Length bytes and the blank line after them."""
    if compressed:
        return _member_end(handle, offset)
    end = _block_end(handle, offset)  # found for a record read whole (fastwarc needs it)
    return size if end is None else min(size, end)



def _block_end(handle: BinaryIO, offset: int) -> int | None:
    """Where the uncompressed record at `offset` ends by its header: the header block,
    Content-Length bytes and the blank line after them (None: no readable header)."""
    handle.seek(offset)
    head = handle.read(_HEAD)
    end = head.find(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head[:end])
    if end == -1 or length is None:
        return None
    return offset + end + 4 + int(length[1]) + 4


def _next_magic(handle: BinaryIO, offset: int, compressed: bool) -> int | None:
    """The offset of the next gzip member header (or `WARC/1.` line) at or after `offset`."""
    magic = _GZIP_MAGIC if compressed else _WARC_MAGIC
    position = offset
    while True:
        handle.seek(position)
        chunk = handle.read(_SCAN + len(magic) - 1)
        found = chunk.find(magic)
        if found != -1:
            return position + found
        if len(chunk) < _SCAN + len(magic) - 1:
            return None
        position += _SCAN


def _starts_record(handle: BinaryIO, offset: int, compressed: bool) -> bool:
    handle.seek(offset)
    head = handle.read(4096)
    if not compressed:
        return head.startswith(_WARC_MAGIC)
    try:
        text = zlib.decompressobj(31).decompress(head, 16)
    except zlib.error:
        return False
    return text.startswith(_WARC_MAGIC)


def sort_key(locations: Sequence[str]) -> list[str]:
    """Files in the order they are read: by name (a CC-NEWS name sorts by time), then place."""
    return sorted(locations, key=lambda loc: (file_name(loc), loc))
