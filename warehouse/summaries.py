"""Summaries of the lake that publications keep up to date, so a run's own questions (seen
URLs, feed validators, source health, the report's chart) cost time bounded by what it asks
about, not by how many dates the warehouse holds.

A *kind* is a small table derived from one lake table by fixed SQL (`KINDS`):

- `seen` (articles): `url, run_date, first, fetched_at`, each URL an article row holds (its
  URL, final and canonical URL), whether that row was a story's version 1, latest fetch.
- `validators` (fetch_log): `url, run_date, etag, last_modified, fetched_at` of every fetch that
  returned a validator.
- `article_days` (articles): `run_date, source_id, stories, last_fetched_at` per source: rows
  that repeat no story (`duplicate_of` empty) and the latest fetch of any row.
- `source_runs` (source_runs): the table's rows as they are.

Each row also names its lake `file` (the path under the data dir). Segments are Parquet files
`<data_dir>/index/summaries/<kind>/<sequence>.parquet`; a segment's key-value metadata maps each
lake file it summarises to the identity (`warehouse.verified.identity`) the file had then, so
one `os.replace` publishes the rows together with what they cover.

Reading (`create_view`): for each lake file the caller asks about, the rows come from the
newest segment that covers the file with the identity it has now; a file that no segment
covers so (published since, replaced by a rerun, restored, or left by a crash between the data
and its summary) is read directly from the lake. So a missing, stale, partial or unreadable
index only costs time, never a wrong answer. A segment holds rows of the files it covers only
(marked `EXACT_KEY`), so one of which every file is asked for is read whole, without matching
each row to its file; a segment's metadata is read once per process. The segments of the kinds
looked up by URL (`seen`, `validators`: `BY_URL`) are sorted by URL in row groups of
`GROUP_ROWS` rows (marked `SORTED_KEY`): a lookup reads only the groups whose statistics may
hold a URL it asks about, so its cost follows the URLs asked, not the dates held.

Updating (`refresh`, which `Publication.commit` calls once the data is renamed): summarise every
file of each kind's table that no segment covers into a new segment, then merge the newest
segments while the newest covers at least as many files as the one before it (a binary counter:
O(log files) segments, each row rewritten O(log files) times over the history), keeping only the
rows of files whose identity still matches. Updates are serialised by a lock; a failure to update
is logged and left to the next publication (a cache). Readers take no lock: the flow's readers
run in the run that holds the warehouse (`warehouse.lake.warehouse_run`), and a reader that finds
a segment merged away under it asks again (`retrying`).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse import verified
from warehouse.lake import Listing, list_lake

logger = logging.getLogger(__name__)

COVERS_KEY = b"newsflow.covers"
# Set on segments that hold no row of a file they do not cover (every segment written since it
# was introduced): a reader that wants every file such a segment covers reads it whole.
EXACT_KEY = b"newsflow.exact"
# Set on segments of the kinds looked up by URL (`BY_URL`): rows sorted by `url`, in row groups of
# `GROUP_ROWS`, whose statistics tell which groups may hold a URL asked about (`create_view`).
SORTED_KEY = b"newsflow.sorted"
BY_URL = ("seen", "validators")
GROUP_ROWS = 4096
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Kind:
    table: str  # the lake table it is derived from
    select: str  # SQL over the relation `src` (the table's columns, `run_date`, `file`)


KINDS: dict[str, Kind] = {
    "seen": Kind(
        "articles",
        """
        SELECT file, run_date, url, version = 1 AS first, max(fetched_at) AS fetched_at
        FROM (SELECT file, run_date, version, fetched_at,
                     unnest([url, final_url, canonical_url]) AS url FROM src)
        WHERE url IS NOT NULL
        GROUP BY ALL
        """,
    ),
    "validators": Kind(
        "fetch_log",
        """
        SELECT file, run_date, url, etag, last_modified, fetched_at FROM src
        WHERE etag IS NOT NULL OR last_modified IS NOT NULL
        """,
    ),
    "article_days": Kind(
        "articles",
        """
        SELECT file, run_date, source_id,
               count(*) FILTER (WHERE duplicate_of IS NULL) AS stories,
               max(fetched_at) AS last_fetched_at
        FROM src GROUP BY ALL
        """,
    ),
    "source_runs": Kind(
        "source_runs",
        "SELECT * FROM src",
    ),
}


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    covers: dict[str, tuple[int, ...]]  # lake file under the data dir -> its identity then
    exact: bool = False  # holds rows of the files it covers only (`EXACT_KEY`)
    by_url: bool = False  # rows sorted by URL in small row groups (`SORTED_KEY`)


def kind_dir(data_dir: Path, kind: str) -> Path:
    return verified.index_dir(data_dir) / "summaries" / kind


def key_of(data_dir: Path, path: Path | str) -> str:
    """`path`'s path under the data dir (strings: readers ask this of a year of files)."""
    return _key(str(Path(data_dir).absolute()) + os.sep, path)


