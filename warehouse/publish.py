"""Atomic publication of one run's tables into the lake.

```
pub = Publication(data_dir, run_date, scope)   # recovers the lake, locks a staging area
pub.write("articles", table_or_records)        # any number of batches per table
pub.add_raw(raw_archive)                       # optional: the run's WARC archive
pub.commit()                                   # -> catalog path; or pub.abort()
```
`commit` closes each table's staging file (tables that got no rows get an empty one, so a
rerun that now yields nothing still replaces the old file), fsyncs it, reads the footer back
and checks the row count, then moves the raw archive to its own new name, `os.replace`s each
table into `lake/<table>/run_date=<date>/<scope>.parquet`, keeps `story_spread`'s summary
(`warehouse.spread`: computed again, or only recorded as still holding when the run adds no
row to it), brings the run's summaries up to date (`warehouse.summaries`, a cache the run's own
questions read), removes the raw archive that the replaced tables named (if no new row names
it), rebuilds the catalog if its views change (`warehouse.catalog.ensure_catalog`: a date
within a week after the catalog's newest needs no rebuild, since the views glob those folders;
any other new file, a new copy, or a summary that starts or stops holding does), copies the
closed months into a few files per table (`warehouse.compact`) and, if that changed the copies,
rebuilds the catalog again. Before the renames it decides which articles rows the
run's rows supersede (`warehouse.superseded`), written as the `superseded` table.
`fetch_log` (which carries feed validators) and `runs` (the record that the run happened)
are renamed last, so state that advances never gets ahead of the data it covers; and since
an archive is never overwritten, every published `raw_record_id` resolves to its own record
at every step.
Tables are written as zstd-compressed Parquet, which any reader of the lake must support.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse import compact, spread, summaries, superseded, verified
from warehouse.catalog import build_catalog, ensure_catalog, lake_months
from warehouse.convert import SchemaError, to_table
from warehouse.lake import (
    CorruptLakeFile,
    Identity,
    Listing,
    StagingArea,
    check_scope,
    check_table,
    data_file,
    folders_listed,
    fsync_path,
    list_lake,
    make_dirs,
    parquet_problem,
    published_files,
    record_folders,
    recover,
    table_dir,
    writing,
)
from warehouse.raw import RawArchive, archive_name, remove_unreferenced
from warehouse.schema import TABLES
from warehouse.spill import Spill

logger = logging.getLogger(__name__)

_LAST = ("fetch_log", "runs")
# `superseded` (the decisions about articles rows) right after `articles`, so that readers meet
# a new version and the decision that supersedes the old one as close together as two renames
# can be.
_ORDERED = tuple(t for t in TABLES if t not in (*_LAST, "superseded"))
PUBLISH_ORDER: tuple[str, ...] = (
    *(t for a in _ORDERED for t in ((a, "superseded") if a == "articles" else (a,))),
    *_LAST,
)
_DECIDED = "superseded"  # written by the publication itself, never by its caller
_RANKED = ("articles", _DECIDED)

StepHook = Callable[[str], None]


class PublishError(RuntimeError):
    """A staged file did not read back as written; nothing was published."""


class Publication:
    """One run's files for one `run_date` and `scope`, published together by `commit`.

    `on_step` is called with the name of each point that `commit` reaches (`staged`: every
    batch written; `fsynced`; `validated`; then just before it happens, `rename:raw`,
    `rename:<table>`, `verified`, `spread`, `summaries`, `prune:raw`, `catalog`, `compact`,
    then `compact:<table>` or `merge:<table>` before each copy of closed months is written
    (parts of the open month: `compact:<table>` too), `catalog:compacted` if a copy changed; and
    `done`); tests kill the process there.
    """

    def __init__(
        self, data_dir: Path, run_date: date, scope: str, *, on_step: StepHook | None = None
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.run_date = run_date
        self.scope = check_scope(scope)
        self._on_step = on_step
        self._listed_from = folders_listed()
        try:
            self._listing = recover(self.data_dir)  # each later walk stats what changed since
        except CorruptLakeFile:
            build_catalog(self.data_dir)  # views answer again without the quarantined files
            raise
        _decide_legacy(self.data_dir)
        self._area = StagingArea(self.data_dir, f"{run_date.isoformat()}__{scope}")
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._raw: RawArchive | None = None
        self._raw_refs: set[str] = set()  # archives that the written rows point into
        self._lock = threading.Lock()
        self._state = "open"
        self.rows_written: dict[str, int] = dict.fromkeys(TABLES, 0)

    def __enter__(self) -> Publication:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self._state != "open":
            return
        if kind is None:
            self.commit()
        else:
            self.abort()

    def spill(self, name: str) -> Spill[Any]:
        """A file in this run's staging area for records a later stage reads back."""
        if not name.isidentifier():
            raise ValueError(f"spill name must be an identifier, not {name!r}")
        with self._lock:
            self._require_open()
            return Spill(self._area.path / f"spill-{name}.pickle", self.data_dir)

    def staged_path(self, table: str) -> Path:
        return self._area.path / f"{check_table(table)}.parquet"

    def write(self, table: str, rows: pa.Table | Iterable[object]) -> int:
        """Append a batch to `table`'s staging file; returns the number of rows written.

        Provisional `raw_record_id`s of this run's archive are made final here, so rows that
        point into the archive are written once it is closed.
        """
        if table == _DECIDED:
            raise ValueError(f"{table} rows are decided by the publication, not written to it")
        batch = rows if isinstance(rows, pa.Table) else to_table(table, rows)
        batch = conform(table, batch)
        if "raw_record_id" in batch.column_names:
            batch = self._link_raw(batch)
        with self._lock:
            self._require_open()
            path = self.staged_path(table)
            with writing(path, self.data_dir):
                writer = self._writers.get(table)
                if writer is None:
                    writer = self._writers[table] = _parquet_writer(path, table)
                if batch.num_rows:
                    writer.write_table(batch)
            self.rows_written[table] += batch.num_rows
        return batch.num_rows

    def _link_raw(self, batch: pa.Table) -> pa.Table:
        index = batch.schema.get_field_index("raw_record_id")
        ids = batch.column(index)
        if self._raw is not None:
            ids = self._raw.resolve(ids)
            batch = batch.set_column(index, batch.schema.field(index), ids)
        # Rows read from an archive source point into its files (a URL): not ours to keep.
        names = {archive_name(i) for i in pc.unique(ids).to_pylist() if i and "://" not in i}
        with self._lock:
            self._raw_refs |= names
        return batch

    def add_raw(self, archive: RawArchive) -> None:
        """Publish `archive` with this run (first, so lineage exists before the rows)."""
        if (archive.run_date, archive.scope) != (self.run_date, self.scope):
            raise ValueError(
                f"raw archive is for {archive.run_date}/{archive.scope}, "
                f"publication for {self.run_date}/{self.scope}"
            )
        self._raw = archive

    def commit(self) -> Path:
        """Validate and publish every staged file, then rebuild the catalog; returns its path."""
        with self._lock:
            self._require_open()
            try:
                # Decisions hold while no other publication renames articles in between.
                with verified.locked(verified.index_dir(self.data_dir) / "publishing"):
                    self._decide()
                    staged = self._seal()
                    if self._raw is not None:
                        self._raw.publish(self._step)
                    unchanged = self._adds_no_spread()
                    published = []
                    for table in PUBLISH_ORDER:
                        final = data_file(self.data_dir, table, self.run_date, self.scope)
                        with writing(final.parent, self.data_dir):
                            make_dirs(final.parent)
                        self._step(f"rename:{table}")
                        staged[table].replace(final)
                        fsync_path(final.parent)
                        published.append(final)
                    # The lake as this publication leaves it, for what follows (one walk).
                    listing = list_lake(self.data_dir, since=self._listing)
                self._step("verified")
                verified.add(self.data_dir, published)  # validated by `_seal` just now
                record_folders(self.data_dir, listing, folders_listed() - self._listed_from)
                # First: until it is rewritten, a catalog that reads it answers as before the run.
                self._step("spread")
                spread.refresh(self.data_dir, listing, unchanged)  # a cache: errors are logged
                self._step("summaries")
                summaries.refresh(self.data_dir, listing)  # a cache: errors are logged
                self._step("prune:raw")
                remove_unreferenced(self.data_dir, self.run_date, self.scope, self._raw_refs)
                # The catalog shows the date before compaction, which may take a while (a
                # closed month's copies) or be killed, and again if it changed the copies.
                self._step("catalog")
                months = lake_months(self.data_dir, listing)
                catalog = ensure_catalog(self.data_dir, months, listing)
                self._step("compact")
                compacted = self._compact(listing, months)
                if compacted is not None and compacted != months:
                    self._step("catalog:compacted")
                    catalog = ensure_catalog(self.data_dir, compacted, listing)
            except BaseException:
                self._discard()
                raise
            self._area.release()
            self._state = "committed"
        self._step("done")
        return catalog

    def abort(self) -> None:
        """Drop everything staged; the lake is left as it was. Safe to call twice."""
        with self._lock:
            if self._state == "open":
                self._discard()

    def _discard(self) -> None:
        """Drop the staging area whatever state its files are in (a full disk fails the
        writers' last flush: the files go anyway)."""
        for writer in self._writers.values():
            with contextlib.suppress(OSError):  # the run already failed with the first error
                writer.close()
        self._writers.clear()
        if self._raw is not None:
            self._raw.discard()
        self._area.release()
        self._state = "aborted"

    def _require_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"publication {self.run_date}/{self.scope} is {self._state}")

    def _step(self, name: str) -> None:
        if self._on_step is not None:
            self._on_step(name)

    def _adds_no_spread(self) -> dict[str, Identity | None] | None:
        """This publication's files of the tables `story_spread` reads with their identities
        before it (None: new) when it adds no row to that aggregation (no articles, no
        decisions, and the files it replaces held none either), else None: `warehouse.spread`
        then computes the summary again."""
        if any(self.rows_written[t] for t in spread.READ):
            return None
        before: dict[str, Identity | None] = {}
        for table in spread.READ:
            final = data_file(self.data_dir, table, self.run_date, self.scope)
            key = str(final.relative_to(self.data_dir))
            try:
                before[key] = verified.identity(final)
                if pq.read_metadata(final).num_rows:
                    return None
            except FileNotFoundError:
                before[key] = None
        return before

    def _compact(
        self, listing: Listing, months: dict[str, list[compact.Month]]
    ) -> dict[str, list[compact.Month]] | None:
        """Copy the closed months (`warehouse.compact`), but this run's own; returns each
        table's months after it. A derived copy, so a failure is logged and left to the next
        publication (None: the catalog lists the lake itself)."""
        try:
            return compact.compact(
                self.data_dir,
                skip_month=self.run_date.isoformat()[:7],
                on_step=self._step,
                listing=listing,
                before=months,
            )
        except (OSError, duckdb.Error, compact.CompactionError) as error:
            logger.warning("Could not compact the closed months of %s: %s", self.data_dir, error)
            return None

    def _decide(self) -> None:
        """Close the articles file and stage the decisions about the lines it changes
        (`warehouse.superseded`), ranked against every other published file."""
        path = self.staged_path("articles")
        with writing(path, self.data_dir):
            (self._writers.pop("articles", None) or _parquet_writer(path, "articles")).close()
        own = {t: data_file(self.data_dir, t, self.run_date, self.scope) for t in _RANKED}
        others: dict[str, list[Path]] = {t: [] for t in _RANKED}
        copies: dict[str, list[Path]] = {t: [] for t in _RANKED}
        listing = list_lake(self.data_dir, _RANKED, since=self._listing)
        for table in _RANKED:
            known = compact.months(self.data_dir, table, listing)
            mine = str(own[table])
            # A copy stands for its months unless it holds the file this run replaces.
            replaced = {m.copy for m in known if mine in m.files}
            for month in known:
                if month.copy is not None and month.copy not in replaced:
                    if month.copy not in copies[table]:
                        copies[table].append(month.copy)
                else:
                    others[table] += [Path(p) for p in month.files if p != mine]
        decided = superseded.decide(
            self.run_date,
            path,
            own["articles"] if own["articles"].exists() else None,
            own[_DECIDED] if own[_DECIDED].exists() else None,
            others["articles"],
            others[_DECIDED],
            copies["articles"],
            copies[_DECIDED],
        )
        decisions = self.staged_path(_DECIDED)
        with writing(decisions, self.data_dir):
            writer = _parquet_writer(decisions, _DECIDED)
            writer.write_table(conform(_DECIDED, decided))
            writer.close()
        self.rows_written[_DECIDED] = decided.num_rows

    def _seal(self) -> dict[str, Path]:
        """Close, fsync and read back every table's staging file."""
        staged = {table: self.staged_path(table) for table in TABLES}
        self._step("staged")
        for table, path in staged.items():
            with writing(path, self.data_dir):
                writer = self._writers.pop(table, None)
                if writer is not None or not path.exists():
                    (writer or _parquet_writer(path, table)).close()
                fsync_path(path)
        fsync_path(self._area.path)
        self._step("fsynced")
        for table, path in staged.items():
            problem = parquet_problem(path)
            if problem:
                raise PublishError(f"staged {table} file {path}: {problem}")
            rows = pq.read_metadata(path).num_rows
            if rows != self.rows_written[table]:
                raise PublishError(
                    f"staged {table} file {path} holds {rows} rows, {self.rows_written[table]} "
                    "were written"
                )
        self._step("validated")
        return staged


