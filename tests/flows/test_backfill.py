"""Backfill: each date of a range takes the items dated on that day, in its own partition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from flowenv import environment

from flows.ingest import backfill


@pytest.fixture
def data_dir(tmp_path: Path, prefect_harness: None) -> Iterator[Path]:
    settings = {"NEWSFLOW_DATA_DIR": str(tmp_path), "NEWSFLOW_PER_HOST_DELAY_S": "0.05"}
    with environment(settings):
        yield tmp_path


def test_backfill_writes_each_date_with_the_items_published_that_day(data_dir: Path) -> None:
    summaries = backfill(start=date(2023, 9, 14), end=date(2023, 9, 15))
    assert [s.run_date for s in summaries] == ["2023-09-14", "2023-09-15"]
    assert all(s.status == "completed" for s in summaries)
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT run_date, flow FROM runs ORDER BY run_date").fetchall()
        dated = con.execute(
            "SELECT DISTINCT run_date FROM article_versions WHERE published_at IS NOT NULL"
        ).fetchall()
        # every item of a feed or sitemap carries a date; a `urls` source's items do not and
        # are taken by the first date of the range
        outside = con.execute(
            "SELECT count(*) FROM article_versions WHERE source_id <> 'metro-ledger-picks'"
            " AND CAST(published_at AS DATE) <> run_date"
        ).fetchone()
        seed = con.execute(
            "SELECT run_date FROM articles WHERE title LIKE 'Russia’s Putin accepts%'"
        ).fetchall()
    assert [(str(d), f) for d, f in runs] == [
        ("2023-09-14", "backfill"),
        ("2023-09-15", "backfill"),
    ]
    assert [str(d) for (d,) in seed] == ["2023-09-14"]
    assert {str(d) for (d,) in dated} <= {"2023-09-14", "2023-09-15"}
    assert outside == (0,)


def test_backfill_refuses_a_range_that_ends_before_it_starts(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="before its start"):
        backfill(start=date(2023, 9, 15), end=date(2023, 9, 14))
