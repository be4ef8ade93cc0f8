"""Read-only questions to the warehouse.

`run_sql` answers with an Arrow table through a read-only session on the catalog
(`warehouse.session`, which `newsflow sql` uses directly). The flow's own
questions (`seen_urls`, `latest_validators`, ...) read the Parquet files through an in-memory
DuckDB instead, so a run never takes any lock on the catalog file, and they can leave out the
current run's own files so that rerunning a date is not starved by its first attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.reasons import STAGE_DISCOVER, STAGE_FETCH, STAGE_FRONTIER
from tasks.records import Rejected
from warehouse.lake import Exclude, data_file, published_files
from warehouse.schema import TABLES
from warehouse.session import NoWarehouse as NoWarehouse  # re-exported for callers
from warehouse.session import open_catalog

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
    files = published_files(data_dir, "articles")
    if exclude is not None:
        own = data_file(data_dir, "articles", *exclude)
        files = [path for path in files if path != own]
    if not wanted or not files:
        return {}
    day = exclude[0] if exclude is not None else None
    con = duckdb.connect()
    try:
        con.register("wanted", pa.table({"url": pa.array(wanted, pa.string())}))
        rows = con.execute(
            """
            WITH stored AS (
                SELECT unnest([url, final_url, canonical_url]) AS url, fetched_at
                FROM read_parquet($files, union_by_name = true, hive_partitioning = true,
                                  hive_types = {'run_date': DATE})
                WHERE $day IS NULL OR run_date <= $day OR version = 1
            )
            SELECT w.url, max(s.fetched_at) FROM wanted AS w JOIN stored AS s ON s.url = w.url
            GROUP BY w.url
            """,
            {"files": [str(p) for p in files], "day": day},
        ).fetchall()
    finally:
        con.close()
    return {url: fetched_at for url, fetched_at in rows}


def latest_validators(data_dir: Path, urls: Iterable[str], exclude: Exclude = None) -> Validators:
    """`url -> (etag, last_modified)` from the latest published fetch of each URL that had any.

    Validators come from `fetch_log`, which is published with the data it covers; pass
    `exclude=(run_date, scope)` so a rerun of a date does not get 304s from its own first try.
    """
    rows = _ask_about_urls(
        data_dir,
        "fetch_log",
        urls,
        exclude,
        """
            SELECT f.url, f.etag, f.last_modified
            FROM read_parquet($files, union_by_name = true) AS f
            SEMI JOIN wanted AS w ON w.url = f.url
            WHERE f.etag IS NOT NULL OR f.last_modified IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY f.url ORDER BY f.fetched_at DESC) = 1
        """,
    )
    return {url: (etag, last_modified) for url, etag, last_modified in rows}


def _ask_about_urls(
    data_dir: Path, table: str, urls: Iterable[str], exclude: Exclude, sql: str
) -> list[tuple[Any, ...]]:
    """Run `sql` over `table`'s files as the run sees them (`$files`), with `urls` as `wanted`.

    An in-memory DuckDB, never the catalog: the job must not hold a lock analysts need.
    """
    wanted = sorted(set(urls))
    files = published_files(data_dir, table, exclude)
    if not wanted or not files:
        return []
    con = duckdb.connect()
    try:
        con.register("wanted", pa.table({"url": pa.array(wanted, pa.string())}))
        return con.execute(sql, {"files": [str(p) for p in files]}).fetchall()
    finally:
        con.close()


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
    versions), with 0 for a source a run of that date covered and that gave none."""
    runs = published_files(data_dir, "runs")
    if not runs:
        return []
    articles = published_files(data_dir, "articles")
    hive = "hive_partitioning = true, hive_types = {'run_date': DATE}"
    counted = (
        "SELECT run_date, source_id, count(*) AS stories"  # noqa: S608 (our constants only)
        f" FROM read_parquet($articles, {hive}) WHERE duplicate_of IS NULL GROUP BY ALL"
        if articles
        else "SELECT NULL::DATE AS run_date, NULL::VARCHAR AS source_id, 0 AS stories LIMIT 0"
    )
    con = duckdb.connect()
    try:
        return con.execute(
            f"""
            WITH ran AS (SELECT run_date, sources FROM read_parquet($runs, {hive})),
            dates AS (SELECT DISTINCT run_date FROM ran ORDER BY run_date DESC LIMIT $last),
            covered AS (
                SELECT DISTINCT run_date, unnest(sources) AS source_id
                FROM ran SEMI JOIN dates USING (run_date)
            ),
            counted AS ({counted})
            SELECT run_date, source_id, coalesce(stories, 0)
            FROM covered LEFT JOIN counted USING (run_date, source_id)
            ORDER BY run_date, source_id
            """,  # noqa: S608 (only our own constant SQL is formatted in)
            {
                "runs": [str(p) for p in runs],
                "last": last,
                **({"articles": [str(p) for p in articles]} if articles else {}),
            },
        ).fetchall()
    finally:
        con.close()


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
