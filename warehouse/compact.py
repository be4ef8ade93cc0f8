"""Copies of closed months' daily files, so a query of a year opens a few files per table, not
hundreds.

```
<data_dir>/compacted/<table>/<first YYYY-MM>--<last YYYY-MM>.<digest>.parquet
```
A copy holds every row of the daily files of a run of months of one table (the lake's columns,
then `run_date`), sorted so that Parquet statistics skip what a query does not need (`articles`
by URL, the other tables by date). It is derived: the daily files stay the source of truth and
are never changed by compaction. The copy's name carries the digest of the daily files it was
made from (their paths under the data dir and `warehouse.verified.identity`), so whether a copy
still says what the daily files say is known from a directory listing and `os.stat`, without
opening a file: a copy is *current* while the daily files of its months are exactly those,
unchanged. Should two current copies hold a month (a merge killed before it removed its inputs),
the one of more months counts.

The catalog (`warehouse.catalog`) lists the current copies explicitly and reads every other month
from the daily files by a glob per month (and globs for the months to come), so each date is read
from exactly one place in any catalog. A rerun of a date inside a copied month replaces a daily
file: the copy stops being current, and the catalog that the publication builds reads those months'
daily files again, with every table of the date switching at once; until then readers see the
copy, the date as it was. The months are copied again by a later publication of another month,
which also deletes the copies whose months are all held by other copies by then (a session opened
before the rerun that still reads such a copy fails then and must be reopened).

`compact` (which `Publication.commit` calls once the data is renamed, `on_step` naming the table
before each copy is renamed: `compact:<table>`, `merge:<table>`) first copies each closed month
(before the newest month of a table's daily files) that no current copy holds, except the month of
the publishing run (a backfill of that month would otherwise copy it again after every date). Then
it merges neighbouring copies while the later one holds at least as many months as the earlier (a
binary counter: a year is two to four files, and each row is rewritten a few times over its
life). A copy is written under a temporary name, fsynced, read back and renamed: a compaction
killed at any point leaves the daily files as they were and the catalog reading them, and the next
compaction finishes the job.

The tables of `PARTS` also get *parts* of the months no copy holds (the newest):
`<YYYY-MM-01>--<YYYY-MM-DD>.<digest>.parquet`, every daily file of the month's dates up to the
second date, current while those files are exactly the ones the digest names. A month's current
part with the latest last date stands for those dates in the catalog; the parts that are no longer
read stay for open sessions until the month is copied, and go then.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from warehouse import verified
from warehouse.lake import Listing, fsync_path, list_lake, make_dirs, parquet_problem
from warehouse.schema import TABLES

logger = logging.getLogger(__name__)

# The order of a copy's rows, and the rows per row group: `articles` sorted by URL, in groups
# whose statistics leave out all but one group of a long copy for a URL's history; the other
# tables by date in large groups, so that their footers stay small (a query of a few recent
# dates opens every copy's footer to skip it).
SORT = {"articles": "url, run_date"}

# The tables whose month that is not copied yet (the newest) is copied in *parts* too, a week of
# dates at a time: their recent dates are read by a column, not by date folder (a URL's
# versions; the decisions about a date's rows, which sit in the file of whichever later date
# made them), so without a part such a query opens every daily file of the month. A part
# holds the month's dates from its first to `last`; it is written once PART_DAYS dates after
# the current part's last (the table's newest date aside, which a rerun may still change) have
# files, from the month's daily files: a week's publication rewrites a month of these two small
# tables, never more.
PARTS = ("articles", "superseded")
PART_DAYS = 7
ROW_GROUP_ROWS = {"articles": 16384}
LARGE_GROUPS = 122880


class CompactionError(RuntimeError):
    """A copy did not read back as written; it was not used."""


@dataclass(frozen=True, slots=True)
class Month:
    """One month of one table: its daily files, the current copy that holds it, if any, and
    else the current part that holds its first dates, if any (`PARTS`)."""

    month: str  # YYYY-MM
    files: tuple[str, ...]  # absolute paths, sorted (strings: a year of Paths costs time)
    copy: Path | None
    part: Path | None = None
    part_last: str = ""  # YYYY-MM-DD: the last date `part` holds

    def unheld(self) -> list[str]:
        """The daily files that neither the copy nor the part holds."""
        if self.copy is not None:
            return []
        return [f for f in self.files if date_of(f) > self.part_last]


def date_of(file: str) -> str:
    """`.../run_date=2026-11-28/x.parquet` -> `2026-11-28`. String slicing, not a Path: a
    publication asks it of every daily file several times (a year of them is thousands)."""
    at = file.rindex(_DATE_FOLDER) + len(_DATE_FOLDER)
    return file[at : at + len("YYYY-MM-DD")]


_DATE_FOLDER = "run_date="


def copies_dir(data_dir: Path, table: str) -> Path:
    return Path(data_dir).absolute() / "compacted" / table


def month_of(partition: str) -> str:
    """`run_date=2026-11-27` -> `2026-11`."""
    return partition.removeprefix(_DATE_FOLDER)[:7]


def digest(data_dir: Path, files: Iterable[str | Path]) -> str:
    """What a copy of `files` is named after: their paths under the data dir and identities
    (as they are now)."""
    prefix = len(str(Path(data_dir).absolute())) + 1
    return _digest((str(p)[prefix:], verified.identity(Path(p))) for p in files)


def _digest(entries: Iterable[tuple[str, tuple[int, ...]]]) -> str:
    """The digest of `entries`, remembered for the same entries: a publication asks it of every
    copy of every table, and a year of files makes each a long text to hash."""
    key = tuple(entries)
    known = _digests.get(key)
    if known is None:
        lines = sorted(f"{name}:{','.join(map(str, identity))}" for name, identity in key)
        known = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
        if len(_digests) >= 1024:
            _digests.clear()
        _digests[key] = known
    return known


_digests: dict[tuple[tuple[str, tuple[int, ...]], ...], str] = {}


def months(data_dir: Path, table: str, listing: Listing | None = None) -> list[Month]:
    """The table's months that have daily files, oldest first, each with the current copy
    that holds it, if any.

    Every publication asks this of every table (and the catalog's digest check too), so it
    reads the daily files' identities from `listing` (the publication's, `warehouse.lake`;
    without one the table is listed now) and lists only the copies' folder: no file is opened.
    Should two current copies hold a month (a merge killed before it deleted its inputs), the
    one of more months counts.
    """
    data_dir = Path(data_dir).absolute()
    if listing is None:
        listing = list_lake(data_dir, [table])
    by_month: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for key, identity in listing.files(table).items():  # sorted: so is each month's part
        partition = key.split("/", 3)[2]
        if partition.startswith(_DATE_FOLDER):
            by_month.setdefault(month_of(partition), []).append((key, identity))
    order = sorted(by_month)
    current: list[tuple[list[str], Path]] = []
    scanned = _scan(copies_dir(data_dir, table))
    for entry in scanned:
        named = _NAME.fullmatch(entry.name)
        if named is None:
            continue
        first, last, said = named.groups()
        held = [m for m in order if first <= m <= last]
        if held and _digest(e for m in held for e in by_month[m]) == said:
            current.append((held, Path(entry.path)))
    holder: dict[str, Path] = {}
    for held, path in sorted(current, key=lambda c: (-len(c[0]), c[0][0], c[1].name)):
        if not any(m in holder for m in held):
            holder.update(dict.fromkeys(held, path))
    parts: dict[str, tuple[str, Path]] = {}  # month -> (last date, part), the longest current
    for first, last, path in _parts(scanned):
        month = first[:7]
        entries = [e for e in by_month.get(month, []) if date_of(e[0]) <= last]
        if month not in holder and entries and _digest(entries) == path.name.split(".")[1]:
            parts[month] = max(parts.get(month, ("", path)), (last, path))
    root = str(data_dir) + os.sep
    return [
        Month(
            m,
            tuple(root + key for key, _ in by_month[m]),
            holder.get(m),
            parts[m][1] if m in parts else None,
            parts[m][0] if m in parts else "",
        )
        for m in order
    ]


_NAME = re.compile(r"(\d{4}-\d{2})--(\d{4}-\d{2})\.([0-9a-f]{16})\.parquet")
_PART = re.compile(r"(\d{4}-\d{2}-01)--(\d{4}-\d{2}-\d{2})\.([0-9a-f]{16})\.parquet")


def _parts(entries: Sequence[os.DirEntry[str]]) -> list[tuple[str, str, Path]]:
    """(first date, last date, path) of each part among a copies folder's `entries`."""
    found = []
    for entry in entries:
        named = _PART.fullmatch(entry.name)
        if named is not None and named.group(1)[:7] == named.group(2)[:7]:
            found.append((named.group(1), named.group(2), Path(entry.path)))
    return found


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []


