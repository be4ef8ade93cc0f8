"""The DuckDB catalog: a small `.duckdb` file that holds views only.

Every build writes a fresh file under a temporary name beside the live one and `os.replace`s
it, so the job never opens the live catalog (an analyst may hold it open, read-only or not).

The views name the Parquet files they read by absolute path: the current copies of closed
months (`warehouse.compact`), and the daily files of the other dates up to the catalog's
*anchor*, the newest date any table held when it was built. They never glob a folder by a
wildcard in its name: DuckDB would list the table's folder, which holds a folder per stored
date, and `stat` every entry, on every query (4 ms a table at a year of dates, the most of what
a query of a week cost). For the `HORIZON_DAYS` dates after the anchor each view globs the
date's own folder, so a session that is already open sees the next nights' runs on its next
query, from any working directory; a later date, or a file added to an earlier one, is seen by
the sessions opened after the publication that rebuilds the catalog for it.

Absolute paths tie a catalog to where its data dir was when it was built. The view
`catalog_info` records that place, and every `stg_<table>` view checks, before it reads a
file, that the catalog file it belongs to is still attached from there: a copied or moved
catalog fails with a message that says so instead of reading the original's files (or finding
none). `warehouse.query.open_catalog` rebuilds such a catalog where it now is.

`ensure_catalog` (what a publication calls) rebuilds only when the views' SQL, with the live
catalog's anchor, differs from the SQL it was built from, whose digest is kept with the anchor
in `<data_dir>/index/catalog.sha256`, when a date past the horizon appears, or while an
analyst's session holds the live file's write lock (new sessions get a file of their own). So
a nightly run rebuilds it about once a week. A table's view binds to the schema and reads only
the files its query needs once every one of its files is recorded as conforming to the schema
(`warehouse.verified`); while any is not (a file from an older newsflow, or one not checked
yet) it reads them with `union_by_name`, which opens every file's footer to bind.
`story_spread` reads the summary that publications keep (`warehouse.spread`) while it holds
for the lake as listed when the statements are made, and aggregates otherwise: the choice is
part of the statements, so it switches with a rebuild.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse import compact, spread, verified
from warehouse.atomic import replace_text
from warehouse.lake import (
    CATALOG_NAME,
    Listing,
    StorageError,
    catalog_lock,
    catalog_path,
    fsync_path,
    list_lake,
    make_dirs,
    table_dir,
    writing,
)
from warehouse.schema import TABLES
from warehouse.session import CATALOG_INFO
from warehouse.views import analytic_views

logger = logging.getLogger(__name__)

# Files readable by DuckDB clients from 1.0 on, not only by the version that wrote them.
# How many dates after the newest stored one a catalog reads by a glob of their folder, so that
# an open session sees the next nights' runs without being reopened (each such glob costs
# every query of the table about 0.1 ms, published or not).
HORIZON_DAYS = 7

_STORAGE: dict[str, str | bool | int | float | list[str]] = {
    "storage_compatibility_version": "v1.0.0"
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@functools.cache
def table_types(table: str) -> dict[str, str]:
    """DuckDB's type for each column of `table` (asked of DuckDB once per process)."""
    return duckdb_types(TABLES[table])


def duckdb_types(schema: pa.Schema) -> dict[str, str]:
    """DuckDB's type for each column of an Arrow schema, as DuckDB itself maps it."""
    con = duckdb.connect()
    try:
        con.register("_schema", schema.empty_table())
        return {row[0]: row[1] for row in con.execute("DESCRIBE _schema").fetchall()}
    finally:
        con.close()


def scan_sql(globs: Sequence[str], *, by_name: bool, may_be_empty: bool = True) -> str:
    """The `read_parquet` call over one table's daily files and hive globs; `by_name=False`
    when every file has the schema's columns (binding then reads one file, not every footer).
    A glob may match nothing yet, unless `may_be_empty=False` (files that must all be read)."""
    union = "union_by_name = true, " if by_name else ""
    files = "[" + ", ".join(map(quote_literal, globs)) + "]"
    empty = ", allow_empty = true" if may_be_empty else ""
    return (
        f"read_parquet({files}, hive_partitioning = true, "
        f"{union}hive_types = {{'run_date': DATE}}{empty})"
    )


