"""The DuckDB catalog: a small `.duckdb` file that holds views only.

Every build writes a fresh file under a temporary name beside the live one and `os.replace`s
it, so the job never opens the live catalog (an analyst may hold it open, read-only or not).
The views read absolute Parquet globs at query time: a session that is already open sees the
rows published after it opened on its next query.
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
    catalog_lock,
    catalog_path,
    fsync_path,
    make_dirs,
    published_files,
    table_glob,
)
from warehouse.schema import TABLES
from warehouse.views import ANALYTIC_VIEWS

logger = logging.getLogger(__name__)

# Files readable by DuckDB clients from 1.0 on, not only by the version that wrote them.
_STORAGE: dict[str, str | bool | int | float | list[str]] = {
    "storage_compatibility_version": "v1.0.0"
}


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


def staging_view_sql(data_dir: Path, table: str) -> str:
    """`SELECT` of `stg_<table>`: the table's columns cast to the schema, plus `run_date`.

    A table with no published file yet gets an empty, typed `SELECT`, so the view answers.
    """
    types = duckdb_types(TABLES[table])
    if published_files(data_dir, table):
        columns = [f"CAST({quote_ident(c)} AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
        source = "FROM " + scan_sql(table_glob(data_dir, table))
        run_date = "CAST(run_date AS DATE) AS run_date"
    else:
        columns = [f"CAST(NULL AS {t}) AS {quote_ident(c)}" for c, t in types.items()]
        source = "WHERE false"
        run_date = "CAST(NULL AS DATE) AS run_date"
    return "SELECT " + ", ".join([*columns, run_date]) + " " + source


def create_views(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Create `stg_<table>` for every table and the analytic views on `con`."""
    data_dir = Path(data_dir).absolute()
    for table in TABLES:
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_ident('stg_' + table)} AS "
            + staging_view_sql(data_dir, table)
        )
    for name, select in ANALYTIC_VIEWS:
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {select}")


def build_catalog(data_dir: Path) -> Path:
    """Write a new catalog beside the live one and swap it in; returns its path."""
    data_dir = Path(data_dir).absolute()
    make_dirs(data_dir)
    target = catalog_path(data_dir)
    with catalog_lock(data_dir):
        temp = data_dir / f".{CATALOG_NAME}.{uuid.uuid4().hex}.tmp"
        try:
            con = duckdb.connect(str(temp), config=_STORAGE)
            try:
                create_views(con, data_dir)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            wal = temp.with_name(temp.name + ".wal")
            if wal.exists():
                raise RuntimeError(f"DuckDB left a write-ahead log {wal} after closing")
            fsync_path(temp)
            os.replace(temp, target)
            fsync_path(data_dir)
        finally:
            temp.unlink(missing_ok=True)
    logger.info("Catalog rebuilt at %s", target)
    return target
