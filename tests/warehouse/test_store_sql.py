"""Queries over an s3:// lake in place (`warehouse.remote`, `newsflow sql`) against moto's S3
server on loopback: the rows of the working copy with nothing written locally, a date
republished between two queries or while one reads, and a store that cannot be read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
import requests
from lakedata import publish_sample
from s3store import S3Server

from warehouse import remote
from warehouse.schema import TABLES
from warehouse.session import NoWarehouse
from warehouse.store import StoreError, WorkingCopy, filesystem
from warehouse.store_url import parse_url

DAY = date(2026, 11, 27)
OTHER_DAY = date(2026, 11, 26)
SCOPE = "ingest-3f2a9c1b"
NEWSFLOW = Path(sys.executable).with_name("newsflow")
Rows = list[tuple[Any, ...]]
QUERY = "SELECT run_date, url, article_id, version, title FROM article_versions ORDER BY ALL"
# Rows of every kind of view: staging, analytic, entity tables.
QUERIES = [
    QUERY,
    "SELECT run_date, url, source_id, body FROM articles ORDER BY ALL",
    "SELECT run_date, url, status FROM fetch_log ORDER BY ALL",
    "SELECT url, reason FROM rejected ORDER BY ALL",
    "SELECT * EXCLUDE (started_at, finished_at) FROM runs ORDER BY ALL",
    "SELECT * FROM entities ORDER BY ALL",
]


def publish(url: str, writer: Path, day: date, variant: str) -> None:
    """Publish a sample run of `day` in the writer's copy and push it to the store."""
    publish_sample(writer, day, SCOPE, variant)
    with WorkingCopy(url, writer) as copy:
        copy.push(day)


def local_rows(data_dir: Path, query: str = QUERY) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(query).fetchall()


def rerun_in_writer(url: str, writer: Path) -> tuple[Rows, Rows]:
    """Two dates pushed to the store (DAY as its "old" run), then DAY run again ("new") in the
    writer's copy and not pushed yet; returns the writer's rows before and after the rerun."""
    publish(url, writer, OTHER_DAY, "new")
    publish(url, writer, DAY, "old")
    old = local_rows(writer)
    publish_sample(writer, DAY, SCOPE, "new")
    return old, local_rows(writer)


def pulled_rows(url: str, copy: Path, query: str = QUERY) -> list[tuple[Any, ...]]:
    with WorkingCopy(url, copy) as working:
        working.pull()
    return local_rows(copy, query)


