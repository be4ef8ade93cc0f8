"""Small histories of article versions for the tests of decided latest versions and compaction.

`publish_rows(data_dir, day, rows)` publishes one run whose articles are given as
`(article_id, url, version, duplicate_of)` tuples; every other column is filled the same way
each time, so the same rows give the same files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.publish import Publication
from warehouse.schema import TABLES

SCOPE = "ingest-1"
Row = tuple[str, str, int, str | None]  # article_id, url, version, duplicate_of

# The window every query ran before the latest version was decided at publication: the
# expectation the decided `is_latest` is held to, written out here.
WINDOW = """
    SELECT article_id, url, version, run_id, run_date,
           row_number() OVER (
               PARTITION BY article_id, CASE WHEN duplicate_of IS NOT NULL THEN url END
               ORDER BY version DESC, run_date DESC, fetched_at DESC, run_id DESC, url
           ) = 1 AS is_latest
    FROM stg_articles
"""


def article_table(day: date, rows: Sequence[Row], scope: str = SCOPE) -> pa.Table:
    schema = TABLES["articles"]
    n = len(rows)
    fetched = [datetime(day.year, day.month, day.day, 6, tzinfo=UTC) + timedelta(minutes=i)
               for i in range(n)]
    columns = {
        "run_id": [f"{scope}@{day.isoformat()}"] * n,
        "source_id": ["outlet-" + url.split("/")[2] for _, url, _, _ in rows],
        "article_id": [a for a, _, _, _ in rows],
        "version": [v for _, _, v, _ in rows],
        "url": [u for _, u, _, _ in rows],
        "final_url": [u for _, u, _, _ in rows],
        "canonical_url": [u for _, u, _, _ in rows],
        "title": [f"{a} v{v} on {day.isoformat()}" for a, _, v, _ in rows],
        "published_at": [f - timedelta(hours=1) for f in fetched],
        "body": [f"Body of {a} v{v}" for a, _, v, _ in rows],
        "word_count": [4] * n,
        "paywalled": [False] * n,
        "page_kind": ["article"] * n,
        "fetched_at": fetched,
        "body_hash": [hashlib.sha256(f"{a}{v}".encode()).hexdigest() for a, _, v, _ in rows],
        "cluster_id": [d or a for a, _, _, d in rows],
        "duplicate_of": [d for _, _, _, d in rows],
        "duplicate_kind": [None if d is None else "near" for _, _, _, d in rows],
        "similarity": [1.0 if d is None else 0.9 for _, _, _, d in rows],
    }
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def publish_rows(data_dir: Path, day: date, rows: Sequence[Row], scope: str = SCOPE) -> Path:
    publication = Publication(data_dir, day, scope)
    publication.write("articles", article_table(day, rows, scope))
    return publication.commit()


def latest(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """(article_id, url, version, run_date, is_latest) of every stored row, sorted."""
    return con.execute(
        "SELECT article_id, url, version, run_date, is_latest FROM article_versions ORDER BY ALL"
    ).fetchall()


def windowed(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """The same rows with `is_latest` as the window over every stored row gives it."""
    return con.execute(
        f"SELECT article_id, url, version, run_date, is_latest FROM ({WINDOW}) ORDER BY ALL"
    ).fetchall()