def compact(
    data_dir: Path,
    *,
    skip_month: str | None = None,
    on_step: Callable[[str], None] | None = None,
    listing: Listing | None = None,
    before: Mapping[str, list[Month]] | None = None,
) -> dict[str, list[Month]]:
    """Copy every closed month without a current copy, then merge copies (see the
    docstring); returns each table's months as they stand afterwards. Copies that are no
    longer current are deleted once the months they held are copied again.

    `listing` is the lake as the caller just listed it (`warehouse.lake.list_lake`; listed
    here without one), `before` each table's months as `months` gives them from it.
    Compaction never changes a daily file, so it stands throughout; a copy is named after its
    files' identities as they are when it is renamed."""
    data_dir = Path(data_dir).absolute()
    if listing is None:
        listing = list_lake(data_dir, TABLES)
    written = 0
    after: dict[str, list[Month]] = {}
    with verified.locked(verified.index_dir(data_dir) / "compaction"):
        for table in TABLES:
            folder = copies_dir(data_dir, table)
            for stray in folder.glob(".*.tmp") if folder.is_dir() else ():
                stray.unlink()  # a compaction that died left it; we hold the lock
            known = months(data_dir, table, listing) if before is None else before[table]
            copied = 0
            for month in known[:-1]:  # the newest month is open
                if month.copy is None and month.month != skip_month:
                    if on_step is not None:
                        on_step(f"compact:{table}")
                    copy = _write_months(data_dir, table, [month], month.files, hive=True)
                    copied += copy is not None
            if copied:  # otherwise the listing stands
                written += copied
                known = months(data_dir, table, listing)
            for _ in known:  # each merge leaves one copy fewer: never more merges than months
                pair = _mergeable(known)
                if pair is None:
                    break
                if on_step is not None:
                    on_step(f"merge:{table}")
                held = [m for m in known if m.copy in pair]
                if _write_months(data_dir, table, held, pair, hive=False) is None:
                    break
                written += 1
                known = months(data_dir, table, listing)
            if table in PARTS:
                parted = _write_parts(data_dir, table, known, on_step)
                if parted:
                    written += parted
                    known = months(data_dir, table, listing)
            after[table] = known
            _remove_unused(folder, known)
    if written:
        logger.info("Compacted %s file(s) into %s", written, data_dir / "compacted")
    return after