def _coming_globs(folder: Path, newest: str) -> list[str]:
    """One glob per date folder of the `HORIZON_DAYS` dates after `newest` (YYYY-MM-DD), so that
    a session opened before they were published reads them. Each names its folder: a glob with a
    wildcard in a folder name makes DuckDB list (and `stat` every entry of) the table's folder,
    which holds a folder per stored date, on every query."""
    start = date.fromisoformat(newest)
    return [
        str(folder / f"run_date={start + timedelta(days=n)}" / "*.parquet")
        for n in range(1, HORIZON_DAYS + 1)
    ]


def _where_built(catalog: Path, data_dir: Path) -> str:
    """A condition that is true while `catalog` is attached from where it was built, and
    raises an error that says what to do once it has been copied or moved."""
    told = (
        f"this newsflow catalog was built for the data dir {data_dir} and has been copied or "
        "moved since: run newsflow --data-dir <its data dir now> sql 'SELECT 1' to rebuild it"
    )
    # Both pieces are quoted by `quote_literal`.
    return (
        "WHERE (SELECT CASE WHEN count(*) > 0 THEN true ELSE error("  # noqa: S608
        + quote_literal(told)
        + ") END FROM duckdb_databases() WHERE path = "
        + quote_literal(str(catalog))
        + ")"
    )


