"""Backfill: each date of a range takes the items dated on that day, in its own partition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from flowenv import environment
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.states import State

from flows.ingest import BACKFILL_DATE_FLOW, DatesFailed, backfill
from warehouse.lake import partition_dir


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


def _date_runs(backfill_state: State) -> list[FlowRun]:
    """The `backfill-date` flow runs that are children of this backfill's flow run."""
    parent = backfill_state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[BACKFILL_DATE_FLOW])),
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent])
            ),
        )
    return sorted(runs, key=lambda run: run.name)


def test_each_date_of_a_backfill_is_a_flow_run_of_its_own_under_the_backfill(
    data_dir: Path,
) -> None:
    state = backfill(start=date(2023, 9, 14), end=date(2023, 9, 15), return_state=True)
    assert state.is_completed()
    runs = _date_runs(state)
    assert [run.name for run in runs] == ["backfill-2023-09-14", "backfill-2023-09-15"]
    assert [run.parameters["run_date"] for run in runs] == ["2023-09-14", "2023-09-15"]
    assert all(run.parent_task_run_id is not None for run in runs)  # children of the backfill
    assert all(run.state is not None and run.state.is_completed() for run in runs)


def test_a_failed_date_is_named_and_does_not_stop_the_dates_after_it(data_dir: Path) -> None:
    # The first date cannot publish: a file stands where its `runs` partition must go.
    blocked = partition_dir(data_dir, "runs", date(2023, 9, 14))
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a directory")
    state = backfill(start=date(2023, 9, 14), end=date(2023, 9, 15), return_state=True)
    assert state.is_failed()
    assert state.message is not None
    assert "2023-09-14" in state.message
    assert "2023-09-15" not in state.message
    error = state.result(raise_on_failure=False)
    assert isinstance(error, DatesFailed)
    assert [s.run_date for s in error.summaries] == ["2023-09-15"]
    runs = _date_runs(state)
    assert [(r.name, r.state.type.value if r.state else None) for r in runs] == [
        ("backfill-2023-09-14", "FAILED"),
        ("backfill-2023-09-15", "COMPLETED"),
    ]
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        published = con.execute("SELECT run_date FROM runs").fetchall()
    assert [str(d) for (d,) in published] == ["2023-09-15"]
