"""`source_runs` and the `source_health` view: silence, drift and failures, by run date.

Each test publishes `source_runs` rows (and, where a source stored something, `articles`
rows) date by date the way a run does, through `Publication`, and reads the view through
the catalog file, as an analyst would.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tasks.records import Article, DedupDecision
from warehouse import summaries
from warehouse.checks import failed_checks
from warehouse.convert import article_rows, to_table
from warehouse.lake import catalog_path
from warehouse.publish import Publication
from warehouse.query import source_health

D1 = date(2026, 3, 1)
SCOPE = "ingest-health"


def day(n: int) -> date:
    """Run date number `n`, D1 being 1."""
    return D1 + timedelta(days=n - 1)


@dataclass(frozen=True)
class Run:
    """What one source did in one run (the `source_runs` counts a test cares about)."""

    source_id: str
    articles: int = 0
    extracted: int = 0
    not_article: int = 0
    short_bodies: int = 0
    failed: bool = False
    silent_after_days: int = 3
    drift_share: float = 0.3


def publish(
    data_dir: Path, run_date: date, runs: list[Run], scope: str = SCOPE, hour: int = 3
) -> None:
    """One published run of `runs`' sources on `run_date`; each stores `articles` articles."""
    run_id = f"{scope}@{run_date.isoformat()}"
    finished = datetime.combine(run_date, time(hour), UTC)
    rows = [
        {
            "run_id": run_id,
            "source_id": r.source_id,
            "finished_at": finished,
            "discovered": r.extracted,
            "fetched": r.extracted,
            "articles": r.articles,
            "duplicates": 0,
            "rejected": r.not_article,
            "extracted": r.extracted,
            "not_article": r.not_article,
            "short_bodies": r.short_bodies,
            "failed": r.failed,
            "problem": "discovery: http_404" if r.failed else None,
            "silent_after_days": r.silent_after_days,
            "drift_share": r.drift_share,
        }
        for r in runs
    ]
    stored = [
        _article(r.source_id, run_date, i, finished) for r in runs for i in range(r.articles)
    ]
    with Publication(data_dir, run_date, scope) as publication:
        publication.write("source_runs", to_table("source_runs", rows))
        publication.write(
            "articles", article_rows([a for a, _ in stored], [d for _, d in stored], run_id)
        )


def _article(source_id: str, run_date: date, i: int, finished: datetime) -> tuple[Article, Any]:
    url = f"https://{source_id}.test/{run_date.isoformat()}/{i}"
    article = Article(
        source_id=source_id,
        url=url,
        final_url=url,
        canonical_url=url,
        title=f"Story {i}",
        body=f"Story {i} of {source_id} on {run_date}.",
        fetched_at=finished - timedelta(minutes=30 - i),
    )
    decision = DedupDecision(
        article_id=url,
        version=1,
        cluster_id=url,
        duplicate_of=None,
        duplicate_kind=None,
        similarity=1.0,
        body_hash=f"h-{url}",
    )
    return article, decision


def health(data_dir: Path) -> dict[str, dict[str, Any]]:
    with duckdb.connect(str(catalog_path(data_dir)), read_only=True) as con:
        cursor = con.execute("SELECT * FROM source_health ORDER BY source_id")
        names = [d[0] for d in cursor.description]
        rows = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
        assert failed_checks(con) == {}
    # What a run reads (the summaries that publications kept, not the catalog) says the same,
    # and so it does from the lake's files when there are no summaries.
    for _ in range(2):
        flow_rows = source_health(data_dir, sorted(rows), names)
        assert {row[0]: dict(zip(names, row, strict=True)) for row in flow_rows} == rows
        shutil.rmtree(summaries.kind_dir(data_dir, "article_days").parent, ignore_errors=True)
    return rows


