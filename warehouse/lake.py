"""Where the warehouse keeps its files, and the checks that keep the lake readable.

```
<data_dir>/lake/<table>/run_date=YYYY-MM-DD/<scope>.parquet   published tables
<data_dir>/raw/run_date=YYYY-MM-DD/<scope>.<digest>.warc.gz   raw archive, one per run
<data_dir>/staging/<run_date>__<scope>[.raw]/                 files being written (locked)
<data_dir>/quarantine/<relative path>                          broken files moved out of the lake
<data_dir>/index/                                              what is derived from the lake
<data_dir>/downloads/                                          remote WARC files being read
<data_dir>/newsflow.duckdb                                     the catalog of views
```
Staging lives outside `lake/` on the same filesystem, so no view glob ever sees a file that is
still being written and `os.replace` into the lake stays atomic.

What a publication asks of the whole lake (which files are verified, which months are copied,
which files a summary covers, which files the catalog's views read) it answers from one
`Listing`: a walk of `lake/<table>/<partition>/*.parquet` with each file's identity, as
strings, taken by `recover` and again once the publication's files are renamed. Its cost grows
with the number of files, but by a stat each, never by opening one: a folder is listed again
only when its own identity (mtime, ctime, inode) changed since it was last listed (`_entries`),
by this process or by one that left its folders' names in `<data_dir>/index/folders.json`
(`load_folders`; written by a committed publication, `record_folders`, never by a failed one: a
cache, each entry used only while its folder has the identity recorded with it, so a file a
crash or a hand left is listed all the same); every
file is stat'ed by `recover`'s walk; the publication's second walk takes the files of
partitions that did not change from the first whole (`list_lake(since=...)`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from stat import S_ISREG

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse import verified
from warehouse.atomic import fsync_path as fsync_path  # used by the modules that write the lake
from warehouse.atomic import replace_text
from warehouse.schema import TABLES
from warehouse.session import CATALOG_NAME
from warehouse.session import StorageError as StorageError  # raised by `writing`
from warehouse.session import catalog_path as catalog_path  # part of the layout above

logger = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

ARCHIVE_PART = "warc."  # scopes of the parts of a run that reads archives, one per file
Exclude = tuple[date, str] | None  # (run_date, scope) of the files a query must not see
Identity = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode (`verified.identity`)
# A folder's identity: mtime, ctime, inode. Adding, removing or renaming an entry changes the
# first two; a folder replaced or restored has another inode or ctime (ctime cannot be set).
FolderIdentity = tuple[int, int, int]


class CorruptLakeFile(RuntimeError):
    """Published files were unreadable; they were moved to quarantine and the run stopped."""

    def __init__(self, moved: dict[Path, Path], problems: dict[Path, str]) -> None:
        self.moved = moved
        lines = [f"{src} ({problems[src]}) -> {dst}" for src, dst in moved.items()]
        super().__init__(
            "corrupt file(s) in the lake were quarantined; check and rerun their dates: "
            + "; ".join(lines)
        )


class PublicationBusy(RuntimeError):
    """Another live process is already publishing the same run_date and scope."""


@contextmanager
def writing(path: Path, data_dir: Path) -> Iterator[None]:
    """Turn an OS error while writing `path` into a `StorageError` that names it."""
    try:
        yield
    except OSError as error:
        cause = os.strerror(error.errno) if error.errno else str(error)
        raise StorageError(f"cannot write {path} in data dir {data_dir}: {cause}") from error


class WarehouseBusy(RuntimeError):
    """Another run held the warehouse for longer than this run was willing to wait."""


def check_scope(scope: str) -> str:
    if not _SCOPE.fullmatch(scope):
        raise ValueError(f"scope must match {_SCOPE.pattern}, got {scope!r}")
    return scope


def check_table(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; known: {', '.join(sorted(TABLES))}")
    return table


def lake_dir(data_dir: Path) -> Path:
    return Path(data_dir).absolute() / "lake"


def table_dir(data_dir: Path, table: str) -> Path:
    return lake_dir(data_dir) / check_table(table)


def partition_dir(data_dir: Path, table: str, run_date: date) -> Path:
    return table_dir(data_dir, table) / f"run_date={run_date.isoformat()}"


def download_dir(data_dir: Path) -> Path:
    """Where remote archive files are downloaded to while a run reads them (created)."""
    folder = data_dir / "downloads"
    make_dirs(folder)
    return folder


def data_file(data_dir: Path, table: str, run_date: date, scope: str) -> Path:
    return partition_dir(data_dir, table, run_date) / f"{check_scope(scope)}.parquet"


def table_glob(data_dir: Path, table: str) -> str:
    """The absolute hive glob that the catalog's views and the queries read."""
    return str(table_dir(data_dir, table) / "run_date=*" / "*.parquet")


