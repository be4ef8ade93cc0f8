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
records those it checked. Writes are atomic (a temporary file, fsync, `os.replace`) and
serialised by a lock, so two writers lose no entries of each other's.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from warehouse.schema import TABLES

logger = logging.getLogger(__name__)

RECORD_NAME = "verified.json"


@dataclass(frozen=True, slots=True)
class Entry:
    identity: tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode
    conforms: bool


def index_dir(data_dir: Path) -> Path:
    """Where the warehouse keeps what it derives from the lake (never read by the views)."""
    return Path(data_dir).absolute() / "index"


def record_path(data_dir: Path) -> Path:
    return index_dir(data_dir) / RECORD_NAME


def identity(path: Path) -> tuple[int, int, int, int]:
    stat = path.stat()
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def load(data_dir: Path) -> dict[str, Entry]:
    """The record as written last (empty when missing or unreadable)."""
    try:
        raw = json.loads(record_path(data_dir).read_text(encoding="utf-8"))
        return {key: Entry(tuple(value[0]), bool(value[1])) for key, value in raw.items()}
    except (OSError, ValueError, TypeError, IndexError, KeyError, AttributeError) as error:
        if record_path(data_dir).exists():
            logger.warning("Ignored the unreadable record %s: %s", record_path(data_dir), error)
        return {}


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
    """Record `paths` (readable Parquet files of the lake, just checked) as verified now;
    entries of files that no longer exist are dropped."""
    data_dir = Path(data_dir).absolute()
    found: dict[str, Entry] = {}
    for path in paths:
        table = table_of(data_dir, path)
        if table is None:
            continue
        found[_key(data_dir, path)] = Entry(identity(path), conforms(path, table))
    with _locked(data_dir):
        record = load(data_dir)
        record.update(found)
        root = str(data_dir)  # strings: the record names every file of the lake
        record = {k: v for k, v in record.items() if os.path.exists(os.path.join(root, k))}
        _write(data_dir, record)


def _key(data_dir: Path, path: Path) -> str:
    return str(Path(path).absolute().relative_to(Path(data_dir).absolute()))


def _write(data_dir: Path, record: Mapping[str, Entry]) -> None:
    target = record_path(data_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{RECORD_NAME}.{uuid.uuid4().hex}.tmp")
    # One line: `indent` would make `json` encode a year of entries in Python, not C.
    text = json.dumps({k: [list(v.identity), v.conforms] for k, v in sorted(record.items())})
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as error:  # a cache: the next recovery checks these files again
        logger.warning("Could not write %s: %s", target, error)
        temp.unlink(missing_ok=True)


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