def _decide_legacy(data_dir: Path) -> None:
    """Give a lake published before decisions were kept its decisions (`warehouse.superseded`),
    once: written beside the first date's files under a name no glob matches, then renamed."""
    if table_dir(data_dir, _DECIDED).exists():
        return
    with verified.locked(verified.index_dir(data_dir) / "publishing"):
        articles = published_files(data_dir, "articles")
        if table_dir(data_dir, _DECIDED).exists() or not articles:
            return
        first = date.fromisoformat(articles[0].parent.name.removeprefix("run_date="))
        final = data_file(data_dir, _DECIDED, first, superseded.LEGACY_SCOPE)
        temp = final.with_name(f".{final.name}.tmp")
        with writing(final, data_dir):
            make_dirs(final.parent)
            writer = _parquet_writer(temp, _DECIDED)
            writer.write_table(conform(_DECIDED, superseded.legacy(articles)))
            writer.close()
            fsync_path(temp)
            temp.replace(final)
            fsync_path(final.parent)
        verified.add(data_dir, [final])
        logger.info("Decided the latest versions of the lake published before %s", final)


def _parquet_writer(path: Path, table: str) -> pq.ParquetWriter:
    """A new staging file for `table` (closed without rows, it holds an empty table)."""
    return pq.ParquetWriter(path, TABLES[table], compression="zstd")


def conform(table: str, batch: pa.Table) -> pa.Table:
    """`batch` with exactly the schema's columns, order and types, or `SchemaError`."""
    schema = TABLES[check_table(table)]
    names = set(batch.column_names)
    missing = [n for n in schema.names if n not in names]
    extra = sorted(names - set(schema.names))
    if missing or extra:
        raise SchemaError(f"{table}: missing columns {missing}, unknown columns {extra}")
    batch = batch.select(schema.names)
    if not batch.schema.equals(schema):
        try:
            batch = batch.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as error:
            raise SchemaError(f"{table}: {error}") from error
    for item in schema:
        if not item.nullable and batch.column(item.name).null_count:
            raise SchemaError(f"{table}.{item.name} is required but a row has no value")
    return batch
