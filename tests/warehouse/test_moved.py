"""A data dir copied, moved or restored answers from where it is (RELIABILITY row 26).

Its catalog's views name absolute paths, so a copy would read the original's Parquet and a
moved one would find no files. newsflow rebuilds such a catalog on open, with a message; any
other DuckDB client gets an error that says what happened instead of the original's rows.
"""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from lakedata import publish_sample

from warehouse.lake import catalog_path
from warehouse.query import run_sql

DAY = date(2026, 11, 27)
LATER = date(2026, 11, 28)
SCOPE = "ingest-3f2a9c1b"


def _count(table: object) -> int:
    return int(table.column(0)[0].as_py())  # type: ignore[attr-defined]


@pytest.fixture
def original(tmp_path: Path) -> Path:
    data_dir = tmp_path / "original"
    publish_sample(data_dir, DAY, SCOPE, "new")  # 5 stories, one of them a duplicate
    return data_dir


def test_a_copy_answers_from_its_own_files_and_says_it_rebuilt(
    tmp_path: Path, original: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    publish_sample(original, LATER, SCOPE, "new")  # the original moves on; the copy does not
    told: list[str] = []
    assert _count(run_sql(copy, "SELECT count(*) FROM stg_articles", on_rebuild=told.append)) == 5
    assert _count(run_sql(original, "SELECT count(*) FROM stg_articles")) == 10
    assert len(told) == 1
    assert str(original) in told[0]
    assert str(copy) in told[0]
    # Rebuilt once: the next question needs no rebuild.
    run_sql(copy, "SELECT 1", on_rebuild=told.append)
    assert len(told) == 1


def test_another_client_on_a_copy_is_told_instead_of_reading_the_original(
    tmp_path: Path, original: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    con = duckdb.connect(str(catalog_path(copy)), read_only=True)
    try:
        told = (
            f"this newsflow catalog was built for the data dir {original} and has been copied "
            "or moved since: run newsflow --data-dir <its data dir now> sql 'SELECT 1' to "
            "rebuild it"
        )
        with pytest.raises(duckdb.Error, match=re.escape(told)):
            con.execute("SELECT count(*) FROM articles").fetchall()
    finally:
        con.close()


def test_a_moved_data_dir_answers_after_a_rebuild(tmp_path: Path, original: Path) -> None:
    moved = tmp_path / "moved"
    original.rename(moved)
    told: list[str] = []
    assert _count(run_sql(moved, "SELECT count(*) FROM articles", on_rebuild=told.append)) == 4
    assert len(told) == 1


def test_the_original_attached_under_another_name_still_answers(
    tmp_path: Path, original: Path
) -> None:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{catalog_path(original)}' AS news (READ_ONLY)")
        assert con.execute("SELECT count(*) FROM news.articles").fetchone() == (4,)
    finally:
        con.close()
