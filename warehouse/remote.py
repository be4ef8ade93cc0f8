"""Queries over an `s3://` lake in place: nothing is downloaded to, or written on, local disk.

DuckDB reads the store's objects through fsspec's S3 filesystem (`s3fs`, from the usual AWS
variables, as `warehouse.store` uses it), registered in the connection with
`register_filesystem`. Extension autoloading and autoinstalling are off in that connection,
so DuckDB's httpfs extension is never downloaded nor loaded: an `s3://` path is read through
fsspec or not at all. The filesystem registered is read-only: a statement that would write,
delete or rename an object fails.

The views are the catalog's (`stg_<table>` from `warehouse.catalog.files_view_sql`, then
`warehouse.views`), over the objects that each date's manifest names (`warehouse.store`): one
LIST of the manifests and one GET of each, fetched together, when the views are made. Each
date is therefore read as one manifest says, the version before a republication or the one
after it, never a mix; the store's compacted months, summaries and indexes do not exist (they
are derived, per working copy), so every query reads daily files.

A table's view binds to the schema, opening only the files its query reads, when the
manifests say that every file of the table has the schema's columns (`conforms`, written by
`WorkingCopy.push`); otherwise it reads them by name, which opens every file's footer when
the views are made. A published object's key names its content, so the filesystem keeps in
memory what it has learnt of each (its size, and byte ranges up to `RANGE_CACHE_BYTES` in
all): DuckDB reads footers again for each view it binds over a file. A file that is missing
when a view is read fails the query; it is never skipped.

- `connect(url)`: a DuckDB connection with the views, for an analyst's Python session. Its
  views keep the versions they were made from: a date republished since is read as it was
  (from the store until that push deletes the replaced objects, then from what the session,
  or DuckDB's external file cache, kept of them), or the query fails saying which object is
  gone; never half old, half new.
  `refresh(con, url)` remakes the views from the manifests as they are now.
- `sql_rows(url, sql)`: one statement, as `newsflow sql` runs it. Should it fail while the
  store's manifests changed after they were read (a republication pruned what it was
  reading), it is asked again over the new manifests, up to `ATTEMPTS` times.
- A store with no manifest raises `warehouse.session.NoWarehouse`; one that cannot be listed
  or read raises `warehouse.store.StoreError`, one line naming the store and why.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from warehouse.catalog import files_view_sql, quote_ident
from warehouse.schema import TABLES
from warehouse.session import NoWarehouse
from warehouse.store import StoreError, filesystem_options, list_manifests, read_manifests
from warehouse.store_url import SCHEME, StoreUrl, parse_url
from warehouse.views import analytic_views

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # of `sql_rows`, while the store keeps changing under it
# Called with "views" once `sql_rows` has read the manifests, before DuckDB reads an object:
# tests republish a date there.
STEP_HOOK: Callable[[str], None] | None = None
# No extension may be fetched or loaded behind our back: s3:// is fsspec's, or nothing.
_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a connection's views read: the ETag of each date's manifest when it was read,
    each table's objects (`s3://` URLs) that those manifests name, oldest date first, and the
    tables whose views may bind to the schema (their manifests say every file conforms)."""

    url: StoreUrl
    etags: dict[date, str]
    files: dict[str, tuple[str, ...]]
    conforming: frozenset[str]  # the tables whose every file has the schema's columns
    sizes: dict[str, int]  # of each object, by URL, as the manifests say


class ReadOnly(PermissionError):
    """A statement tried to change the store through a reading connection."""


# A published object's key names its content (`warehouse.store`): what was read of it holds.
_IMMUTABLE = re.compile(r"/objects/run_date=\d{4}-\d{2}-\d{2}/[0-9a-f]{64}\.[a-z.]+$")
RANGE_CACHE_BYTES = 64 << 20  # byte ranges kept per filesystem (footers, small files)
# The modification time a published object is given when its size comes from its manifest:
# one for all, since the bytes under a key never change.
_PUBLISHED = datetime(2000, 1, 1, tzinfo=UTC)