def newsflow(
    url: str, home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`newsflow` with its data dir in the store, HOME, working copy and cwd under `home`."""
    for folder in ("cwd", "home"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    given = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return subprocess.run(
        [str(NEWSFLOW), *args],
        env={
            **given,
            "HOME": str(home / "home"),
            "XDG_CACHE_HOME": str(home / "home" / "cache"),
            "NEWSFLOW_DATA_DIR": url,
            "NEWSFLOW_STORE_CACHE_DIR": str(home / "copy"),
            **(env or {}),
        },
        cwd=home / "cwd",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sql_json(url: str, home: Path, query: str, *flags: str) -> list[dict[str, Any]]:
    done = newsflow(url, home, "sql", "--format", "json", *flags, query)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_sql_in_place_gives_the_working_copys_rows_and_writes_nothing_locally(
    url: str, tmp_path: Path
) -> None:
    writer = tmp_path / "writer"
    publish(url, writer, OTHER_DAY, "new")
    publish(url, writer, DAY, "old")

    for query in QUERIES:
        _columns, rows = remote.sql_rows(url, query)
        assert rows == pulled_rows(url, tmp_path / "copy", query), query
    assert remote.sql_rows(url, QUERY)[1] != []

    reader, queries = tmp_path / "reader", QUERIES[::4]  # a staging view, an entity table
    in_place = [sql_json(url, reader, query) for query in queries]
    assert not (reader / "copy").exists()  # no working copy
    assert files_under(reader) == []  # nor anything else: no cache, no DuckDB file
    assert [sql_json(url, reader, q, "--working-copy") for q in queries] == in_place
    assert (reader / "copy" / "newsflow.duckdb").is_file()  # the flag did pull a copy


def test_in_place_loads_no_extension_and_writes_nothing_to_the_store(
    url: str, tmp_path: Path
) -> None:
    publish(url, tmp_path / "writer", DAY, "old")
    before = sorted(filesystem().find(url.removeprefix("s3://")))
    with remote.connect(url) as con:
        assert con.execute(QUERY).fetchall() == local_rows(tmp_path / "writer") != []
        loaded = {row[0] for row in con.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
        ).fetchall()}
        assert "httpfs" not in loaded
        with pytest.raises(duckdb.Error, match="never writes to it"):
            con.execute(f"COPY (SELECT 1 AS x) TO '{url}/manifests/run_date=2026-11-28.json'")
    done = newsflow(url, tmp_path / "reader", "sql", f"COPY (SELECT 1 AS x) TO '{url}/x.csv'")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"newsflow sql: reading {url} in place: ReadOnly: {url.removeprefix('s3://')}/x.csv: "
        "newsflow reads the store in place; it never writes to it"
    ]
    assert sorted(filesystem().find(url.removeprefix("s3://"))) == before


def test_a_date_republished_between_two_queries_is_new_in_the_second(
    url: str, tmp_path: Path
) -> None:
    writer, reader = tmp_path / "writer", tmp_path / "reader"
    publish(url, writer, OTHER_DAY, "new")
    publish(url, writer, DAY, "old")
    old = local_rows(writer)
    first = sql_json(url, reader, QUERY)
    assert [r["title"] for r in first] == [r[4] for r in old]
    assert remote.sql_rows(url, QUERY)[1] == old

    publish(url, writer, DAY, "new")
    new = local_rows(writer)
    assert new != old
    second = sql_json(url, reader, QUERY)
    assert [r["title"] for r in second] == [r[4] for r in new]
    assert remote.sql_rows(url, QUERY)[1] == new  # in the same process too


def test_a_table_binds_to_the_schema_unless_a_file_lacks_its_columns(
    url: str, tmp_path: Path
) -> None:
    writer = tmp_path / "writer"
    publish(url, writer, OTHER_DAY, "new")
    publish_sample(writer, DAY, SCOPE, "old")
    [older] = (writer / "lake" / "articles" / f"run_date={DAY.isoformat()}").glob("*.parquet")
    pq.write_table(pq.read_table(older).drop_columns(["title"]), older)  # an older newsflow's
    with WorkingCopy(url, writer) as copy:
        copy.push(DAY)

    query = "SELECT run_date, url, title FROM stg_articles ORDER BY ALL"
    rows = remote.sql_rows(url, query)[1]
    assert rows == pulled_rows(url, tmp_path / "copy", query)
    assert {row[2] is None for row in rows if row[0] == DAY} == {True}
    assert {row[2] is None for row in rows if row[0] == OTHER_DAY} == {False}

    snapshot = remote.read_snapshot(remote.read_only_filesystem(), parse_url(url))
    assert snapshot.conforming == set(TABLES) - {"articles"}
    statements = dict(s.split(" AS ", 1) for s in remote.view_statements(snapshot))
    assert "union_by_name" in statements['CREATE OR REPLACE VIEW "stg_articles"']
    assert "union_by_name" not in statements['CREATE OR REPLACE VIEW "stg_runs"']


def by_date(rows: list[tuple[Any, ...]], day: date) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[0] == day]


@pytest.mark.parametrize("cache_bytes", [remote.RANGE_CACHE_BYTES, 0])
def test_a_reader_that_read_the_manifests_sees_each_date_old_or_new_never_a_mix(
    url: str, tmp_path: Path, cache_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "RANGE_CACHE_BYTES", cache_bytes)
    writer = tmp_path / "writer"
    old, new = rerun_in_writer(url, writer)
    assert by_date(old, DAY) != by_date(new, DAY)
    assert by_date(old, OTHER_DAY) == by_date(new, OTHER_DAY)

    con = remote.connect(url)  # its manifests are read: DAY is the old run
    if not cache_bytes:  # nor does DuckDB keep what it read
        con.execute("SET enable_external_file_cache = false")
    seen: dict[str, list[tuple[Any, ...]]] = {}

    def at_step(step: str) -> None:
        if step == "prune":  # the new manifest is written, the old objects not yet deleted
            seen["open"] = con.execute(QUERY).fetchall()
            seen["opened now"] = remote.sql_rows(url, QUERY)[1]

    with WorkingCopy(url, writer) as copy:
        copy.push(DAY, at_step)
    assert seen == {"open": old, "opened now": new}

    # The old objects are deleted: the open session reads the date as it did from what it
    # (or DuckDB) kept of them; keeping nothing, it fails, naming a missing object of the date.
    if cache_bytes:
        assert con.execute(QUERY).fetchall() == old
    else:
        gone = r"objects/run_date=2026-11-27/[0-9a-f]{64}\.parquet is gone: its date was republ"
        with pytest.raises(duckdb.Error, match=gone):
            con.execute(QUERY).fetchall()
    remote.refresh(con, url)
    assert con.execute(QUERY).fetchall() == new
    con.close()


@pytest.mark.parametrize("attempts", [remote.ATTEMPTS, 1])
def test_a_query_whose_objects_are_pruned_under_it_is_asked_again_never_half_read(
    url: str, tmp_path: Path, attempts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "ATTEMPTS", attempts)
    writer = tmp_path / "writer"
    _, new = rerun_in_writer(url, writer)
    steps: list[str] = []

    def republish(step: str) -> None:
        steps.append(step)
        if len(steps) == 1:  # the manifests are read; DuckDB has not opened an object yet
            with WorkingCopy(url, writer) as copy:
                copy.push(DAY)

    monkeypatch.setattr(remote, "STEP_HOOK", republish)
    if attempts > 1:
        assert remote.sql_rows(url, QUERY)[1] == new
        assert steps == ["views", "views"]
    else:  # asked once: the objects it was to read are gone, and it says so in one line
        gone = r"^reading s3://\S+ in place: FileNotFoundError: \S+/objects/run_date=2026-11-27/"
        with pytest.raises(StoreError, match=gone + r"[0-9a-f]{64}\.parquet is gone"):
            remote.sql_rows(url, QUERY)


def test_a_store_with_no_published_date_is_a_usage_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(NoWarehouse, match=f"no date is published in {url}"):
        remote.sql_rows(url, "SELECT 1")
    done = newsflow(url, tmp_path, "sql", "SELECT count(*) FROM articles")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"newsflow sql: no date is published in {url}: run `newsflow run` with it first"
    ]


def test_a_store_that_cannot_be_reached_is_one_line_and_a_failure(tmp_path: Path) -> None:
    down = S3Server()  # never started: nothing listens on its port
    done = newsflow(
        "s3://nowhere/lake", tmp_path, "sql", "SELECT 1", env={"AWS_ENDPOINT_URL": down.endpoint}
    )
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("newsflow sql: cannot list the manifests of s3://nowhere/lake: ")
    assert down.endpoint in line
    assert not (tmp_path / "copy").exists()


def test_credentials_the_store_refuses_are_one_line_and_a_failure(
    server: S3Server, url: str, tmp_path: Path
) -> None:
    publish(url, tmp_path / "writer", DAY, "old")
    requests.post(f"{server.endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    try:  # from now on the server checks every request's key: it knows none
        done = newsflow(url, tmp_path / "reader", "sql", "SELECT count(*) FROM articles")
    finally:
        requests.post(f"{server.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"newsflow sql: cannot list the manifests of {url}: ")
    assert "Access Key" in line