def _mergeable(known: Sequence[Month]) -> tuple[Path, Path] | None:
    """The first two neighbouring copies (no month between them read from daily files) of
    which the later holds at least as many months as the earlier."""
    runs: list[tuple[Path | None, int]] = []
    for month in known:
        if runs and runs[-1][0] == month.copy and month.copy is not None:
            runs[-1] = (month.copy, runs[-1][1] + 1)
        else:
            runs.append((month.copy, 1))
    for (earlier, size), (later, later_size) in itertools.pairwise(runs):
        if earlier is not None and later is not None and later_size >= size:
            return earlier, later
    return None


def _write_parts(
    data_dir: Path,
    table: str,
    known: Sequence[Month],
    on_step: Callable[[str], None] | None = None,
) -> int:
    """Write the part each month that no copy holds is due (see `PARTS`); returns how many."""
    written = 0
    for month in known:
        if month.copy is not None:
            continue
        dates = sorted({date_of(f) for f in month.files})
        due = [d for d in dates[:-1] if d > month.part_last]
        if len(due) >= PART_DAYS:
            files = [f for f in month.files if date_of(f) <= due[-1]]
            first = f"{month.month}-01"
            if on_step is not None:
                on_step(f"compact:{table}")
            part = _write_copy(data_dir, table, files, files, first, due[-1], hive=True)
            written += part is not None
    return written