class _Ranges:
    """Byte ranges already fetched of immutable objects, the least recently used dropped once
    they hold more than `limit` bytes (DuckDB reads every footer again each time it binds a
    view that reads the file: once per view built on it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int], fetch: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        data = fetch()
        if len(data) <= self.limit // 16:
            with self._lock:
                if key not in self._kept:
                    self._kept[key] = data
                    self._size += len(data)
                while self._size > self.limit:
                    self._size -= len(self._kept.popitem(last=False)[1])
        return data


@contextmanager
def _gone(name: str) -> Iterator[None]:
    """A published object that is missing: its date was republished (and the objects it
    replaced deleted) after the manifests were read."""
    try:
        yield
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{SCHEME}{name} is gone: its date was republished after this session read the "
            "manifests; read them again (`newsflow sql` does; warehouse.remote.refresh)"
        ) from None


@functools.cache
def _reader_class() -> type:
    import s3fs

    def refuse(path: object) -> None:
        raise ReadOnly(f"{path}: newsflow reads the store in place; it never writes to it")

    class StoreReader(s3fs.S3FileSystem):
        """Reads only, and remembers what it read of the published (immutable) objects."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._infos: dict[str, Any] = {}
            self._ranges = _Ranges(RANGE_CACHE_BYTES)

        def know(self, sizes: Mapping[str, int]) -> None:
            """Take the sizes of published objects from their manifests: no HEAD for each
            file when DuckDB lists the files of a view."""
            for url, size in sizes.items():
                name = self._strip_protocol(url)
                if _IMMUTABLE.search(name):
                    self._infos.setdefault(
                        name,
                        {"name": name, "size": size, "type": "file", "LastModified": _PUBLISHED},
                    )

        async def _info(self, path: str, *args: Any, **kwargs: Any) -> Any:
            name = self._strip_protocol(path)
            if not _IMMUTABLE.search(name):
                return await super()._info(path, *args, **kwargs)
            if name not in self._infos:
                self._infos[name] = await super()._info(path, *args, **kwargs)
            return self._infos[name]

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            if "r" not in mode or "+" in mode:
                refuse(path)
            name = self._strip_protocol(path)
            if not _IMMUTABLE.search(name):
                return super()._open(path, mode=mode, **kwargs)
            with _gone(name):
                opened = super()._open(path, mode=mode, **kwargs)
            cache = getattr(opened, "cache", None)
            if cache is not None:
                fetch = cache.fetcher

                def remembered(start: int, end: int) -> bytes:
                    with _gone(name):
                        data: bytes = self._ranges.get(
                            (name, start, end), lambda: fetch(start, end)
                        )
                    return data

                cache.fetcher = remembered
            return opened

        def rm(self, path: str, *args: Any, **kwargs: Any) -> None:
            refuse(path)

        rm_file = rmdir = touch = mkdir = makedirs = rm

        def mv(self, path1: str, path2: str, *args: Any, **kwargs: Any) -> None:
            refuse(path2)

    return StoreReader


def read_only_filesystem() -> Any:
    """The store's fsspec filesystem (`warehouse.store.filesystem`) for DuckDB: it refuses
    every write, and keeps in memory what it read of the published objects, whose keys name
    their content."""
    return _reader_class()(**filesystem_options())


def read_snapshot(fs: Any, url: StoreUrl) -> Snapshot:
    """The store's manifests as they are now (one LIST, then every manifest at once)."""
    etags = list_manifests(fs, url)
    manifests = read_manifests(fs, url, etags)
    files: dict[str, list[str]] = {table: [] for table in TABLES}
    by_name: set[str] = set()
    sizes: dict[str, int] = {}
    for day in sorted(manifests):
        for rel, item in sorted(manifests[day]["files"].items()):
            root, table, *_rest = rel.split("/")
            if root == "lake" and table in files:  # raw/ holds the archive, not a table
                files[table].append(f"{SCHEME}{url.root}/{item['key']}")
                sizes[files[table][-1]] = int(item["size"])
                if item.get("conforms") is not True:  # or not said: an older manifest
                    by_name.add(table)
    return Snapshot(
        url,
        {day: etags[day] for day in manifests},
        {t: tuple(f) for t, f in files.items()},
        frozenset(TABLES) - by_name,
        sizes,
    )