def _key(root: str, path: Path | str) -> str:
    text = os.fspath(path)
    if not os.path.isabs(text):
        text = os.path.abspath(text)
    if not text.startswith(root):
        raise ValueError(f"{text} is not in the data dir {root}")
    return text[len(root) :]


def _identity(path: str) -> tuple[int, ...]:
    """`warehouse.verified.identity` of a path string."""
    stat = os.stat(path)
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def segments(data_dir: Path, kind: str) -> list[Segment]:
    """The kind's readable segments, oldest first (unreadable ones are skipped)."""
    found = []
    for path in sorted(kind_dir(data_dir, kind).glob("*.parquet")):
        try:
            found.append(_segment(path))
        except FileNotFoundError:
            continue  # merged away since the listing
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
            logger.warning("Ignored the unreadable summary segment %s: %s", path, error)
    return found


_read: dict[str, tuple[tuple[int, ...], Segment]] = {}  # path -> (its identity, what it said)


def _segment(path: Path) -> Segment:
    """The segment at `path`, its metadata read once per identity of the file (a segment is
    written once, under a new name; a run asks for the same segments many times)."""
    identity = _identity(str(path))
    cached = _read.get(str(path))
    if cached is not None and cached[0] == identity:
        return cached[1]
    meta = pq.read_schema(path).metadata or {}
    covers = {k: tuple(v) for k, v in json.loads(meta[COVERS_KEY]).items()}
    segment = Segment(path, covers, meta.get(EXACT_KEY) == b"1", meta.get(SORTED_KEY) == b"url")
    if len(_read) > 256:  # segments merged away long ago
        _read.clear()
    _read[str(path)] = (identity, segment)
    return segment


def split(
    data_dir: Path, kind: str, files: Iterable[Path]
) -> tuple[list[tuple[str, str]], list[Path]]:
    """`files` as `(segment, file key)` pairs a segment answers for, and the files none does."""
    root = str(Path(data_dir).absolute()) + os.sep
    known = segments(data_dir, kind)
    chosen: list[tuple[str, str]] = []
    direct: list[Path] = []
    for path in files:
        key = _key(root, path)
        try:
            now = _identity(root + key)
        except FileNotFoundError:
            continue  # gone since it was listed: it holds nothing now
        holder = next((s for s in reversed(known) if s.covers.get(key) == now), None)
        if holder is None:
            direct.append(Path(path))
        else:
            chosen.append((str(holder.path), key))
    return chosen, direct


