"""The nightly flow over the sample site with its warehouse in S3 (moto's server on loopback):
`newsflow sql` in place and over another machine's working copy, `newsflow record` on one, a
second machine's run that dedups against the first's, and a store that goes away in the
middle of a push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flowenv import environment
from s3store import S3Server, held, make_bucket, s3_server

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary
from warehouse import store

RUN_DATE = date(2023, 10, 15)
NEXT_DATE = date(2023, 10, 16)
BUCKET = "newsflow-s3-run"
URL = f"s3://{BUCKET}/nightly"
NEWSFLOW = Path(sys.executable).with_name("newsflow")
# Columns that do not depend on when a page was fetched.
ARTICLES = (
    "SELECT url, article_id, version, source_id, title, body, duplicate_of, cluster_id"
    " FROM article_versions ORDER BY url, version"
)


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    with s3_server() as running:
        make_bucket(BUCKET)
        yield running


def machine(folder: Path) -> dict[str, str]:
    """The settings of a machine whose working copy of the store is `folder`."""
    return {
        "NEWSFLOW_DATA_DIR": URL,
        "NEWSFLOW_STORE_CACHE_DIR": str(folder),
        "NEWSFLOW_PER_HOST_DELAY_S": "0.05",
    }


@pytest.fixture(scope="module")
def first_run(
    prefect_harness: None, server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> RunSummary:
    with environment(machine(tmp_path_factory.mktemp("machine-one"))):
        summary = nightly_ingest(run_date=RUN_DATE)
    assert isinstance(summary, RunSummary)
    return summary


def newsflow(
    env: dict[str, str], *args: str, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    given = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return subprocess.run(
        [str(NEWSFLOW), *args],
        env={**given, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sql_json(
    env: dict[str, str], query: str, *flags: str, options: tuple[str, ...] = (), **kw: Any
) -> list[dict[str, Any]]:
    """`newsflow [flags] sql [options] query` as JSON rows."""
    done = newsflow(env, *flags, "sql", "--format", "json", *options, query, **kw)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_sql_over_the_store_on_another_machine_gives_the_rows_of_a_local_run(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    assert first_run.status == "completed", first_run.failures
    over_s3 = sql_json(machine(tmp_path / "reader"), ARTICLES)
    assert len(over_s3) >= 30

    local = tmp_path / "local"
    with environment({"NEWSFLOW_DATA_DIR": str(local), "NEWSFLOW_PER_HOST_DELAY_S": "0.05"}):
        assert nightly_ingest(run_date=RUN_DATE).status == "completed"
    assert sql_json({}, ARTICLES, "--data-dir", str(local)) == over_s3
    assert not (local / store.STATE_DIR).exists()  # a local warehouse never talks to a store


def test_sql_in_place_gives_the_working_copys_rows_and_downloads_nothing(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    for folder in ("cwd", "cache"):
        (home / folder).mkdir(parents=True)
    # No working copy is made, nor anything under HOME, the cache or the directory it runs in.
    env = {**machine(tmp_path / "reader"), "HOME": str(home)}
    env["XDG_CACHE_HOME"] = str(home / "cache")
    queries = [
        ARTICLES,
        "SELECT * EXCLUDE (started_at, finished_at) FROM runs ORDER BY ALL",
        "SELECT entity_id, name, label, articles FROM entities ORDER BY ALL",
    ]
    in_place = [sql_json(env, query, cwd=home / "cwd") for query in queries]
    assert len(in_place[0]) >= 30
    assert not (tmp_path / "reader").exists()
    assert [p for p in home.rglob("*") if p.is_file()] == []
    pulled = [sql_json(env, query, options=("--working-copy",)) for query in queries]
    assert pulled == in_place
    assert (tmp_path / "reader" / "newsflow.duckdb").is_file()


def test_record_reads_the_raw_archive_from_the_store(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    env = machine(tmp_path / "reader")
    [row] = sql_json(env, "SELECT raw_record_id, url FROM articles ORDER BY url LIMIT 1")
    shown = newsflow(machine(tmp_path / "another"), "record", "--json", row["raw_record_id"])
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["url"] == row["url"]


def test_a_second_machine_sees_the_first_machines_urls_as_seen(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    with environment(machine(tmp_path / "machine-two")):
        second = nightly_ingest(run_date=NEXT_DATE)
    assert second.status == "completed", second.failures
    fetched = sql_json(
        machine(tmp_path / "reader"),
        "SELECT run_date, count(*) AS pages FROM fetch_log WHERE status = 200"
        " AND url IN (SELECT url FROM articles WHERE run_date = DATE '2023-10-15')"
        " GROUP BY ALL ORDER BY ALL",
    )
    # The first date's stories were fetched once, by the first machine only.
    assert [r["run_date"] for r in fetched] == [RUN_DATE.isoformat()]


def test_a_store_that_stops_mid_push_fails_the_run_and_keeps_the_last_published_date(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    reader = machine(tmp_path / "reader")
    before = sql_json(reader, "SELECT run_id, started_at FROM runs ORDER BY ALL")

    def stop_the_server(step: str) -> None:
        if step.startswith("upload:"):
            server.stop()

    store.STEP_HOOK = stop_the_server
    try:
        with (
            environment(machine(tmp_path / "machine-three")),
            pytest.raises(store.StoreError, match=rf"cannot upload .* to {URL}"),
        ):
            nightly_ingest(run_date=RUN_DATE)
    finally:
        store.STEP_HOOK = None
        server.start()
    assert sql_json(reader, "SELECT run_id, started_at FROM runs ORDER BY ALL") == before


def test_reprocess_on_another_machine_reads_the_raw_archive_from_the_store(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    from flows.ingest import reprocess

    reader = machine(tmp_path / "reader")
    query = "SELECT url, article_id, version, title FROM article_versions ORDER BY ALL"
    before = sql_json(reader, query)
    with environment(machine(tmp_path / "machine-four")):
        summary = reprocess(run_date=RUN_DATE)
    assert summary.status == "completed", summary.failures
    assert sql_json(reader, query) == before
    flows = sql_json(reader, "SELECT flow FROM runs WHERE run_date = DATE '2023-10-15'")
    assert flows == [{"flow": "reprocess"}]


def test_sql_reads_a_working_copy_that_a_run_holds_as_it_is(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    env = machine(tmp_path / "reader")
    query = "SELECT count(*) AS n FROM runs"
    pulled = sql_json(env, query, options=("--working-copy",))
    with held(URL, tmp_path / "reader"):  # a run on this machine, say
        shown = newsflow(env, "sql", "--format", "json", "--working-copy", query, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == pulled
    assert "holds the working copy" in shown.stderr


def test_a_backfill_publishes_each_date_to_the_store(
    first_run: RunSummary, server: S3Server, tmp_path: Path
) -> None:
    from flows.ingest import backfill

    with environment(machine(tmp_path / "machine-five")):
        summaries = backfill(start=date(2023, 10, 17), end=date(2023, 10, 18))
    assert [s.status for s in summaries] == ["completed", "completed"]
    days = sql_json(
        machine(tmp_path / "reader"),
        "SELECT DISTINCT run_date FROM runs WHERE run_date >= DATE '2023-10-17' ORDER BY 1",
    )
    assert days == [{"run_date": "2023-10-17"}, {"run_date": "2023-10-18"}]
    with store.WorkingCopy(URL, tmp_path / "reader") as copy:
        assert copy.read_manifest(date(2023, 10, 17)) is not None
