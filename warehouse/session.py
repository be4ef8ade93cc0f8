"""Read-only sessions on the catalog, importing nothing but the standard library and DuckDB's
engine.

`newsflow sql` starts a process per query, so what it imports is most of what it costs:
this module is its whole path when the catalog is where it was built. Only a catalog that has
to be rebuilt (its data dir was copied, moved or restored) loads `warehouse.catalog`.

The engine is the `_duckdb` extension module that the `duckdb` package ships (typed by its
`_duckdb-stubs`) and re-exports: connections, DB-API cursors and errors are its classes either
way. The package's Python layer (relations, expressions) takes about as long to import again
as the engine (0.1-0.15 s here), and a query given as SQL text does not need it. A DuckDB
without that split gives the package itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import _duckdb as duckdb
except ImportError:  # pragma: no cover (a DuckDB that does not split its engine out)
    import duckdb  # type: ignore[no-redef]

logger = logging.getLogger(__name__)

CATALOG_NAME = "newsflow.duckdb"
CATALOG_INFO = "catalog_info"  # the view that says where the catalog was built


class StorageError(RuntimeError):
    """A file under the data dir could not be written (a full disk, permissions ...).

    The message names the file and the data dir; the OS error is its `__cause__`.
    """


QueryError = duckdb.Error  # what a statement that DuckDB cannot run raises


class NoWarehouse(FileNotFoundError):
    """The data directory holds no catalog yet."""


def catalog_path(data_dir: Path) -> Path:
    return Path(data_dir).absolute() / CATALOG_NAME


def built_for(con: duckdb.DuckDBPyConnection) -> str | None:
    """The real path of the catalog file that `con`'s catalog was built as (None: unknown)."""
    try:
        rows = con.execute(f"SELECT catalog FROM {CATALOG_INFO}").fetchall()  # noqa: S608
    except duckdb.CatalogException:  # built before catalogs recorded where they were built
        return None
    return str(rows[0][0]) if rows else None


def open_catalog(
    data_dir: Path, on_rebuild: Callable[[str], None] = logger.warning
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog; close it when done. Its DB-API methods
    (`execute`, `fetchall`) always work; `sql()` and the other relation methods exist once the
    caller has imported the `duckdb` package, which adds them (see the module docstring).

    A catalog built for another place (its data dir was copied, moved or restored there) is
    rebuilt where it is first, and `on_rebuild` is told; so is one from before catalogs
    recorded their place.
    """
    path = catalog_path(data_dir)
    if not path.is_file():
        raise NoWarehouse(f"no catalog at {path}: run `newsflow run` first")
    con = duckdb.connect(str(path), read_only=True)
    here = str(path.resolve())
    built = built_for(con)
    if built == here:
        return con
    con.close()
    from warehouse.catalog import build_catalog  # the heavy path: pyarrow, the schema

    build_catalog(data_dir)
    origin = f"for {Path(built).parent}" if built else "by an older newsflow"
    on_rebuild(f"the catalog was built {origin}; rebuilt it for {path.parent}")
    return duckdb.connect(str(path), read_only=True)


def sql_rows(
    data_dir: Path, sql: str, on_rebuild: Callable[[str], None] = logger.warning
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of one SQL statement against the catalog, as Python values
    (timestamps with a time zone in UTC); a statement without a result gives none."""
    con = open_catalog(data_dir, on_rebuild)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(sql)
        if con.description is None:
            return [], []
        return [column[0] for column in con.description], con.fetchall()
    finally:
        con.close()
