"""Read-only questions to the warehouse.

`run_sql` answers with an Arrow table through a read-only session on the catalog
(`warehouse.session`, which `newsflow sql` uses directly). The flow's own
questions (`seen_urls`, `latest_validators`, ...) read the Parquet files through an in-memory
DuckDB instead, so a run never takes any lock on the catalog file, and they can leave out the
current run's own files so that rerunning a date is not starved by its first attempt.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.reasons import STAGE_DISCOVER, STAGE_FETCH, STAGE_FRONTIER
from tasks.records import Rejected
from warehouse import summaries
from warehouse.lake import Exclude, data_file, published_files
from warehouse.schema import TABLES
from warehouse.session import NoWarehouse as NoWarehouse  # re-exported for callers
from warehouse.session import open_catalog
from warehouse.views import analytic_views

logger = logging.getLogger(__name__)

Validators = dict[str, tuple[str | None, str | None]]


def run_sql(
    data_dir: Path, sql: str, on_rebuild: Callable[[str], None] = logger.warning
) -> pa.Table:
    """The result of one SQL statement against the catalog, as an Arrow table."""
    con = open_catalog(data_dir, on_rebuild)
    try:
        relation = con.sql(sql)
        if relation is None:  # a statement without a result
            return pa.table({})
        return relation.to_arrow_table()
    finally:
        con.close()


def seen_urls(data_dir: Path, urls: Iterable[str], exclude: Exclude = None) -> dict[str, datetime]:
    """Those of `urls` that a published `articles` row holds as url, final or canonical URL,
    each with the time it was last fetched (so a feed's newer `modified_at` can ask for a
    re-fetch).

    With `exclude=(run_date, scope)`, the answer for that run: its own file is left out (it
    is about to be replaced), and so are later dates' new versions of a story, while a later
    date's first version counts. So a story has one version 1 whatever order dates are run
    in: a run for an earlier date leaves a URL that a later date already stored to that date,
    and rerunning any date gives what it gave the first time.
    """
    wanted = sorted(set(urls))
    if not wanted:
        return {}
    files = published_files(data_dir, "articles")
    if exclude is not None:
        own = data_file(data_dir, "articles", *exclude)
        files = [path for path in files if path != own]
    if not wanted or not files:
        return {}
    day = exclude[0] if exclude is not None else None
    rows = _ask_summary(
        data_dir,
        "seen",
        files,
        wanted,
        """
        SELECT w.url, max(s.fetched_at) FROM wanted AS w JOIN seen AS s ON s.url = w.url
        WHERE $day IS NULL OR s.run_date <= $day OR s.first
        GROUP BY w.url
        """,
        {"day": day},
    )
    return {url: fetched_at for url, fetched_at in rows}


def latest_validators(data_dir: Path, urls: Iterable[str], exclude: Exclude = None) -> Validators:
    """`url -> (etag, last_modified)` from the latest published fetch of each URL that had any.

    Validators come from `fetch_log`, which is published with the data it covers; pass
    `exclude=(run_date, scope)` so a rerun of a date does not get 304s from its own first try.
    """
    wanted = sorted(set(urls))
    if not wanted:  # pages re-fetched: usually none, and then no listing either
        return {}
    files = published_files(data_dir, "fetch_log", exclude)
    if not wanted or not files:
        return {}
    rows = _ask_summary(
        data_dir,
        "validators",
        files,
        wanted,
        """
        SELECT v.url, v.etag, v.last_modified
        FROM validators AS v SEMI JOIN wanted AS w ON w.url = v.url
        QUALIFY row_number() OVER (PARTITION BY v.url ORDER BY v.fetched_at DESC) = 1
        """,
    )
    return {url: (etag, last_modified) for url, etag, last_modified in rows}


def _ask_summary(
    data_dir: Path,
    kind: str,
    files: list[Path],
    wanted: list[str],
    sql: str,
    params: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Run `sql` over the summary `kind` of `files` (as the view named `kind`), with `wanted`
    as a table of URLs (`warehouse.summaries`). The view may leave out other URLs' rows: `sql`
    must not need them (it asks about each wanted URL's rows alone).

    An in-memory DuckDB, never the catalog: the job must not hold a lock analysts need.
    """

    def ask() -> list[tuple[Any, ...]]:
        con = duckdb.connect()
        try:
            con.register("wanted", pa.table({"url": pa.array(wanted, pa.string())}))
            summaries.create_view(con, data_dir, kind, files, kind, urls=wanted)
            return con.execute(sql, params or {}).fetchall()
        finally:
            con.close()

    return summaries.retrying(ask)


def runs_finished_since(data_dir: Path, since: datetime) -> list[tuple[str, str]]:
    """`(run_id, status)` of the published runs that finished at or after `since`."""
    files = published_files(data_dir, "runs")
    if not files:
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            "SELECT run_id, status FROM read_parquet($files, union_by_name = true) "
            "WHERE finished_at >= $since ORDER BY finished_at",
            {"files": [str(p) for p in files], "since": since},
        ).fetchall()
    finally:
        con.close()


