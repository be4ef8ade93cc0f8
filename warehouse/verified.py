"""The record of lake files already checked, so recovery reads only what is new or changed.

`<data_dir>/index/verified.json` maps each checked Parquet file (its path under the data dir)
to its identity when it was checked, `[size, mtime_ns, ctime_ns, inode]`, and whether its
columns are exactly the schema's (`conforms`: the catalog's views may then bind to the schema
instead of reading every file's footer, see `warehouse.catalog`). A file counts as verified
only while all four still match: a file rewritten in place, truncated, replaced by a rerun or
restored from a backup has another identity and is checked again. The record is a cache: a
missing, unreadable or stale record only means more files are checked; nothing is trusted
from it that `os.stat` does not confirm.

`Publication.commit` records the files it has just validated and renamed; `lake.recover`
records those it checked. A write costs what it records, not the record's size: the new entries
are appended to `<data_dir>/index/verified.log` (a JSON object a line, fsynced), which `load`
reads after `verified.json`, later lines winning. Once the log outgrows a quarter of the record
(`FOLD_MIN_BYTES` at least), it is folded in: the whole record, without the entries of files
that left the lake, is written atomically (a temporary file, fsync, `os.replace`) and the log
then emptied. A crash between those two writes leaves a log whose lines the record already
holds (reading them again changes nothing); a crash while appending leaves a last line cut
short, which `load` skips and the next append starts after. Writes are serialised by a lock,
so two writers lose no entries of each other's. A process reads `verified.json` once per
identity of the file (`load`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from warehouse.atomic import replace_text
from warehouse.schema import TABLES

logger = logging.getLogger(__name__)

RECORD_NAME = "verified.json"
JOURNAL_NAME = "verified.log"
FOLD_MIN_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    identity: tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
    conforms: bool


def index_dir(data_dir: Path) -> Path:
    """Where the warehouse keeps what it derives from the lake (never read by the views)."""
    return Path(data_dir).absolute() / "index"


def record_path(data_dir: Path) -> Path:
    return index_dir(data_dir) / RECORD_NAME


def journal_path(data_dir: Path) -> Path:
    return index_dir(data_dir) / JOURNAL_NAME


def identity(path: Path) -> tuple[int, int, int, int]:
    stat = path.stat()
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def load(data_dir: Path) -> dict[str, Entry]:
    """The record as written last (empty when missing or unreadable), with its log."""
    record = dict(_base(data_dir))
    record.update(_journal(data_dir))
    return record


# verified.json as this process read it last: (path, its identity then, its entries)
_read: tuple[str, tuple[int, int, int, int], dict[str, Entry]] | None = None


def _base(data_dir: Path) -> Mapping[str, Entry]:
    """`verified.json`'s entries, parsed once per identity of the file (it is only ever
    replaced, by `_fold`); empty when missing or unreadable."""
    global _read
    path = record_path(data_dir)
    try:
        now = identity(path)
    except FileNotFoundError:
        return {}
    if _read is not None and _read[0] == str(path) and _read[1] == now:
        return _read[2]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        entries = {key: _entry(value) for key, value in raw.items()}
    except (OSError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        logger.warning("Ignored the unreadable record %s: %s", path, error)
        return {}
    _read = (str(path), now, entries)
    return entries


def _entry(value: list[object]) -> Entry:
    ident = value[0]
    if not isinstance(ident, list) or len(ident) != 4:
        raise ValueError(f"not an identity: {ident!r}")
    return Entry((int(ident[0]), int(ident[1]), int(ident[2]), int(ident[3])), bool(value[1]))


def _journal(data_dir: Path) -> dict[str, Entry]:
    """The log's entries, later lines winning; lines that do not parse (a crash cut the last
    one short) are skipped."""
    try:
        text = journal_path(data_dir).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    except OSError as error:
        logger.warning("Ignored the unreadable log %s: %s", journal_path(data_dir), error)
        return {}
    found: dict[str, Entry] = {}
    for line in text.splitlines():
        try:
            found.update((key, _entry(value)) for key, value in json.loads(line).items())
        except (ValueError, TypeError, IndexError, KeyError, AttributeError):
            continue
    return found


def is_verified(record: Mapping[str, Entry], data_dir: Path, path: Path) -> bool:
    """Whether `path` is recorded with the identity it has now."""
    entry = record.get(_key(data_dir, path))
    try:
        return entry is not None and entry.identity == identity(path)
    except FileNotFoundError:
        return False


def conforms(path: Path, table: str) -> bool:
    """Whether the file's columns are exactly the table's, with the schema's types."""
    schema = pq.read_schema(path)
    expected = TABLES[table]
    return schema.names == expected.names and all(
        schema.field(name).type.equals(expected.field(name).type) for name in expected.names
    )