def staging_view_sql(
    data_dir: Path,
    table: str,
    catalog: Path | None,
    record: Mapping[str, verified.Entry],
    months: Mapping[str, list[compact.Month]],
    anchor: str | None = None,
) -> str:
    """`SELECT` of `stg_<table>`: the table's columns cast to the schema, plus `run_date`.

    It names each file it reads: the current copies of closed months (`warehouse.compact`),
    every other daily file of a date up to `anchor` (YYYY-MM-DD; the table's newest date
    without it), and the folder of each of the `HORIZON_DAYS` dates after it by a glob. A
    table with no published file yet gets an empty, typed `SELECT`, so the view answers. With
    `catalog` (the real path of the catalog file the view is stored in), the view first checks
    that it is read through that file (see the module's docstring). `record` is the verified
    record (`warehouse.verified.load`: which files have every column), `months` each table's
    months (`warehouse.compact.months`).
    """
    types = table_types(table)
    known = months[table]
    if not known:
        return files_view_sql(table, [])
    anchor = anchor or newest_date({table: known})
    assert anchor is not None  # `known` holds a file
    unheld = [f for m in known for f in m.unheld()]
    daily = [f for f in unheld if compact.date_of(f) <= anchor]
    prefix = len(str(Path(data_dir).absolute())) + 1
    later = [f for f in unheld if compact.date_of(f) > anchor]
    by_name = not all(
        k in record and record[k].conforms for k in (f[prefix:] for f in daily + later)
    )
    scanned = scan_sql(daily + _coming_globs(table_dir(data_dir, table), anchor), by_name=by_name)
    if not daily:  # globs that may match nothing yet: the empty SELECT gives the columns
        empty = files_view_sql(table, [])
        scanned = f"({empty} UNION ALL BY NAME SELECT * FROM {scanned})"  # noqa: S608 (ours)
    columns = [f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
    select = "SELECT " + ", ".join([*columns, "CAST(run_date AS DATE) AS run_date"])
    parts = [f"{select} FROM {scanned}"]
    held = [m.copy or m.part for m in known]
    copies = list(dict.fromkeys(str(c) for c in held if c is not None))
    if copies:
        copied = "read_parquet([" + ", ".join(map(quote_literal, copies)) + "])"
        parts.insert(0, f"{select} FROM {copied}")
    where = "" if catalog is None else " " + _where_built(catalog, data_dir)
    names = ", ".join([*map(quote_ident, types), "run_date"])
    union = " UNION ALL ".join(parts)
    return f"SELECT {names} FROM ({union}){where}"  # noqa: S608 (our names and quoted paths)


def newest_date(months: Mapping[str, Sequence[compact.Month]]) -> str | None:
    """The newest date (YYYY-MM-DD) of any daily file of `months` (each table's)."""
    return max((compact.date_of(m[-1].files[-1]) for m in months.values() if m), default=None)


def files_view_sql(table: str, files: Sequence[str], *, by_name: bool = True) -> str:
    """`SELECT` of `stg_<table>` over an explicit list of the table's daily files (paths or
    URLs, each under a `run_date=YYYY-MM-DD` folder): `warehouse.remote` gives it the objects
    that the store's manifests name. `by_name=False` when every file has the schema's columns,
    as for `scan_sql`. A file that is missing when the view is read fails the query (it is
    never skipped). No file: an empty, typed `SELECT`."""
    types = table_types(table)
    if not files:
        columns = [f"CAST(NULL AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
        return "SELECT " + ", ".join([*columns, "CAST(NULL AS DATE) AS run_date"]) + " WHERE false"
    columns = [f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
    run_date = "CAST(run_date AS DATE) AS run_date"
    source = "FROM " + scan_sql(list(files), by_name=by_name, may_be_empty=False)
    return "SELECT " + ", ".join([*columns, run_date]) + " " + source


def create_views(
    con: duckdb.DuckDBPyConnection, data_dir: Path, catalog: Path | None = None
) -> None:
    """Create `stg_<table>` for every table and the analytic views on `con`.

    `catalog` is the real path of the catalog file being built (None for an in-memory
    connection): it adds `catalog_info` and the check of `staging_view_sql`.
    """
    for statement in catalog_statements(data_dir, catalog):
        con.execute(statement)


def catalog_statements(
    data_dir: Path,
    catalog: Path | None = None,
    months: Mapping[str, list[compact.Month]] | None = None,
    anchor: str | None = None,
    listing: Listing | None = None,
) -> list[str]:
    """The statements that `create_views` runs, in order (`months`: each table's, as
    `warehouse.compact.months` gives them, and `listing`: the lake, when the caller has just
    listed them; `anchor`: the date up to which the views name their daily files, the newest
    date of any table without it). `story_spread` reads the summary a publication keeps while
    it holds for the lake as listed now (`warehouse.spread`), else aggregates: the choice is
    part of the statements, so a catalog switches when it is rebuilt."""
    data_dir = Path(data_dir).absolute()
    record = verified.load(data_dir)
    months, listing = _known(data_dir, months, listing)
    if listing is None:
        listing = list_lake(data_dir, spread.READ)
    anchor = anchor or newest_date(months)
    statements = [
        f"CREATE OR REPLACE VIEW {quote_ident('stg_' + table)} AS "
        + staging_view_sql(data_dir, table, catalog, record, months, anchor)
        for table in TABLES
    ]
    summary = spread_view_sql(data_dir, catalog) if spread.holds(data_dir, listing) else None
    statements += [
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS "
        + (summary if name == "story_spread" and summary is not None else select)
        for name, select in analytic_views()
    ]
    if catalog is not None:
        statements.append(
            f"CREATE OR REPLACE VIEW {CATALOG_INFO} AS SELECT "
            f"{quote_literal(str(data_dir))} AS data_dir, {quote_literal(str(catalog))} AS catalog"
        )
    return statements


def lake_months(data_dir: Path, listing: Listing | None = None) -> dict[str, list[compact.Month]]:
    """Each table's months as the lake holds them (as `listing` has it; listed now without)."""
    listing = list_lake(data_dir, TABLES) if listing is None else listing
    return {table: compact.months(data_dir, table, listing) for table in TABLES}


def _known(
    data_dir: Path,
    months: Mapping[str, list[compact.Month]] | None,
    listing: Listing | None,
) -> tuple[Mapping[str, list[compact.Month]], Listing | None]:
    """`months` and `listing` as a caller gave them, or both as the lake is now (one listing
    for every table) when it gave no months."""
    if months is None:
        listing = list_lake(data_dir, TABLES)
        months = lake_months(data_dir, listing)
    return months, listing


def spread_view_sql(data_dir: Path, catalog: Path | None = None) -> str:
    """`SELECT` of `story_spread` from the summary file (`warehouse.spread`), checked like
    `staging_view_sql` to be read through `catalog`."""
    where = "" if catalog is None else " " + _where_built(catalog, data_dir)
    path = quote_literal(str(spread.summary_path(data_dir)))
    return f"SELECT * FROM read_parquet({path}){where}"  # noqa: S608 (a quoted path)


def digest_path(data_dir: Path) -> Path:
    """Where the digest of the live catalog's statements is kept."""
    return verified.index_dir(data_dir) / "catalog.sha256"


def _digest(statements: list[str]) -> str:
    return hashlib.sha256("\n;\n".join(statements).encode()).hexdigest()


def ensure_catalog(
    data_dir: Path,
    months: Mapping[str, list[compact.Month]] | None = None,
    listing: Listing | None = None,
) -> Path:
    """The catalog, rebuilt only if its views would not be the ones it holds; returns its path.

    The live catalog's views read the dates after its anchor (the newest date when it was
    built) by globs, up to `HORIZON_DAYS` of them: a publication of such a date changes no
    view, so it needs no rebuild; one of a later date, a file added to or replaced in an
    earlier date, or a new copy does. `months` (each table's, as `warehouse.compact.compact`
    returns them) and `listing` (the lake as the caller just listed it) spare listing the lake
    to tell."""
    data_dir = Path(data_dir).absolute()
    months, listing = _known(data_dir, months, listing)
    target = catalog_path(data_dir)
    recorded = _read_digest(digest_path(data_dir))
    if recorded is not None and target.is_file() and not _held_for_writing(target):
        digest, anchor = recorded
        newest = newest_date(months)
        if newest is None or newest <= _after(anchor, HORIZON_DAYS):  # else: a new anchor
            statements = catalog_statements(data_dir, target.resolve(), months, anchor, listing)
            if _digest(statements) == digest:
                return target
    return build_catalog(data_dir, months, listing)


def _after(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def _read_digest(path: Path) -> tuple[str, str] | None:
    """(digest, anchor) of the live catalog, as `build_catalog` kept them; None if unknown."""
    try:
        digest, anchor = path.read_text(encoding="ascii").split()
        date.fromisoformat(anchor)
    except (OSError, ValueError):
        return None  # none yet, or from an older newsflow: build
    return digest, anchor


def _held_for_writing(path: Path) -> bool:
    """Whether a process holds DuckDB's write lock on `path` (so no new session could open it
    until a new file replaces it); True when that cannot be known (no Linux /proc/locks)."""
    try:
        stat = path.stat()
        with open("/proc/locks", encoding="ascii") as handle:
            locks = handle.read()
    except OSError:
        return True
    node = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino} "
    return any(node in line and " WRITE " in line for line in locks.splitlines())


def build_catalog(
    data_dir: Path,
    months: Mapping[str, list[compact.Month]] | None = None,
    listing: Listing | None = None,
) -> Path:
    """Write a new catalog beside the live one and swap it in; returns its path. Its views
    name the daily files up to the newest date of any table (its anchor), and glob the
    folders of the `HORIZON_DAYS` dates after it. `months`, `listing`: as for
    `ensure_catalog` (listed now without them)."""
    data_dir = Path(data_dir).absolute()
    make_dirs(data_dir)
    target = catalog_path(data_dir)
    with catalog_lock(data_dir):
        temp = data_dir / f".{CATALOG_NAME}.{uuid.uuid4().hex}.tmp"
        try:
            try:
                con = duckdb.connect(str(temp), config=_STORAGE)
                try:
                    months, listing = _known(data_dir, months, listing)
                    anchor = newest_date(months) or date.min.isoformat()
                    statements = catalog_statements(
                        data_dir, target.resolve(), months, anchor, listing
                    )
                    for statement in statements:
                        con.execute(statement)
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            except duckdb.IOException as error:
                problem = f"cannot write {temp} in data dir {data_dir}: {error}"
                raise StorageError(problem) from error
            wal = temp.with_name(temp.name + ".wal")
            if wal.exists():
                raise RuntimeError(f"DuckDB left a write-ahead log {wal} after closing")
            digest = digest_path(data_dir)
            digest.unlink(missing_ok=True)  # no digest while the catalog and it may differ
            with writing(temp, data_dir):
                fsync_path(temp)
                os.replace(temp, target)
            fsync_path(data_dir)
            _write_digest(digest, f"{_digest(statements)} {anchor}")
        finally:
            temp.unlink(missing_ok=True)
    logger.info("Catalog rebuilt at %s", target)
    return target


def _write_digest(path: Path, digest: str) -> None:
    """Keep `digest` beside the catalog (a cache: when it cannot be written, the next
    publication rebuilds the catalog)."""
    try:
        make_dirs(path.parent)
        replace_text(path, digest, durable=False)
    except OSError as error:
        logger.warning("Could not keep the catalog's digest in %s: %s", path, error)