def _quoted_list(paths: Sequence[object]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _direct_sql(data_dir: Path, kind: str, files: Sequence[Path]) -> str:
    """The kind's rows of `files`, read from the lake."""
    prefix = len(str(Path(data_dir).absolute())) + 2  # 1-based, past the separator
    source = (
        f"SELECT * EXCLUDE (filename), substr(filename, {prefix}) AS file "  # noqa: S608
        f"FROM read_parquet({_quoted_list(files)}, union_by_name = true, filename = true, "
        "hive_partitioning = true, hive_types = {'run_date': DATE})"
    )
    return f"WITH src AS ({source}) {KINDS[kind].select}"


def create_view(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    kind: str,
    files: Sequence[Path],
    name: str,
    urls: Sequence[str] | None = None,
) -> None:
    """A temporary view `name` on `con`: the kind's rows of `files` (lake files of its table).

    With `urls` (a kind of `BY_URL`), rows of other URLs may be left out: of a segment sorted by
    URL only the row groups whose statistics may hold one of `urls` are read, so a lookup reads
    what it asks about, however many dates the segments hold.
    """
    chosen, direct = split(data_dir, kind, files)
    parts = []
    if urls is not None:
        looked_up, chosen = _look_up(data_dir, kind, chosen, sorted(set(urls)))
        if looked_up is not None:
            con.register(f"_{name}_looked_up", looked_up)
            parts.append(f"SELECT * FROM _{name}_looked_up")  # noqa: S608 (our own name)
    whole = _whole(data_dir, kind, chosen)
    chosen = [(s, f) for s, f in chosen if s not in whole]
    if whole:
        parts.append(f"SELECT * FROM read_parquet({_quoted_list(sorted(whole))})")  # noqa: S608
    if chosen:
        con.register(
            f"_{name}_chosen",
            pa.table(
                {"segment": [s for s, _ in chosen], "file": [f for _, f in chosen]},
                schema=pa.schema([("segment", pa.string()), ("file", pa.string())]),
            ),
        )
        held = sorted({s for s, _ in chosen})
        parts.append(
            "SELECT s.* EXCLUDE (filename) "  # noqa: S608 (quoted paths and our own names)
            f"FROM read_parquet({_quoted_list(held)}, filename = true) AS s "
            f"SEMI JOIN _{name}_chosen AS c ON c.segment = s.filename AND c.file = s.file"
        )
    if direct or not parts:
        parts.append(_direct_sql(data_dir, kind, direct) if direct else _empty_sql(kind))
    # Each part in parentheses: the direct part is a `WITH` query, which may not follow a
    # `UNION` bare (a lake file published since the last refresh beside covered ones).
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM ({part})" for part in parts)  # noqa: S608
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {union}")


def _look_up(
    data_dir: Path, kind: str, chosen: list[tuple[str, str]], urls: list[str]
) -> tuple[pa.Table | None, list[tuple[str, str]]]:
    """The rows of `urls` that the sorted segments among `chosen` hold for the files chosen
    of them (None when there are none), and the rest of `chosen`."""
    by_segment: dict[str, set[str]] = {}
    for segment, key in chosen:
        by_segment.setdefault(segment, set()).add(key)
    sorted_ones = {str(s.path) for s in segments(data_dir, kind) if s.by_url} & set(by_segment)
    if not sorted_ones:
        return None, chosen
    wanted = pa.array(urls, pa.string())
    found = []
    for path in sorted(sorted_ones):
        handle = pq.ParquetFile(path)
        groups = _groups_with(handle, _groups_holding(handle.metadata, urls), wanted)
        if not groups:
            continue
        rows = handle.read_row_groups(groups)
        rows = rows.filter(pc.is_in(rows.column("url"), value_set=wanted))
        keys = pa.array(sorted(by_segment[path]), pa.string())
        found.append(rows.filter(pc.is_in(rows.column("file"), value_set=keys)))
    rest = [(s, f) for s, f in chosen if s not in sorted_ones]
    if not found:
        return None, rest
    return pa.concat_tables(found, promote_options="permissive"), rest


def _groups_with(handle: pq.ParquetFile, groups: list[int], wanted: pa.Array) -> list[int]:
    """Those of `groups` whose `url` column holds one of `wanted`. Statistics only bound a
    group, and every URL asked about falls inside the bounds of one group of each segment
    (the one its sort position lands in), held or not: reading that group's URLs alone tells,
    so the other columns are read of the groups that hold a URL asked about."""
    if not groups:
        return []
    urls = handle.read_row_groups(groups, columns=["url"]).column("url")
    held = pc.is_in(urls, value_set=wanted)
    if not pc.any(held).as_py():
        return []
    found = []
    start = 0
    for group in groups:
        rows = handle.metadata.row_group(group).num_rows
        if pc.any(held.slice(start, rows)).as_py():
            found.append(group)
        start += rows
    return found


def _groups_holding(metadata: pq.FileMetaData, urls: list[str]) -> list[int]:
    """The row groups whose `url` statistics (min, max) hold one of `urls` (sorted), or that
    have none."""
    column = next(
        i for i in range(metadata.num_columns) if metadata.schema.column(i).path == "url"
    )
    held = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max:
            held.append(group)
            continue
        at = bisect.bisect_left(urls, stats.min)
        if at < len(urls) and urls[at] <= stats.max:
            held.append(group)
    return held


def _whole(data_dir: Path, kind: str, chosen: Sequence[tuple[str, str]]) -> set[str]:
    """The exact segments (`EXACT_KEY`) that `chosen` takes every file of: read whole."""
    taken: dict[str, set[str]] = {}
    for segment, key in chosen:
        taken.setdefault(segment, set()).add(key)
    return {
        str(s.path)
        for s in segments(data_dir, kind)
        if s.exact and taken.get(str(s.path)) == s.covers.keys()
    }


def _empty_sql(kind: str) -> str:
    """The kind's columns with no rows (over an empty, typed table)."""
    columns = ", ".join(
        f"CAST(NULL AS {t}) AS \"{c}\""
        for c, t in _table_types(KINDS[kind].table).items()
    )
    return (
        f"WITH src AS (SELECT {columns}, CAST(NULL AS DATE) AS run_date, "
        f"CAST(NULL AS VARCHAR) AS file WHERE false) {KINDS[kind].select}"
    )


def _table_types(table: str) -> dict[str, str]:
    from warehouse.catalog import table_types  # the catalog imports this module's users

    return table_types(table)  # cached there: DuckDB is asked once per process


def retrying(ask: Callable[[], _T]) -> _T:
    """`ask()`, asked once more if a segment it read was merged away meanwhile."""
    try:
        return ask()
    except (duckdb.IOException, FileNotFoundError) as error:
        logger.info("A summary segment changed while it was read (%s); asking again", error)
        return ask()


# ------------------------------------------------------------------ updating


def refresh(data_dir: Path, listing: Listing | None = None) -> None:
    """Summarise the lake files no segment covers, and merge segments (see the docstring).

    `listing` is the lake as the caller just listed it (`warehouse.lake.list_lake`; listed
    here without one): which files are new is then known from the segments' metadata alone.
    A listing that went stale only costs time: a file it names with an identity the file no
    longer has is not covered (it is read directly) until the next refresh.
    A cache: an error is logged and the next publication tries again.
    """
    data_dir = Path(data_dir).absolute()
    if listing is None:
        listing = list_lake(data_dir, {k.table for k in KINDS.values()})
    for kind in KINDS:
        try:
            with _locked(data_dir):
                _refresh(data_dir, kind, listing)
        except (OSError, duckdb.Error, pa.ArrowException) as error:
            logger.warning("Could not update the %s summary: %s", kind, error)


def _refresh(data_dir: Path, kind: str, listing: Listing) -> None:
    folder = kind_dir(data_dir, kind)
    files = listing.files(KINDS[kind].table)
    known = segments(data_dir, kind)
    # Only files whose identity no segment holds (published since, replaced or restored).
    direct = {
        key: identity
        for key, identity in files.items()
        if not any(s.covers.get(key) == identity for s in known)
    }
    if direct:
        con = duckdb.connect()
        try:
            paths = [Path(listing.path(key)) for key in direct]
            rows = con.sql(_direct_sql(data_dir, kind, paths)).to_arrow_table()
        finally:
            con.close()
        # Only files that stayed as they were listed while they were read (another scope's
        # publication may replace its file meanwhile: its rows are left uncovered, unread).
        covers = {key: ident for key, ident in direct.items() if _unchanged(listing, key, ident)}
        _write_segment(folder, rows, covers, kind=kind)
    _merge(data_dir, kind, listing)
    for stray in folder.glob(".*.tmp"):  # left by a writer that died
        stray.unlink(missing_ok=True)


def _unchanged(listing: Listing, key: str, identity: tuple[int, ...]) -> bool:
    try:
        return _identity(listing.path(key)) == identity
    except FileNotFoundError:
        return False


def _merge(data_dir: Path, kind: str, listing: Listing) -> None:
    """Merge the newest segments while the newest covers at least as many files as the one
    before it; the merged segment keeps only files whose identity still matches (as
    `listing` has it)."""
    files = listing.files(KINDS[kind].table)
    while True:
        known = segments(data_dir, kind)
        if len(known) < 2 or len(known[-1].covers) < len(known[-2].covers):
            return
        older, newer = known[-2], known[-1]
        current = {}
        for segment in (older, newer):  # the newer's entry wins
            for key, ident in segment.covers.items():
                if files.get(key) == ident:
                    current[key] = (str(segment.path), ident)
        con = duckdb.connect()
        try:
            keep = pa.table(
                {"segment": [s for s, _ in current.values()], "file": list(current)},
                schema=pa.schema([("segment", pa.string()), ("file", pa.string())]),
            )
            con.register("keep", keep)
            rows = con.sql(
                "SELECT s.* EXCLUDE (filename) FROM read_parquet($paths, filename = true) AS s "
                "SEMI JOIN keep AS k ON k.segment = s.filename AND k.file = s.file",
                params={"paths": [str(older.path), str(newer.path)]},
            ).to_arrow_table()
        finally:
            con.close()
        # named after the newer so the order holds; written before the inputs go
        _write_segment(
            kind_dir(data_dir, kind),
            rows,
            {k: ident for k, (_, ident) in current.items()},
            name=newer.path.stem + "m",
            kind=kind,
        )
        older.path.unlink()
        newer.path.unlink()


def _write_segment(
    folder: Path,
    rows: pa.Table,
    covers: Mapping[str, tuple[int, ...]],
    name: str | None = None,
    *,
    kind: str,
) -> Path:
    """A new segment, published atomically with what it covers (sorted by URL for `BY_URL`)."""
    folder.mkdir(parents=True, exist_ok=True)
    if name is None:
        taken = [p.stem for p in folder.glob("*.parquet")]
        number = 1 + max((int(s[:12]) for s in taken if s[:12].isdigit()), default=0)
        name = f"{number:012d}"
    target = folder / f"{name}.parquet"
    temp = folder / f".{name}.{uuid.uuid4().hex}.tmp"
    # Only rows of covered files, so that a reader may take the segment whole (`EXACT_KEY`).
    rows = rows.filter(pc.is_in(rows.column("file"), value_set=pa.array(list(covers), pa.string())))
    metadata = {
        **(rows.schema.metadata or {}),
        COVERS_KEY: json.dumps(covers).encode(),
        EXACT_KEY: b"1",
    }
    group_rows = None
    if kind in BY_URL:
        rows = rows.sort_by([("url", "ascending")])
        metadata[SORTED_KEY] = b"url"
        group_rows = GROUP_ROWS
    try:
        pq.write_table(
            rows.replace_schema_metadata(metadata),
            temp,
            compression="zstd",
            row_group_size=group_rows,
        )
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _locked(data_dir: Path) -> AbstractContextManager[None]:
    return verified.locked(verified.index_dir(data_dir) / "summaries")
