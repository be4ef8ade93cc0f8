"""The catalog: views over absolute globs, swapped in while analysts hold it open.

RELIABILITY rows 4 (an analyst's open session) and 5 (another working directory).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from lakedata import HERE, publish_sample, script_env

from warehouse.catalog import (
    HORIZON_DAYS,
    build_catalog,
    duckdb_types,
    quote_ident,
    quote_literal,
)
from warehouse.lake import catalog_path
from warehouse.query import run_sql
from warehouse.schema import TABLES
from warehouse.views import analytic_views

DAY = date(2026, 11, 27)
NEXT_DAY = date(2026, 11, 28)
SCOPE = "ingest-3f2a9c1b"


class Analyst:
    """A DuckDB session in another process, asked one query at a time."""

    def __init__(self, catalog: Path, mode: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "analyst.py"), str(catalog), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=script_env(),
        )
        assert self._line() == "ready", self.process.stderr.read()  # type: ignore[union-attr]

    def _line(self) -> str:
        return self.process.stdout.readline().strip()  # type: ignore[union-attr]

    def ask(self, sql: str) -> str:
        self.process.stdin.write(sql.replace("\n", " ") + "\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        return self._line()

    def close(self) -> int:
        self.process.stdin.close()  # type: ignore[union-attr]
        return self.process.wait(timeout=60)


@pytest.fixture
def analyst_factory(tmp_path: Path) -> Iterator[list[Analyst]]:
    started: list[Analyst] = []
    yield started
    for analyst in started:
        if analyst.process.poll() is None:
            analyst.process.kill()
            analyst.process.wait()


@pytest.mark.parametrize("mode", ["ro", "rw"])
def test_run_publishes_while_an_analyst_holds_the_catalog_open(
    tmp_path: Path, mode: str, analyst_factory: list[Analyst]
) -> None:
    data_dir = tmp_path / "data"
    publish_sample(data_dir, DAY, SCOPE, "new")
    analyst = Analyst(catalog_path(data_dir), mode, cwd=tmp_path)
    analyst_factory.append(analyst)
    assert analyst.ask("SELECT count(*) FROM article_versions") == "5"

    publish_sample(data_dir, NEXT_DAY, SCOPE, "old")  # the job never needs the file's lock

    # The open session keeps working and sees the new rows on its next query.
    assert analyst.ask("SELECT count(*) FROM article_versions") == "8"
    assert analyst.ask("SELECT count(DISTINCT run_date) FROM runs") == "2"
    # A new session (this process) sees the new data too.
    assert run_sql(data_dir, "SELECT count(*) AS n FROM article_versions").to_pylist() == [{"n": 8}]
    assert analyst.close() == 0
    assert not catalog_path(data_dir).with_name("newsflow.duckdb.wal").exists()


def test_open_session_sees_a_rerun_replace_its_partition(
    tmp_path: Path, analyst_factory: list[Analyst]
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    analyst = Analyst(catalog_path(tmp_path), "ro", cwd=tmp_path)
    analyst_factory.append(analyst)
    assert analyst.ask("SELECT count(*) FROM stg_articles") == "5"
    publish_sample(tmp_path, DAY, SCOPE, "old")
    assert analyst.ask("SELECT count(*) FROM stg_articles") == "3"
    assert analyst.ask("SELECT min(title) FROM stg_articles") == "old story 0"
    assert analyst.close() == 0


def test_catalog_opens_from_another_working_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    publish_sample(data_dir, DAY, SCOPE, "new")
    # The view names are this project's constants, not input.
    queries = "".join(f"SELECT count(*) FROM {name}\n" for name, _ in analytic_views())

    result = subprocess.run(
        [sys.executable, str(HERE / "analyst.py"), str(catalog_path(data_dir)), "ro"],
        input=queries,
        cwd=elsewhere,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    answers = result.stdout.split("\n")[1 : 1 + len(analytic_views())]
    assert not [a for a in answers if a.startswith("ERROR")], result.stdout
    assert dict(zip([n for n, _ in analytic_views()], answers, strict=True))["articles"] == "4"


def test_views_use_absolute_paths_only(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    try:
        sqls = [
            row[0]
            for row in con.execute(
                "SELECT sql FROM duckdb_views() WHERE view_name LIKE 'stg_%'"
            ).fetchall()
        ]
    finally:
        con.close()
    assert len(sqls) == len(TABLES)
    for sql in sqls:
        assert f"'{tmp_path.absolute()}/lake/" in sql


def test_catalog_built_from_a_relative_data_dir_opens_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_sample(tmp_path / "data", DAY, SCOPE, "new")
    monkeypatch.chdir(tmp_path)
    build_catalog(Path("data"))
    result = subprocess.run(
        [sys.executable, str(HERE / "analyst.py"), str(tmp_path / "data/newsflow.duckdb"), "ro"],
        input="SELECT count(*) FROM stg_articles\n",
        cwd="/",
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split("\n")[1] == "5"


def test_an_open_session_sees_the_dates_within_its_catalogs_horizon(
    tmp_path: Path, analyst_factory: list[Analyst]
) -> None:
    first = date(2026, 11, 2)  # and the dates after it in the same month: nothing to copy
    publish_sample(tmp_path, first, SCOPE, "new")
    analyst = Analyst(catalog_path(tmp_path), "ro", cwd=tmp_path)
    analyst_factory.append(analyst)
    before = catalog_path(tmp_path).stat().st_ino
    last_seen = first + timedelta(days=HORIZON_DAYS)
    publish_sample(tmp_path, last_seen, SCOPE, "old")

    # No new catalog: the dates after the newest one are read by a glob of their folder.
    assert catalog_path(tmp_path).stat().st_ino == before
    assert analyst.ask("SELECT count(DISTINCT run_date) FROM runs") == "2"

    publish_sample(tmp_path, last_seen + timedelta(days=1), SCOPE, "old")
    assert catalog_path(tmp_path).stat().st_ino != before  # past the horizon: rebuilt
    # New sessions see it; the open one reads what its catalog names until reopened.
    assert run_sql(tmp_path, "SELECT count(DISTINCT run_date) AS n FROM runs").to_pylist() == [
        {"n": 3}
    ]
    assert analyst.ask("SELECT count(DISTINCT run_date) FROM runs") == "2"
    assert analyst.close() == 0


def test_duckdb_types_names_each_arrow_column_as_duckdb_reads_it() -> None:
    schema = pa.schema(
        [
            ("n", pa.int64()),
            ("names", pa.list_(pa.string())),
            ("at", pa.timestamp("us", tz="UTC")),
            ("ok", pa.bool_()),
        ]
    )
    assert duckdb_types(schema) == {
        "n": "BIGINT",
        "names": "VARCHAR[]",
        "at": "TIMESTAMP WITH TIME ZONE",
        "ok": "BOOLEAN",
    }


def test_names_and_paths_with_quotes_are_quoted_for_sql() -> None:
    name, text = quote_ident('a "b" c'), quote_literal("o'k")
    assert (name, text) == ('"a ""b"" c"', "'o''k'")
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE {name} AS SELECT {text} AS v")
        assert con.execute(f"SELECT v FROM {name}").fetchall() == [("o'k",)]
    finally:
        con.close()


def test_a_data_dir_whose_path_holds_a_quote_gets_views_that_answer(tmp_path: Path) -> None:
    data_dir = tmp_path / "o'brien's \"news\""
    publish_sample(data_dir, date(2026, 11, 27), "ingest-1", "new")
    assert run_sql(data_dir, "SELECT count(*) AS n FROM stg_articles").column("n")[0].as_py() == 5
