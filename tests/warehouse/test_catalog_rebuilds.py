"""The catalog is rebuilt only when its views change; views bind to the schema when they can."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from lakedata import publish_sample

from warehouse.catalog import HORIZON_DAYS, build_catalog, digest_path
from warehouse.lake import catalog_path, data_file, recover
from warehouse.query import run_sql

DAY = date(2026, 11, 27)
NEXT_DAY = date(2026, 11, 28)
SCOPE = "ingest-1"


def _stg_sql(data_dir: Path, table: str) -> str:
    with duckdb.connect(str(catalog_path(data_dir)), read_only=True) as con:
        rows = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = ?", [f"stg_{table}"]
        ).fetchall()
    return str(rows[0][0])


def test_publishing_another_date_keeps_the_catalog_file_and_shows_the_date(
    tmp_path: Path,
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    before = catalog_path(tmp_path).stat().st_ino
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "old")
    assert catalog_path(tmp_path).stat().st_ino == before
    rows = run_sql(tmp_path, "SELECT count(DISTINCT run_date) AS n FROM runs").to_pylist()
    assert rows == [{"n": 2}]


def test_a_catalog_without_its_digest_is_rebuilt(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    before = catalog_path(tmp_path).stat().st_ino
    digest_path(tmp_path).unlink()
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "old")
    assert catalog_path(tmp_path).stat().st_ino != before
    assert digest_path(tmp_path).is_file()


def test_views_bind_to_the_schema_while_every_file_conforms(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    assert "union_by_name" not in _stg_sql(tmp_path, "runs")


def test_a_file_with_older_columns_is_read_by_name_after_a_rebuild(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    before = catalog_path(tmp_path).stat().st_ino
    older = data_file(tmp_path, "runs", date(2026, 11, 20), SCOPE)
    older.parent.mkdir(parents=True)
    pq.write_table(pa.table({"run_id": ["older"], "flow": ["nightly-ingest"]}), older)
    recover(tmp_path)
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "old")

    assert catalog_path(tmp_path).stat().st_ino != before
    assert "union_by_name = true" in _stg_sql(tmp_path, "runs")
    assert "union_by_name" not in _stg_sql(tmp_path, "articles")
    rows = run_sql(
        tmp_path, "SELECT run_id, scope FROM stg_runs WHERE run_id = 'older'"
    ).to_pylist()
    assert rows == [{"run_id": "older", "scope": None}]


def test_views_name_their_files_and_glob_no_folder_by_wildcard(tmp_path: Path) -> None:
    # A wildcard in a folder name makes DuckDB list (and stat) a folder per stored date on
    # every query; a view names its files, and globs only the folders of dates to come.
    publish_sample(tmp_path, DAY, SCOPE, "new")
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "old")
    build_catalog(tmp_path)
    sql = _stg_sql(tmp_path, "articles")
    assert all(f"'{data_file(tmp_path, 'articles', d, SCOPE)}'" in sql for d in (DAY, NEXT_DAY))
    assert f"run_date={NEXT_DAY + timedelta(days=HORIZON_DAYS)}/*.parquet'" in sql
    assert "run_date=*" not in sql
    assert "-*/" not in sql  # no month glob either


def test_a_file_of_another_scope_on_a_stored_date_rebuilds_the_catalog(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    before = catalog_path(tmp_path).stat().st_ino
    publish_sample(tmp_path, DAY, "ingest-2", "old")
    assert catalog_path(tmp_path).stat().st_ino != before
    rows = run_sql(tmp_path, "SELECT count(DISTINCT run_id) AS n FROM stg_runs").to_pylist()
    assert rows == [{"n": 2}]