def table_of(data_dir: Path, path: Path) -> str | None:
    """The table a published file belongs to (`lake/<table>/run_date=.../x.parquet`)."""
    parts = path.relative_to(Path(data_dir).absolute()).parts
    if len(parts) == 4 and parts[0] == "lake" and parts[1] in TABLES:
        return parts[1]
    return None


def add(data_dir: Path, paths: Iterable[Path]) -> None:
    """Record `paths` (readable Parquet files of the lake, just checked) as verified now, by
    appending them to the log (folded into the record once it has grown: the entries of files
    that no longer exist are dropped then)."""
    data_dir = Path(data_dir).absolute()
    found: dict[str, Entry] = {}
    for path in paths:
        table = table_of(data_dir, path)
        if table is None:
            continue
        found[_key(data_dir, path)] = Entry(identity(path), conforms(path, table))
    if not found:
        return
    with _locked(data_dir):
        try:
            _append(data_dir, found)
        except OSError as error:  # a cache: the next recovery checks these files again
            logger.warning("Could not write %s: %s", journal_path(data_dir), error)
            return
        if _outgrown(data_dir):
            _fold(data_dir)


def _key(data_dir: Path, path: Path) -> str:
    return str(Path(path).absolute().relative_to(Path(data_dir).absolute()))


def _encode(record: Mapping[str, Entry]) -> str:
    # One line: `indent` would make `json` encode a year of entries in Python, not C.
    return json.dumps({k: [list(v.identity), v.conforms] for k, v in sorted(record.items())})


def _append(data_dir: Path, entries: Mapping[str, Entry]) -> None:
    """Append one line of `entries` to the log and fsync it (after a newline, if a crash left
    the last line cut short)."""
    path = journal_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        cut = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        os.write(fd, (("\n" if cut else "") + _encode(entries) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _outgrown(data_dir: Path) -> bool:
    """Whether the log is due to be folded into the record (or there is no record yet)."""
    try:
        logged = journal_path(data_dir).stat().st_size
    except FileNotFoundError:
        return False
    try:
        recorded = record_path(data_dir).stat().st_size
    except FileNotFoundError:
        return True
    return logged > max(FOLD_MIN_BYTES, recorded // 4)


def _fold(data_dir: Path) -> None:
    """Write the record with its log (without entries of files gone), then empty the log."""
    record = load(data_dir)
    root = str(data_dir)  # strings: the record names every file of the lake
    record = {k: v for k, v in record.items() if os.path.exists(os.path.join(root, k))}
    if _write(data_dir, record):
        with open(journal_path(data_dir), "r+b") as handle:
            handle.truncate(0)
            os.fsync(handle.fileno())


def _write(data_dir: Path, record: Mapping[str, Entry]) -> bool:
    """Replace the record with `record`; False when that failed (it says so)."""
    target = record_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        replace_text(target, _encode(record), durable=True)
    except OSError as error:  # a cache: the next recovery checks these files again
        logger.warning("Could not write %s: %s", target, error)
        return False
    return True


def _locked(data_dir: Path) -> AbstractContextManager[None]:
    return locked(index_dir(data_dir))


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of an index folder (its `.lock` file) for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
