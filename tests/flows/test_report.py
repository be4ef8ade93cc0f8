"""The pieces of a run's report that a whole run does not reach (`flows/report.py`): a Prefect
API that refuses the progress, health problems, and the chart of sources a run did not cover.
The artifacts of whole runs are read back in `test_stages.py`."""

from __future__ import annotations

import logging
from datetime import date
from uuid import uuid4

import pytest
from servers import LoopbackServer

from flows.pipeline import RunSummary, SourceCounts
from flows.report import Progress, chart_rows, run_report, show_progress, start_progress


@pytest.mark.filterwarnings("ignore:Artifact creation outside of a flow:FutureWarning")
def test_progress_that_prefect_refuses_is_logged_and_the_stage_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        LoopbackServer() as refusing,  # answers 501 to every POST and PATCH
        temporary_settings(updates={PREFECT_API_URL: refusing.url("/api")}),
        caplog.at_level(logging.WARNING),
    ):
        started = start_progress("fetch", 10, "URLs")
        assert started == Progress("fetch", 10, "URLs", None)
        show_progress(started, 5)  # nothing to update: no call
        show_progress(Progress("enrich", 4, "articles", uuid4()), 2)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("Prefect did not take the fetch progress: ")
    assert warnings[1].startswith("Prefect did not take the enrich progress: ")


def summary(**changes: object) -> RunSummary:
    values: dict[str, object] = {
        "run_id": "ingest-0123456789@2023-10-15",
        "run_date": "2023-10-15",
        "status": "completed",
        "data_dir": "/srv/news data",
        "catalog": "/srv/news data/newsflow.duckdb",
        "rows_written": {"articles": 3},
        "per_source": (
            SourceCounts("alpha", 3, 3, 2, 1, {"http_404": 1}),
            SourceCounts("beta", 0, 0, 0, 0, {}),
        ),
    }
    return RunSummary(**{**values, **changes})  # type: ignore[arg-type]


def test_report_lists_health_problems_only_when_there_are_some() -> None:
    assert "## Source health" not in run_report(summary())
    text = run_report(summary(), ["beta: silent for 4 runs", "alpha: drifted"])
    assert "## Source health\n\n- beta: silent for 4 runs\n- alpha: drifted\n" in text


def test_report_commands_name_the_data_dir_and_the_run() -> None:
    text = run_report(summary())
    assert (
        "newsflow --data-dir '/srv/news data' sql \"SELECT source_id, title, url FROM "
        "article_versions WHERE run_id = 'ingest-0123456789@2023-10-15' AND duplicate_of IS NULL"
    ) in text
    assert "| beta | 0 | 0 | 0 | 0 | 0 |  |" in text  # no bar for no article


def test_chart_has_a_row_per_run_date_and_0_for_a_source_a_run_did_not_cover() -> None:
    d1, d2 = date(2023, 10, 15), date(2023, 10, 16)
    history = [(d1, "alpha", 3), (d2, "alpha", 1), (d2, "beta", 0), (d1, "beta", 2)]
    assert chart_rows([(d2, "gamma", 5), *history]) == [
        {"run date": "2023-10-15", "alpha": 3, "beta": 2, "gamma": 0},
        {"run date": "2023-10-16", "alpha": 1, "beta": 0, "gamma": 5},
    ]