def test_a_source_is_silent_once_its_last_article_is_silent_after_days_old(
    tmp_path: Path,
) -> None:
    publish(tmp_path, day(1), [Run("quiet", articles=2, extracted=2), Run("steady", 1, 1)])
    for n in (2, 3):
        publish(tmp_path, day(n), [Run("quiet"), Run("steady", 1, 1)])
    before = health(tmp_path)["quiet"]
    assert (before["days_silent"], before["problem"]) == (2, None)

    publish(tmp_path, day(4), [Run("quiet"), Run("steady", 1, 1)])

    rows = health(tmp_path)
    quiet = rows["quiet"]
    assert quiet["problem"] == "silent"
    assert quiet["days_silent"] == 3
    assert quiet["last_article_run_date"] == day(1)
    # the later of the two articles stored that day (fetched 29 and 30 minutes before 03:00)
    assert quiet["last_article_at"] == datetime.combine(day(1), time(2, 31), UTC)
    assert (rows["steady"]["days_silent"], rows["steady"]["problem"]) == (0, None)
    assert rows["steady"]["last_article_run_date"] == day(4)


def test_silent_after_days_is_the_sources_own(tmp_path: Path) -> None:
    publish(tmp_path, day(1), [Run("patient", 1, 1, silent_after_days=5), Run("eager", 1, 1)])
    for n in (2, 3, 4):
        publish(tmp_path, day(n), [Run("patient", silent_after_days=5), Run("eager")])
    rows = health(tmp_path)
    assert rows["eager"]["problem"] == "silent"
    assert rows["patient"]["problem"] is None
    assert rows["patient"]["silent_after_days"] == 5


def test_days_silent_count_to_the_warehouses_latest_run_date_not_the_sources(
    tmp_path: Path,
) -> None:
    publish(tmp_path, day(1), [Run("dropped", 1, 1), Run("kept", 1, 1)])
    publish(tmp_path, day(2), [Run("kept", 1, 1)])
    publish(tmp_path, day(5), [Run("kept", 1, 1)])
    dropped = health(tmp_path)["dropped"]
    assert dropped["latest_run_date"] == day(1)
    assert dropped["days_silent"] == 4
    assert dropped["problem"] == "silent"


def test_a_source_that_never_stored_an_article_is_silent_from_its_first_run(
    tmp_path: Path,
) -> None:
    publish(tmp_path, day(1), [Run("other", 1, 1)])
    for n in (2, 3, 4, 5):
        publish(tmp_path, day(n), [Run("empty"), Run("other", 1, 1)])
    empty = health(tmp_path)["empty"]
    assert (empty["last_article_run_date"], empty["days_silent"]) == (None, 3)
    assert empty["problem"] == "silent"


def clean(source_id: str, pages: int = 4) -> Run:
    return Run(source_id, articles=pages, extracted=pages)


def test_drift_is_the_latest_share_against_the_previous_runs(tmp_path: Path) -> None:
    for n in (1, 2, 3):
        publish(tmp_path, day(n), [clean("shifty"), clean("steady")])
    publish(
        tmp_path,
        day(4),
        [Run("shifty", articles=2, extracted=4, not_article=2, short_bodies=2), clean("steady")],
    )
    rows = health(tmp_path)
    shifty = rows["shifty"]
    assert shifty["problem"] == "drifted"
    assert (shifty["latest_share"], shifty["history_share"]) == (1.0, 0.0)
    assert (shifty["latest_pages"], shifty["history_runs"]) == (4, 3)
    assert rows["steady"]["problem"] is None
    assert rows["steady"]["latest_share"] == 0.0


@pytest.mark.parametrize(
    ("pages", "history_bad", "latest_bad", "drift_share", "problem"),
    [
        (4, 1, 3, 0.5, "drifted"),  # 25% -> 75%: up by 0.5, the threshold itself
        (4, 1, 2, 0.5, None),  # 25% -> 50%: up by 0.25
        (4, 0, 1, 0.3, None),  # 0% -> 25%
        (4, 0, 2, 0.3, "drifted"),  # 0% -> 50%
        (10, 4, 7, 0.3, "drifted"),  # 40% -> 70%: up by 0.3, though 0.7 - 0.4 < 0.3 in floats
        (4, 4, 4, 0.3, None),  # a source whose pages were always short has not drifted
    ],
)
def test_drift_share_is_the_rise_that_counts(
    tmp_path: Path,
    pages: int,
    history_bad: int,
    latest_bad: int,
    drift_share: float,
    problem: str | None,
) -> None:
    for n in (1, 2):
        publish(tmp_path, day(n), [Run("s", pages - history_bad, pages, short_bodies=history_bad)])
    latest = Run("s", pages - latest_bad, pages, short_bodies=latest_bad, drift_share=drift_share)
    publish(tmp_path, day(3), [latest])
    assert health(tmp_path)["s"]["problem"] == problem


