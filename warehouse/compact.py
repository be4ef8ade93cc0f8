"""Monthly copies of closed months' daily files, so a query of a year opens tens of files, not
thousands.

```
<data_dir>/compacted/<table>/<YYYY-MM>.<digest>.parquet   one month of one table
```
A copy holds every row of one month's daily files of one table (the lake's columns, then
`run_date`), sorted so that Parquet statistics skip what a query does not need (`articles` by
URL, the other tables by date). It is derived: the daily files stay the source of truth and are
never changed by compaction. The copy's name carries the digest of the daily files it was made
from (their paths under the data dir and `warehouse.verified.identity`), so whether a copy still
says what the daily files say is known from a directory listing and `os.stat`, without opening a
file: a copy is *current* while its month's daily files are exactly those, unchanged.

The catalog (`warehouse.catalog`) lists the current copies explicitly and reads every other month
from the daily files by a glob per month (and globs for the months to come), so each date is read
from exactly one place in any catalog. A rerun of a date inside a copied month replaces a daily
file: the copy stops being current, and the catalog that the publication builds reads the month's
daily files again, with every table of the date switching at once; until then readers see the
copy, the date as it was. The month is copied again by a later publication of another month,
which also deletes the copies that are no longer current (a session opened before the rerun
that still reads such a copy fails then and must be reopened).

`compact` (which `Publication.commit` calls once the data is renamed, `on_step` naming each
table before its copy is renamed) copies the closed months, those before the newest month of a
table's daily files, that have no current copy, except the month of the publishing run (a
backfill of that month would otherwise copy it again after every date). A copy is written under
a temporary name, fsynced, read back and renamed: a compaction killed at any point leaves the
daily files as they were and the catalog reading them, and the next compaction finishes the job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from warehouse import verified
from warehouse.lake import fsync_path, make_dirs, parquet_problem, table_dir
from warehouse.schema import TABLES

logger = logging.getLogger(__name__)

# The order of a copy's rows: what the queries of the table look up (see the docstring).
SORT = {"articles": "url, run_date"}


class CompactionError(RuntimeError):
    """A copy did not read back as written; it was not used."""


@dataclass(frozen=True, slots=True)
class Month:
    """One month of one table: its daily files, and its current copy if any."""

    month: str  # YYYY-MM
    files: tuple[Path, ...]
    copy: Path | None


def copies_dir(data_dir: Path, table: str) -> Path:
    return Path(data_dir).absolute() / "compacted" / table


def month_of(partition: str) -> str:
    """`run_date=2026-11-27` -> `2026-11`."""
    return partition.removeprefix("run_date=")[:7]


def digest(data_dir: Path, files: Iterable[Path]) -> str:
    """What a copy of `files` is named after: their paths under the data dir and identities."""
    data_dir = Path(data_dir).absolute()
    return _digest((str(p.relative_to(data_dir)), verified.identity(p)) for p in files)


def _digest(entries: Iterable[tuple[str, tuple[int, ...]]]) -> str:
    lines = sorted(f"{key}:{','.join(map(str, identity))}" for key, identity in entries)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def months(data_dir: Path, table: str) -> list[Month]:
    """The table's months that have daily files, oldest first, each with its current copy.

    Every publication asks this of every table (and the catalog's digest check too), so it
    lists and stats with `os.scandir`: no file is opened.
    """
    data_dir = Path(data_dir).absolute()
    folder = table_dir(data_dir, table)
    by_month: dict[str, list[tuple[Path, tuple[int, ...]]]] = {}
    for partition in _scan(folder):
        if not (partition.name.startswith("run_date=") and partition.is_dir()):
            continue
        month = month_of(partition.name)
        for entry in _scan(Path(partition.path)):
            if not entry.name.endswith(".parquet"):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # replaced while listed: the next listing has it
                continue
            identity = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            by_month.setdefault(month, []).append((Path(entry.path), identity))
    stored = {entry.name for entry in _scan(copies_dir(data_dir, table))}
    prefix = len(str(data_dir)) + 1
    found = []
    for month in sorted(by_month):
        listed = sorted(by_month[month])
        name = f"{month}.{_digest((str(p)[prefix:], i) for p, i in listed)}.parquet"
        copy = copies_dir(data_dir, table) / name if name in stored else None
        found.append(Month(month, tuple(p for p, _ in listed), copy))
    return found


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def compact(
    data_dir: Path, *, skip_month: str | None = None, on_step: Callable[[str], None] | None = None
) -> dict[str, list[Month]]:
    """Copy every closed month without a current copy (see the docstring); returns each
    table's months as they stand afterwards. Copies that are no longer current are deleted
    once their month is copied again."""
    data_dir = Path(data_dir).absolute()
    written = 0
    after: dict[str, list[Month]] = {}
    with verified.locked(verified.index_dir(data_dir) / "compaction"):
        for table in TABLES:
            folder = copies_dir(data_dir, table)
            for stray in folder.glob(".*.tmp") if folder.is_dir() else ():
                stray.unlink()  # a compaction that died left it; we hold the lock
            known = after[table] = months(data_dir, table)
            for index, month in enumerate(known[:-1]):  # the newest month is open
                if month.copy is not None or month.month == skip_month:
                    continue
                if on_step is not None:
                    on_step(f"compact:{table}")
                copy = _write_copy(data_dir, table, month)
                if copy is None:
                    continue
                written += 1
                known[index] = dataclasses.replace(month, copy=copy)
                for old in folder.glob(f"{month.month}.*.parquet"):
                    if old != copy:
                        old.unlink()
    if written:
        logger.info("Compacted %s month file(s) into %s", written, data_dir / "compacted")
    return after


def _write_copy(data_dir: Path, table: str, month: Month) -> Path | None:
    """Write the copy of one month; None when a daily file changed while it was read."""
    folder = copies_dir(data_dir, table)
    make_dirs(folder)
    before = digest(data_dir, month.files)
    temp = folder / f".{month.month}.{uuid.uuid4().hex}.tmp"
    try:
        rows = _copy_rows(temp, month.files, SORT.get(table, "run_date"))
        fsync_path(temp)
        problem = parquet_problem(temp)
        if problem is None and pq.read_metadata(temp).num_rows != rows:
            problem = f"holds {pq.read_metadata(temp).num_rows} rows, {rows} were read"
        if problem is not None:
            raise CompactionError(f"the copy of {table} {month.month} ({temp}) {problem}")
        try:
            if digest(data_dir, month.files) != before:
                return None
        except FileNotFoundError:
            return None
        target = folder / f"{month.month}.{before}.parquet"
        os.replace(temp, target)
        fsync_path(folder)
        return target
    finally:
        temp.unlink(missing_ok=True)


def _copy_rows(target: Path, files: Sequence[Path], order: str) -> int:
    """Write the rows of `files` with their `run_date` to `target`; returns the row count."""
    listed = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        result = con.execute(
            f"COPY (SELECT * FROM read_parquet({listed}, hive_partitioning = true, "  # noqa: S608
            "union_by_name = true, hive_types = {'run_date': DATE}) "
            f"ORDER BY {order}) TO '{str(target).replace(chr(39), chr(39) * 2)}' "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16384)"
        ).fetchall()
    finally:
        con.close()
    return int(result[0][0])