def _remove_unused(folder: Path, known: Sequence[Month]) -> None:
    """Delete the copies that hold no month now (merged into another, or stale) once every
    month they named is held by another copy: a stale copy stays for the sessions that still
    read it until its months are copied again. A month's parts go once the month is copied."""
    used = {m.copy for m in known}
    held = {m.month for m in known if m.copy is not None}
    entries = _scan(folder)
    for _, last, path in _parts(entries):
        if last[:7] in held:
            path.unlink()
    for entry in entries:
        named = _NAME.fullmatch(entry.name)
        path = Path(entry.path)
        if named is None or path in used:
            continue
        first, last = named.group(1), named.group(2)
        if all(m.month in held for m in known if first <= m.month <= last):
            path.unlink()


def _write_months(
    data_dir: Path, table: str, held: Sequence[Month], sources: Sequence[str | Path], *, hive: bool
) -> Path | None:
    """Write the copy of the months `held` from `sources` (their daily files, `hive`, or the
    copies that hold them); None when a daily file changed meanwhile."""
    files = [f for m in held for f in m.files]
    return _write_copy(
        data_dir, table, files, sources, held[0].month, held[-1].month, hive=hive
    )


def _write_copy(
    data_dir: Path,
    table: str,
    files: Sequence[str],
    sources: Sequence[str | Path],
    first: str,
    last: str,
    *,
    hive: bool,
) -> Path | None:
    """Write the copy named `first--last` of the daily files `files` from `sources` (those
    files, `hive`, or the copies that hold them); None when a daily file changed meanwhile."""
    folder = copies_dir(data_dir, table)
    make_dirs(folder)
    before = digest(data_dir, files)
    temp = folder / f".{first}--{last}.{uuid.uuid4().hex}.tmp"
    try:
        rows = _copy_rows(
            temp,
            sources,
            SORT.get(table, "run_date"),
            ROW_GROUP_ROWS.get(table, LARGE_GROUPS),
            hive=hive,
        )
        fsync_path(temp)
        problem = parquet_problem(temp)
        if problem is None and pq.read_metadata(temp).num_rows != rows:
            problem = f"holds {pq.read_metadata(temp).num_rows} rows, {rows} were read"
        if problem is not None:
            raise CompactionError(f"the copy of {table} {first}--{last} ({temp}) {problem}")
        try:
            if digest(data_dir, files) != before:
                return None
        except FileNotFoundError:
            return None
        target = folder / f"{first}--{last}.{before}.parquet"
        os.replace(temp, target)
        fsync_path(folder)
        return target
    finally:
        temp.unlink(missing_ok=True)


def _copy_rows(
    target: Path, files: Sequence[str | Path], order: str, group_rows: int, *, hive: bool
) -> int:
    """Write the rows of `files` with their `run_date` (from the path when `hive`, else a
    column of theirs) to `target`; returns the row count."""
    listed = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"
    options = ", hive_partitioning = true, hive_types = {'run_date': DATE}" if hive else ""
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        result = con.execute(
            f"COPY (SELECT * FROM read_parquet({listed}, union_by_name = true{options}) "  # noqa: S608
            f"ORDER BY {order}) TO '{str(target).replace(chr(39), chr(39) * 2)}' "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {group_rows})"
        ).fetchall()
    finally:
        con.close()
    return int(result[0][0])