def articles_per_source(data_dir: Path, last: int) -> list[tuple[date, str, int]]:
    """`(run_date, source_id, stories)` over the last `last` run dates that published a run,
    oldest first: the articles each source stored that repeat no story (new stories and new
    versions), with 0 for a source a run of that date covered and that gave none.

    Reads the `runs` files of the newest `last` dates (by partition, all dates only if some of
    those hold no run row) and those dates' `article_days` summary, not the whole history.
    """
    runs = published_files(data_dir, "runs")
    if not runs:
        return []
    dates = sorted({_partition(p) for p in runs})
    newest = set(dates[-last:]) if last > 0 else set()
    recent = [p for p in runs if _partition(p) in newest]
    every = runs
    hive = "hive_partitioning = true, hive_types = {'run_date': DATE}"

    def ask(runs: list[Path]) -> list[tuple[date, str, int]]:
        partitions = {_partition(p) for p in runs}
        articles = [
            p for p in published_files(data_dir, "articles") if _partition(p) in partitions
        ]
        con = duckdb.connect()
        try:
            summaries.create_view(con, data_dir, "article_days", articles, "article_days")
            ran = con.sql(
                f"SELECT run_date, sources FROM read_parquet($runs, {hive})",  # noqa: S608
                params={"runs": [str(p) for p in runs]},
            ).to_arrow_table()
            held = len(set(ran.column("run_date").to_pylist()))
            if held < min(last, len(dates)) and len(runs) < len(every):
                return ask(every)  # a recent date held no run row: count back further
            con.register("ran", ran)
            return con.execute(
                """
                WITH dates AS (
                    SELECT DISTINCT run_date FROM ran ORDER BY run_date DESC LIMIT $last
                ),
                covered AS (
                    SELECT DISTINCT run_date, unnest(sources) AS source_id
                    FROM ran SEMI JOIN dates USING (run_date)
                ),
                counted AS (
                    SELECT run_date, source_id, sum(stories) AS stories
                    FROM article_days GROUP BY ALL
                )
                SELECT run_date, source_id, CAST(coalesce(stories, 0) AS BIGINT)
                FROM covered LEFT JOIN counted USING (run_date, source_id)
                ORDER BY run_date, source_id
                """,
                {"last": last},
            ).fetchall()
        finally:
            con.close()

    return summaries.retrying(lambda: ask(recent))


def _partition(path: Path) -> str:
    """The partition folder's name of a lake file (`path.parent.name`, at a string's cost: a
    question asks it of every date's file)."""
    return os.path.basename(os.path.dirname(path))


def source_health(
    data_dir: Path, source_ids: Sequence[str], columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """`columns` of the catalog's `source_health` rows of these sources, by source id.

    The same view's SQL over the `source_runs` and `article_days` summaries
    (`warehouse.summaries`) instead of every published file, in an in-memory DuckDB, so a run
    never takes a lock on the catalog file an analyst may hold open.
    """

    def ask() -> list[tuple[Any, ...]]:
        con = duckdb.connect()
        try:
            runs = published_files(data_dir, "source_runs")
            articles = published_files(data_dir, "articles")
            summaries.create_view(con, data_dir, "source_runs", runs, "stg_source_runs")
            summaries.create_view(con, data_dir, "article_days", articles, "article_days")
            # All that `source_health` reads of `stg_articles`: each date's latest fetch.
            con.execute(
                "CREATE TEMP VIEW stg_articles AS "
                "SELECT source_id, run_date, last_fetched_at AS fetched_at FROM article_days"
            )
            health = dict(analytic_views())["source_health"]
            con.execute(f"CREATE TEMP VIEW source_health AS {health}")
            return con.execute(
                f"SELECT {', '.join(columns)} FROM source_health "  # noqa: S608 (our names)
                "WHERE list_contains(?, source_id) ORDER BY source_id",
                [list(source_ids)],
            ).fetchall()
        finally:
            con.close()

    return summaries.retrying(ask)


def run_table(data_dir: Path, table: str, run_date: date, scope: str) -> pa.Table:
    """The rows that one run published to `table` (empty if it published none)."""
    path = data_file(data_dir, table, run_date, scope)
    schema = TABLES[table]
    if not path.exists():
        return schema.empty_table()
    return pq.ParquetFile(path).read().select(schema.names).cast(schema)


def fetch_log_rows(data_dir: Path, run_date: date, scope: str) -> pa.Table:
    """One run's published `fetch_log` rows (kept as they are when a run is reprocessed)."""
    return run_table(data_dir, "fetch_log", run_date, scope)


def rejected_before_extract(data_dir: Path, run_date: date, scope: str) -> list[Rejected]:
    """One run's rejections made before extraction (discover, frontier, fetch).

    Extraction and deduplication decide again when a run is reprocessed, so their
    rejections (extract, clean, dedupe) are left out.
    """
    table = run_table(data_dir, "rejected", run_date, scope)
    return [
        Rejected(
            source_id=row["source_id"],
            url=row["url"],
            stage=row["stage"],
            reason=row["reason"],
            detail=row["detail"] or "",
            raw_record_id=row["raw_record_id"],
        )
        for row in table.to_pylist()
        if row["stage"] in (STAGE_DISCOVER, STAGE_FRONTIER, STAGE_FETCH)
    ]