def raw_dir(data_dir: Path) -> Path:
    return Path(data_dir).absolute() / "raw"


def raw_partition(data_dir: Path, run_date: date) -> Path:
    """The folder of one date's raw archives (see `warehouse.raw` for their names)."""
    return raw_dir(data_dir) / f"run_date={run_date.isoformat()}"


def staging_dir(data_dir: Path) -> Path:
    return Path(data_dir).absolute() / "staging"


def quarantine_dir(data_dir: Path) -> Path:
    return Path(data_dir).absolute() / "quarantine"


def published_files(data_dir: Path, table: str, exclude: Exclude = None) -> list[Path]:
    """The table's published Parquet files, sorted (see `published_in` for `exclude`)."""
    return published_in(table_dir(data_dir, table), exclude)


def published_in(folder: Path, exclude: Exclude = None) -> list[Path]:
    """The published Parquet files of one table folder, sorted.

    With `exclude=(run_date, scope)`, the warehouse as that run sees it: its own file (which
    it is about to replace) and every later date's files are left out, so rerunning an
    earlier date after later ones gives what the date gave the first time. For the part of
    an archive run (scope `ARCHIVE_PART...`), so are the same date's parts that sort after it.
    """
    # Names, not Paths, until the answer: building and sorting Paths cost more than listing.
    looked = time.time_ns()  # once: see `_entries`
    top = str(folder)
    found = sorted(
        (partition, name)
        for partition in _names(top, dirs=True, looked=looked)
        if partition.startswith("run_date=")
        for name in _names(top + os.sep + partition, dirs=False, looked=looked)
        if name.endswith(".parquet")
    )
    if exclude is not None:
        run_date, scope = exclude
        last = f"run_date={run_date.isoformat()}"
        own = f"{check_scope(scope)}.parquet"
        part = scope.startswith(ARCHIVE_PART)

        def later(name: str) -> bool:
            """An archive file's part sees its date's earlier parts only, whatever order they
            ran in."""
            return part and name.startswith(ARCHIVE_PART) and name[: -len(".parquet")] > scope

        found = [
            (partition, name)
            for partition, name in found
            if partition < last or (partition == last and name != own and not later(name))
        ]
    return [folder.joinpath(partition, name) for partition, name in found]  # one parse each


def _names(folder: str, *, dirs: bool, looked: int | None = None) -> tuple[str, ...]:
    """The names of the folders (`dirs`) or other entries in `folder`; none if it is missing."""
    entries = _entries(folder, looked)
    return entries[0] if dirs else entries[1]


_Entries = tuple[tuple[str, ...], tuple[str, ...], FolderIdentity | None]
# Entries older than this (ns) against the clock when their folder was looked at: a change in
# the same timestamp tick as the folder's last one would leave its identity as it was.
SETTLED_NS = 2_000_000_000
_MAX_SCANNED = 100_000
_scanned: dict[str, tuple[FolderIdentity, tuple[str, ...], tuple[str, ...]]] = {}
_scans = 0  # settled folders listed by this process (`_entries`): worth recording