def test_a_latest_run_with_too_few_pages_does_not_drift(tmp_path: Path) -> None:
    for n in (1, 2):
        publish(tmp_path, day(n), [clean("few"), clean("three")])
    publish(
        tmp_path,
        day(3),
        [Run("few", extracted=2, not_article=2), Run("three", extracted=3, not_article=3)],
    )
    rows = health(tmp_path)
    assert rows["few"]["problem"] is None
    assert rows["three"]["problem"] == "drifted"


def test_a_source_without_history_has_no_drift(tmp_path: Path) -> None:
    publish(tmp_path, day(1), [Run("new", extracted=5, not_article=5)])
    row = health(tmp_path)["new"]
    assert (row["history_share"], row["history_runs"], row["problem"]) == (None, 0, None)


def test_history_is_the_seven_runs_before_the_latest(tmp_path: Path) -> None:
    # Two big runs of bad pages long ago, then seven clean runs: only the seven count.
    for n in (1, 2):
        publish(tmp_path, day(n), [Run("old-bad", extracted=100, not_article=100)])
    for n in range(3, 10):
        publish(tmp_path, day(n), [clean("old-bad")])
    publish(tmp_path, day(10), [Run("old-bad", extracted=4, not_article=4)])
    row = health(tmp_path)["old-bad"]
    assert (row["history_share"], row["history_runs"]) == (0.0, 7)
    assert row["problem"] == "drifted"


def test_failures_in_a_row_count_the_latest_failed_runs(tmp_path: Path) -> None:
    publish(tmp_path, day(1), [clean("flaky"), Run("down", failed=True), clean("fine")])
    publish(tmp_path, day(2), [Run("flaky", failed=True), Run("down", failed=True), clean("fine")])
    publish(tmp_path, day(3), [Run("flaky", failed=True), Run("down", failed=True), clean("fine")])
    rows = health(tmp_path)
    assert {s: rows[s]["failures_in_a_row"] for s in rows} == {"down": 3, "fine": 0, "flaky": 2}
    assert {s: rows[s]["problem"] for s in rows} == {
        "down": "failing",
        "fine": None,
        "flaky": "failing",
    }
    publish(tmp_path, day(4), [clean("flaky"), Run("down", failed=True), clean("fine")])
    assert health(tmp_path)["flaky"]["failures_in_a_row"] == 0
    assert health(tmp_path)["flaky"]["problem"] is None


def test_a_failing_source_is_named_failing_before_silent(tmp_path: Path) -> None:
    publish(tmp_path, day(1), [clean("gone")])
    for n in (2, 3, 4, 5):
        publish(tmp_path, day(n), [Run("gone", failed=True)])
    row = health(tmp_path)["gone"]
    assert row["days_silent"] == 4
    assert row["problem"] == "failing"


def test_rerunning_a_date_replaces_its_rows(tmp_path: Path) -> None:
    publish(tmp_path, day(1), [clean("s")])
    publish(tmp_path, day(2), [Run("s", failed=True)])
    assert health(tmp_path)["s"]["problem"] == "failing"

    publish(tmp_path, day(2), [clean("s")])

    row = health(tmp_path)["s"]
    assert (row["failures_in_a_row"], row["problem"], row["days_silent"]) == (0, None, 0)
    with duckdb.connect(str(catalog_path(tmp_path)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM source_runs").fetchone() == (2,)


def test_of_two_runs_of_a_source_on_one_date_the_later_counts(tmp_path: Path) -> None:
    # A nightly run of every source failed for `s`; a run of `s` alone later that day worked.
    publish(tmp_path, day(1), [clean("s")])
    publish(tmp_path, day(2), [Run("s", failed=True), clean("t")], scope="ingest-all", hour=3)
    publish(tmp_path, day(2), [clean("s")], scope="ingest-s", hour=9)
    row = health(tmp_path)["s"]
    assert (row["latest_run_id"], row["problem"]) == ("ingest-s@2026-03-02", None)
    # ... and the other way round: the later one decides, whichever scope it has.
    publish(tmp_path, day(3), [clean("s")], scope="ingest-s", hour=3)
    publish(tmp_path, day(3), [Run("s", failed=True), clean("t")], scope="ingest-all", hour=9)
    assert health(tmp_path)["s"]["problem"] == "failing"
