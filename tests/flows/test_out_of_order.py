"""Dates run out of order (issue 8): a story has exactly one version 1.

A run for an earlier date that finds a story a later date already stored leaves it to that
date (`already_seen`), and rerunning either date gives what it gave the first time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from flowenv import environment

from flows.ingest import nightly_ingest
from warehouse.checks import failed_checks
from warehouse.lake import catalog_path

LATER, EARLIER = date(2023, 10, 20), date(2023, 10, 16)


@pytest.fixture
def data_dir(tmp_path: Path, prefect_harness: None) -> Iterator[Path]:
    settings = {"NEWSFLOW_DATA_DIR": str(tmp_path / "data"), "NEWSFLOW_PER_HOST_DELAY_S": "0.02"}
    with environment(settings):
        yield tmp_path / "data"


def stories(data_dir: Path) -> list[tuple[date, int]]:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        assert failed_checks(con) == {}
        return con.execute(
            "SELECT run_date, count(*) FROM stg_articles WHERE duplicate_of IS NULL "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def test_an_earlier_date_run_after_a_later_one_stores_no_story_twice(data_dir: Path) -> None:
    later = nightly_ingest(run_date=LATER)
    stored = stories(data_dir)
    assert [day for day, _ in stored] == [LATER]

    earlier = nightly_ingest(run_date=EARLIER)
    assert sum(c.new for c in earlier.per_source) == 0
    assert sum(c.rejected.get("already_seen", 0) for c in earlier.per_source) > 30
    assert stories(data_dir) == stored  # and the data checks pass: one version 1 each

    nightly_ingest(run_date=LATER)  # rerunning the later date gives what it gave
    assert stories(data_dir) == stored
    assert later.status == "completed"