def _entries(folder: str, looked: int | None = None) -> _Entries:
    """`(folders, other entries, identity)` of `folder` by name; both empty if it is missing.
    The identity is the folder's when the names were read, None unless it had settled then.
    `looked`: the clock (`time.time_ns`) read before this call, taken now if not given (a walk
    reads it once: an earlier reading only makes fewer folders count as settled).

    A folder whose identity is the one it had at its last scan in this process, settled
    (`SETTLED_NS`) before that scan, is not scanned again: its names cannot have changed.
    So a lake of a year of partitions costs a `stat` per partition, not a listing of each.
    The names may also come from the record an earlier process left (`load_folders`): the
    same identity, compared the same way, vouches for them.
    """
    global _scans
    if looked is None:
        looked = time.time_ns()
    try:
        stat = os.stat(folder)
    except (FileNotFoundError, NotADirectoryError):
        _scanned.pop(folder, None)
        return (), (), None
    identity = (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    cached = _scanned.get(folder)
    if cached is not None and cached[0] == identity:
        return cached[1], cached[2], identity
    folders: list[str] = []
    others: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                (folders if entry.is_dir() else others).append(entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return (), (), None
    found = (tuple(folders), tuple(others))
    if max(stat.st_mtime_ns, stat.st_ctime_ns) < looked - SETTLED_NS:
        if len(_scanned) >= _MAX_SCANNED:
            _scanned.clear()
        _scanned[folder] = (identity, *found)
        _scans += 1
        return (*found, identity)
    _scanned.pop(folder, None)
    return (*found, None)


# ------------------------------------------------------------------ the record of folders

FOLDERS_NAME = "folders.json"
# Rewrite the record once a walk listed more than this share of the folders it would record
# (or there is none): listing a folder costs a few times what writing its entry does, and a
# night adds a dozen partitions to thousands, so the record is rewritten every few weeks.
REWRITE_SHARE = 16
_loaded: dict[str, tuple[int, int, int, int]] = {}  # record path -> its identity when read


def folders_path(data_dir: Path) -> Path:
    return verified.index_dir(data_dir) / FOLDERS_NAME


def load_folders(data_dir: Path) -> None:
    """Take the names of the lake's folders from the record a process left
    (`<data_dir>/index/folders.json`: each folder under the data dir, the identity it had
    settled at, its sub-folders and other entries then), so that a new process lists only the
    folders that changed since: each is still `stat`ed, and its names are taken only while it
    has the identity recorded with them (`_entries`). Read once per identity of the record;
    a missing or unreadable record only means listing every folder.
    """
    data_dir = Path(data_dir).absolute()
    path = folders_path(data_dir)
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return
    now = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if _loaded.get(str(path)) == now:
        return
    root = str(data_dir) + os.sep
    try:
        raw = json.loads(path.read_bytes())
        found = {
            root + key: ((int(m), int(c), int(i)), tuple(dirs), tuple(others))
            for key, (m, c, i, dirs, others) in raw.items()
        }
    except (OSError, ValueError, TypeError, AttributeError) as error:
        logger.warning("Ignored the unreadable record %s: %s", path, error)
        return
    if len(_scanned) + len(found) >= _MAX_SCANNED:
        _scanned.clear()
    for folder, entry in found.items():
        _scanned.setdefault(folder, entry)  # what this process saw itself stands
    _loaded[str(path)] = now


def folders_listed() -> int:
    """How many settled folders this process has listed so far (`record_folders`)."""
    return _scans


def record_folders(data_dir: Path, listing: Listing, listed: int) -> None:
    """Save the record of folders (`save_folders`) if it is missing or `listed` (settled
    folders listed since `folders_listed()` was asked, by the walks `listing` ends) is more
    than a `REWRITE_SHARE`th of those `listing` holds. `Publication.commit` calls it once its
    files are renamed: a publication that fails leaves the data dir as it found it."""
    if listed * REWRITE_SHARE > len(listing.folders) or (
        listed and not folders_path(data_dir).exists()
    ):
        save_folders(data_dir, listing)


def save_folders(data_dir: Path, listing: Listing) -> None:
    """Record the names of the folders `listing` walked, as this process holds them
    (`_scanned`: settled ones only), for the next process (`load_folders`). A cache written
    atomically, without fsync: a record lost or cut short is ignored, a stale entry is never
    used (its folder's identity changed)."""
    data_dir = Path(data_dir).absolute()
    root = str(data_dir) + os.sep
    lake = str(lake_dir(data_dir))
    walked = [lake, *(os.path.join(lake, t) for t in listing.tables), *listing.folders]
    record = {
        folder[len(root):]: [*entry[0], entry[1], entry[2]]
        for folder in walked
        if (entry := _scanned.get(folder)) is not None
    }
    path = folders_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_text(path, json.dumps(record, separators=(",", ":")), durable=False)
        stat = os.stat(path)
    except OSError as error:  # a cache: the next process lists the folders again
        logger.warning("Could not write %s: %s", path, error)
        return
    _loaded[str(path)] = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


@dataclass(frozen=True, slots=True)
class Listing:
    """The lake's Parquet files as one walk found them (`list_lake`).

    `tables` maps each folder under `lake/` to its files, each file's path under the data dir
    (`lake/<table>/<partition>/<name>.parquet`, the key `warehouse.verified` and
    `warehouse.summaries` use) to its identity then, in sorted order. Strings, not Paths: a
    year of files is thousands of them. `folders` holds the identity of each partition folder
    whose names had settled when they were read (`_entries`), for a later walk `since` this one.
    """

    data_dir: Path  # absolute
    tables: Mapping[str, Mapping[str, Identity]]
    folders: Mapping[str, FolderIdentity] = field(default_factory=dict, compare=False)
    # The files of each partition folder in `folders`, as in `tables`: a walk `since` this one
    # takes a partition that did not change whole.
    parts: Mapping[str, tuple[tuple[str, Identity], ...]] = field(
        default_factory=dict, compare=False
    )

    def files(self, table: str) -> Mapping[str, Identity]:
        return self.tables.get(table, {})

    def path(self, key: str) -> str:
        """The absolute path of the file `key` names."""
        return os.path.join(self.data_dir, key)


def list_lake(
    data_dir: Path, tables: Iterable[str] | None = None, since: Listing | None = None
) -> Listing:
    """List `lake/<table>/<partition>/*.parquet` with each file's identity (of `tables`
    only, when given); files that vanish while listed are left out.

    Every file is stat'ed, except, with `since` (an earlier listing of this process), the files
    of partitions whose folder has the identity it had then: their identities are taken from
    `since`. So a walk soon after another (a publication's, once its files are renamed, after
    its recovery's) stats a folder per partition and only the files of the partitions that
    changed since. A file rewritten in place (not renamed: nothing in the lake is written so)
    between the two walks is seen as the first walk saw it; the next recovery stats it afresh.
    """
    data_dir = Path(data_dir).absolute()
    looked = time.time_ns()  # once: see `_entries`
    lake = str(lake_dir(data_dir))
    wanted = sorted(_names(lake, dirs=True, looked=looked) if tables is None else tables)
    found: dict[str, dict[str, Identity]] = {}
    folders: dict[str, FolderIdentity] = {}
    parts: dict[str, tuple[tuple[str, Identity], ...]] = {}
    then = since.folders if since is not None else {}
    taken = since.parts if since is not None else {}
    stat_of = os.stat
    for table in wanted:
        files: list[tuple[str, Identity]] = []
        folder = lake + os.sep + table
        for partition in _names(folder, dirs=True, looked=looked):
            inside = folder + os.sep + partition
            _, names, settled = _entries(inside, looked)
            if settled is not None and then.get(inside) == settled and inside in taken:
                folders[inside] = settled  # the names `since` listed: take its files whole
                files.extend(part := taken[inside])
                parts[inside] = part
                continue
            prefix = f"lake/{table}/{partition}/"
            at = inside + os.sep
            here: list[tuple[str, Identity]] = []
            for name in names:
                if not name.endswith(".parquet"):
                    continue
                try:  # the file's identity as it is now
                    stat = stat_of(at + name, follow_symlinks=False)
                except FileNotFoundError:  # replaced while listed: the next listing has it
                    continue
                if S_ISREG(stat.st_mode):
                    ident = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
                    here.append((prefix + name, ident))
            files.extend(here)
            if settled is not None:
                folders[inside] = settled
                parts[inside] = tuple(here)
        files.sort()
        found[table] = dict(files)
    return Listing(data_dir, found, folders, parts)


def make_dirs(path: Path) -> None:
    """Create `path` and its parents, fsyncing each parent whose listing changed."""
    missing: list[Path] = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        cursor = cursor.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        fsync_path(directory.parent)


def parquet_problem(path: Path) -> str | None:
    """Why `path` is not a readable Parquet file, or None if it is."""
    try:
        size = path.stat().st_size
        if size < 12:
            return f"{size} bytes, too short for Parquet"
        with path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(-4, os.SEEK_END)
            tail = handle.read()
        if head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
            return "no Parquet magic bytes at start or end"
        pq.read_metadata(path)
    except (OSError, pa.ArrowException) as error:  # the caller quarantines the file
        return f"unreadable: {error}"
    return None


# ------------------------------------------------------------------ staging areas


class StagingArea:
    """A private directory under `<data_dir>/staging`, held by an exclusive `flock`.

    The lock dies with the process (even on SIGKILL), which is how `recover` tells an
    abandoned area from one that a live publisher is still writing.
    """

    def __init__(self, data_dir: Path, name: str) -> None:
        root = staging_dir(data_dir)
        make_dirs(root)
        self.path = root / name
        self._lock_path = root / f"{name}.lock"
        self._fd: int | None = _lock_exclusive(self._lock_path)
        if self._fd is None:
            raise PublicationBusy(f"another process is publishing {name} in {root}")
        if self.path.exists():  # left by a dead owner of the same name
            shutil.rmtree(self.path)
        self.path.mkdir()

    @property
    def active(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Delete the area and drop the lock; safe to call twice."""
        if self._fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock_path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _lock_exclusive(lock_path: Path) -> int | None:
    """Open and lock `lock_path`; None if a live process holds it."""
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # a cleaner unlinked it between open and flock: take the new file


RUN_LOCK_NAME = ".run.lock"


@contextmanager
def warehouse_run(
    data_dir: Path,
    holder: str,
    *,
    wait_s: float,
    on_wait: Callable[[str], None] = logger.warning,
    poll_s: float = 0.5,
) -> Iterator[None]:
    """Hold the warehouse for one run: one run at a time per data dir.

    A run decides what is new against what the warehouse holds (seen URLs, validators, dedup
    signatures), so two runs that overlapped would each store the other's stories as new.
    A second run waits, saying once who holds the warehouse, for up to `wait_s` seconds, then
    raises `WarehouseBusy`. The lock is an `flock` on `<data_dir>/.run.lock`, so it dies with
    its process (even on SIGKILL); the file also names the holder for the message.
    """
    make_dirs(Path(data_dir).absolute())
    path = Path(data_dir).absolute() / RUN_LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        wait_for_lock(
            fd,
            wait_s,
            poll_s,
            busy=lambda: f"{data_dir} is in use by {_holder(fd)} and stayed busy for "
            f"{wait_s:g} s; run again later, or wait longer with NEWSFLOW_RUN_LOCK_WAIT_S",
            waiting=lambda: on_wait(
                f"Waiting for {_holder(fd)} to finish with {data_dir} "
                f"(up to {wait_s:g} s; NEWSFLOW_RUN_LOCK_WAIT_S sets the limit)"
            ),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()})".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def wait_for_lock(
    fd: int,
    wait_s: float,
    poll_s: float,
    *,
    busy: Callable[[], str],
    waiting: Callable[[], None] | None = None,
) -> None:
    """Take an exclusive `flock` on `fd`, waiting up to `wait_s` seconds for its holder (and
    calling `waiting` once when it has to wait); then raise `WarehouseBusy(busy())`."""
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise WarehouseBusy(busy())
        if waiting is not None and not told:
            waiting()
            told = True
        time.sleep(poll_s)


def _holder(fd: int) -> str:
    """Who holds the run lock, as `warehouse_run` wrote it into the lock file (open as `fd`)."""
    text = os.pread(fd, os.fstat(fd).st_size, 0).decode().strip()
    return f"run {text}" if text else "another run"


class catalog_lock:
    """Serialise catalog builds and the cleaning of their temporary files."""

    _fd: int  # while held

    def __init__(self, data_dir: Path) -> None:
        self._path = Path(data_dir).absolute() / ".catalog.lock"

    def __enter__(self) -> None:
        make_dirs(self._path.parent)
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


# ------------------------------------------------------------------ recovery


def recover(data_dir: Path) -> Listing:
    """Make the lake safe to publish into, or fail naming what is broken; returns the lake's
    files as recovery left them.

    Removes staging areas and temporary catalogs whose writer died, then checks every
    published Parquet file (`lake/<table>/<partition>/*.parquet`) that is not recorded as
    verified with the identity it has now (`warehouse.verified`: new files, and files changed
    since they were checked: what a crash, a restore or a hand could have left); telling which
    those are costs one listing of the lake and no file opened. Broken ones move to
    `<data_dir>/quarantine/` (same relative path) and `CorruptLakeFile` is raised, so that
    nobody publishes over a lake that cannot be read. The files that pass are recorded.
    """
    data_dir = Path(data_dir).absolute()
    removed = [*_clean_stale_staging(data_dir), *_clean_stale_catalogs(data_dir)]
    if removed:
        logger.warning("Removed what runs that died left behind: %s", removed)
    record = verified.load(data_dir)
    load_folders(data_dir)
    listing = list_lake(data_dir)
    unchecked = sorted(
        data_dir / key
        for files in listing.tables.values()
        for key, identity in files.items()
        if (entry := record.get(key)) is None or entry.identity != identity
    )
    problems = {path: why for path in unchecked if (why := parquet_problem(path))}
    good = [path for path in unchecked if path not in problems]
    if good:
        verified.add(data_dir, good)
    if not problems:
        return listing
    moved: dict[Path, Path] = {}
    for path in problems:
        target = quarantine_dir(data_dir) / path.relative_to(data_dir)
        make_dirs(target.parent)
        if target.exists():
            target = target.with_name(f"{target.name}.{len(list(target.parent.iterdir()))}")
        os.replace(path, target)
        fsync_path(target.parent)
        fsync_path(path.parent)
        moved[path] = target
    raise CorruptLakeFile(moved, problems)


def _clean_stale_staging(data_dir: Path) -> list[Path]:
    """Remove the staging areas whose owner died; returns them."""
    root = staging_dir(data_dir)
    if not root.is_dir():
        return []
    removed = []
    names = {p.name.removesuffix(".lock") for p in root.iterdir()}
    for name in sorted(names):
        lock_path = root / f"{name}.lock"
        fd = _lock_exclusive(lock_path)
        if fd is None:
            continue  # a live publisher owns it
        try:
            area = root / name
            if area.exists():
                shutil.rmtree(area)
                removed.append(area)
            lock_path.unlink()  # we hold its lock: nobody else removes it now
        finally:
            os.close(fd)
    return removed


def _clean_stale_catalogs(data_dir: Path) -> list[Path]:
    """Remove the temporary files of catalog builds that died; returns them."""
    pattern = f".{CATALOG_NAME}.*.tmp*"
    if not any(data_dir.glob(pattern)):
        return []  # the usual case: no need to wait for a build that is running
    with catalog_lock(data_dir):
        removed = sorted(data_dir.glob(pattern))
        for path in removed:
            path.unlink()  # builds make and rename their temporary files under this lock
    return removed