def view_statements(snapshot: Snapshot) -> list[str]:
    """The statements that make the catalog's views over a snapshot's objects, in order."""
    statements = [
        f"CREATE OR REPLACE VIEW {quote_ident('stg_' + table)} AS "
        + files_view_sql(
            table, snapshot.files[table], by_name=table not in snapshot.conforming
        )
        for table in TABLES
    ]
    statements += [
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {select}"
        for name, select in analytic_views()
    ]
    return statements


def _published(fs: Any, url: StoreUrl) -> Snapshot:
    """`read_snapshot`, or `NoWarehouse` when the store has no published date."""
    snapshot = read_snapshot(fs, url)
    if not snapshot.etags:
        raise NoWarehouse(f"no date is published in {url}: run `newsflow run` with it first")
    return snapshot


def _views(con: duckdb.DuckDBPyConnection, fs: Any, url: StoreUrl) -> Snapshot:
    snapshot = _published(fs, url)
    fs.know(snapshot.sizes)
    for statement in view_statements(snapshot):
        con.execute(statement)
    return snapshot


def _open(fs: Any, url: StoreUrl) -> tuple[duckdb.DuckDBPyConnection, Snapshot]:
    con = duckdb.connect(config=_CONFIG)
    try:
        con.register_filesystem(fs)
        return con, _views(con, fs, url)
    except BaseException:
        con.close()
        raise


def connect(url: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection whose views read the store at `url` in place (see the
    module docstring); close it when done."""
    parsed = parse_url(url)
    try:
        con, _snapshot = _open(read_only_filesystem(), parsed)
    except duckdb.Error as error:
        raise readable(error, parsed) from error
    return con


def refresh(con: duckdb.DuckDBPyConnection, url: str) -> None:
    """Remake the views of a `connect` connection from the store's manifests as they are now."""
    parsed = parse_url(url)
    try:
        _views(con, read_only_filesystem(), parsed)
    except duckdb.Error as error:
        raise readable(error, parsed) from error


def readable(error: duckdb.Error, url: StoreUrl) -> duckdb.Error | StoreError:
    """A DuckDB error as one line: one that the filesystem raised (DuckDB gives its Python
    traceback) becomes a `StoreError` naming the store; any other is returned as it is."""
    lines = str(error).strip().splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return error
    cause = next((line for line in lines[1:] if line and not line[0].isspace()), lines[0])
    return StoreError(f"reading {url} in place: {cause}")


def sql_rows(url: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of one SQL statement over the store at `url`, in place, as
    Python values (timestamps with a time zone in UTC); asked again should the store change
    under it (see the module docstring)."""
    parsed = parse_url(url)
    fs = read_only_filesystem()
    attempt = 0
    while True:
        attempt += 1
        snapshot = _published(fs, parsed)
        fs.know(snapshot.sizes)
        if STEP_HOOK is not None:
            STEP_HOOK("views")
        con = duckdb.connect(config=_CONFIG)
        try:
            con.register_filesystem(fs)
            for statement in view_statements(snapshot):
                con.execute(statement)
            con.execute("SET TimeZone = 'UTC'")
            relation = con.sql(sql)
            if relation is None:
                return [], []
            return list(relation.columns), relation.fetchall()
        except duckdb.Error as error:
            if attempt < ATTEMPTS and list_manifests(fs, parsed) != snapshot.etags:
                logger.info("%s changed while it was read; reading it again", parsed)
                continue
            raise readable(error, parsed) from error
        finally:
            con.close()
