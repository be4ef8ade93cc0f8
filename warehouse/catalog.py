"""The DuckDB catalog: a small `.duckdb` file that holds views only.

Every build writes a fresh file under a temporary name beside the live one and `os.replace`s
it, so the job never opens the live catalog (an analyst may hold it open, read-only or not).
The views read absolute Parquet globs at query time: a session that is already open sees the
rows published after it opened on its next query, from any working directory.

Absolute paths tie a catalog to where its data dir was when it was built. The view
`catalog_info` records that place, and every `stg_<table>` view checks, before it reads a
file, that the catalog file it belongs to is still attached from there: a copied or moved
catalog fails with a message that says so instead of reading the original's files (or finding
none). `warehouse.query.open_catalog` rebuilds such a catalog where it now is.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.lake import (
    CATALOG_NAME,
    StorageError,
    catalog_lock,
    catalog_path,
    fsync_path,
    make_dirs,
    published_files,
    table_glob,
    writing,
)
from warehouse.schema import TABLES
from warehouse.views import analytic_views

logger = logging.getLogger(__name__)

# Files readable by DuckDB clients from 1.0 on, not only by the version that wrote them.
_STORAGE: dict[str, str | bool | int | float | list[str]] = {
    "storage_compatibility_version": "v1.0.0"
}
CATALOG_INFO = "catalog_info"  # the view that says where the catalog was built


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_types(schema: pa.Schema) -> dict[str, str]:
    """DuckDB's type for each column of an Arrow schema, as DuckDB itself maps it."""
    con = duckdb.connect()
    try:
        con.register("_schema", schema.empty_table())
        return {row[0]: row[1] for row in con.execute("DESCRIBE _schema").fetchall()}
    finally:
        con.close()


def scan_sql(glob: str) -> str:
    """The `read_parquet` call over one table's hive glob."""
    return (
        f"read_parquet({quote_literal(glob)}, hive_partitioning = true, "
        "union_by_name = true, hive_types = {'run_date': DATE})"
    )


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


def staging_view_sql(data_dir: Path, table: str, catalog: Path | None = None) -> str:
    """`SELECT` of `stg_<table>`: the table's columns cast to the schema, plus `run_date`.

    A table with no published file yet gets an empty, typed `SELECT`, so the view answers.
    With `catalog` (the real path of the catalog file the view is stored in), the view first
    checks that it is read through that file (see the module's docstring).
    """
    types = duckdb_types(TABLES[table])
    if published_files(data_dir, table):
        columns = [f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
        source = "FROM " + scan_sql(table_glob(data_dir, table))
        if catalog is not None:
            source += " " + _where_built(catalog, data_dir)
        run_date = "CAST(run_date AS DATE) AS run_date"
    else:
        columns = [f"CAST(NULL AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
        source = "WHERE false"
        run_date = "CAST(NULL AS DATE) AS run_date"
    return "SELECT " + ", ".join([*columns, run_date]) + " " + source


def create_views(
    con: duckdb.DuckDBPyConnection, data_dir: Path, catalog: Path | None = None
) -> None:
    """Create `stg_<table>` for every table and the analytic views on `con`.

    `catalog` is the real path of the catalog file being built (None for an in-memory
    connection): it adds `catalog_info` and the check of `staging_view_sql`.
    """
    data_dir = Path(data_dir).absolute()
    for table in TABLES:
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_ident('stg_' + table)} AS "
            + staging_view_sql(data_dir, table, catalog)
        )
    for name, select in analytic_views():
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {select}")
    if catalog is not None:
        con.execute(
            f"CREATE OR REPLACE VIEW {CATALOG_INFO} AS SELECT "
            f"{quote_literal(str(data_dir))} AS data_dir, {quote_literal(str(catalog))} AS catalog"
        )


def built_for(con: duckdb.DuckDBPyConnection) -> str | None:
    """The real path of the catalog file that `con`'s catalog was built as (None: unknown)."""
    try:
        rows = con.execute(f"SELECT catalog FROM {CATALOG_INFO}").fetchall()  # noqa: S608
    except duckdb.CatalogException:  # built before catalogs recorded where they were built
        return None
    return str(rows[0][0]) if rows else None


def build_catalog(data_dir: Path) -> Path:
    """Write a new catalog beside the live one and swap it in; returns its path."""
    data_dir = Path(data_dir).absolute()
    make_dirs(data_dir)
    target = catalog_path(data_dir)
    with catalog_lock(data_dir):
        temp = data_dir / f".{CATALOG_NAME}.{uuid.uuid4().hex}.tmp"
        try:
            try:
                con = duckdb.connect(str(temp), config=_STORAGE)
                try:
                    create_views(con, data_dir, target.resolve())
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            except duckdb.IOException as error:
                problem = f"cannot write {temp} in data dir {data_dir}: {error}"
                raise StorageError(problem) from error
            wal = temp.with_name(temp.name + ".wal")
            if wal.exists():
                raise RuntimeError(f"DuckDB left a write-ahead log {wal} after closing")
            with writing(temp, data_dir):
                fsync_path(temp)
                os.replace(temp, target)
            fsync_path(data_dir)
        finally:
            temp.unlink(missing_ok=True)
    logger.info("Catalog rebuilt at %s", target)
    return target
