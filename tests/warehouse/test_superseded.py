"""The latest version of each line is decided when a run publishes (`warehouse.superseded`),
and the views answer as the window over every stored row did, whatever order dates are
published, rerun or backfilled in."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from versions import latest, publish_rows, windowed

from warehouse.catalog import build_catalog
from warehouse.lake import catalog_path
from warehouse.superseded import legacy

D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
A = "https://a.test/story"
A2 = "https://a.test/story?utm=x"
B = "https://b.test/copy"


def _views(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(catalog_path(data_dir)), read_only=True)


def _articles(data_dir: Path) -> list[tuple[object, ...]]:
    con = _views(data_dir)
    try:
        sql = "SELECT article_id, version, run_date FROM articles ORDER BY ALL"
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_new_version_supersedes_the_stored_one(tmp_path: Path) -> None:
    publish_rows(tmp_path, D1, [("A", A, 1, None)])
    publish_rows(tmp_path, D2, [("A", A, 2, None)])
    assert _articles(tmp_path) == [("A", 2, D2)]


def test_an_earlier_date_backfilled_later_does_not_take_over(tmp_path: Path) -> None:
    publish_rows(tmp_path, D2, [("A", A, 2, None)])
    publish_rows(tmp_path, D1, [("A", A, 1, None)])
    assert _articles(tmp_path) == [("A", 2, D2)]


def test_a_rerun_that_drops_the_newer_version_brings_the_older_back(tmp_path: Path) -> None:
    publish_rows(tmp_path, D2, [("A", A, 2, None)])
    publish_rows(tmp_path, D1, [("A", A, 1, None)])  # decides its own row superseded
    publish_rows(tmp_path, D2, [])
    assert _articles(tmp_path) == [("A", 1, D1)]


def test_a_second_rerun_keeps_the_decision_that_outnumbered_a_stale_one(tmp_path: Path) -> None:
    publish_rows(tmp_path, D2, [("A", A, 2, None)])
    publish_rows(tmp_path, D1, [("A", A, 1, None)])
    publish_rows(tmp_path, D2, [])
    publish_rows(tmp_path, D2, [("B", B, 1, None)])  # D2 again, no longer touching A's rows
    assert _articles(tmp_path) == [("A", 1, D1), ("B", 1, D2)]


def test_a_line_of_one_row_needs_no_decision(tmp_path: Path) -> None:
    publish_rows(tmp_path, D1, [("A", A, 1, None), ("B", B, 1, None)])
    con = _views(tmp_path)
    try:
        assert con.execute("SELECT count(*) FROM stg_superseded").fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.parametrize(
    "order",
    [(D1, D2, D3), (D3, D1, D2), (D2, D3, D1, D2), (D1, D3, D2, D3, D1)],
    ids=lambda o: "-".join(d.strftime("%d") for d in o),
)
def test_is_latest_is_what_the_window_over_every_row_gives(
    tmp_path: Path, order: tuple[date, ...]
) -> None:
    nights = {
        D1: [("A", A, 1, None), ("A", A2, 1, "A"), ("C", "https://c.test/1", 1, None)],
        D2: [("A", A, 2, None), ("A", A2, 1, "A"), ("B", B, 1, "A")],
        D3: [("A", A, 3, None), ("B", B, 1, "A"), ("C", "https://c.test/1", 2, None)],
    }
    seen: set[date] = set()
    for day in order:
        # a rerun of a date publishes fewer rows than its first run
        rows = nights[day][:-1] if day in seen else nights[day]
        seen.add(day)
        publish_rows(tmp_path, day, rows)
        con = _views(tmp_path)
        try:
            assert latest(con) == windowed(con), day
        finally:
            con.close()


def test_a_lake_whose_path_has_a_quote_decides_as_any_other(tmp_path: Path) -> None:
    # The decisions' SQL names every file by its path, inside single quotes.
    data_dir = tmp_path / "O'Brien's lake"
    publish_rows(data_dir, D1, [("A", A, 1, None)])
    publish_rows(data_dir, D2, [("A", A, 2, None), ("A", A2, 1, "A")])
    assert _articles(data_dir) == [("A", 2, D2)]
    con = _views(data_dir)
    try:
        assert latest(con) == windowed(con)
    finally:
        con.close()


def test_a_lake_without_articles_has_no_legacy_decisions() -> None:
    decided = legacy([])
    assert decided.num_rows == 0
    assert decided.schema.names == [
        "run_id", "source_id", "article_id", "copy_url", "url", "version", "row_run_date",
        "superseded", "decision",
    ]


def test_a_caller_cannot_write_decisions(tmp_path: Path) -> None:
    from warehouse.publish import Publication

    publication = Publication(tmp_path, D1, "ingest-1")
    try:
        with pytest.raises(ValueError, match="decided by the publication"):
            publication.write("superseded", [])
    finally:
        publication.abort()


def test_a_lake_from_before_decisions_gets_them_at_its_next_publication(tmp_path: Path) -> None:
    publish_rows(tmp_path, D1, [("A", A, 1, None), ("B", B, 1, None)])
    publish_rows(tmp_path, D2, [("A", A, 2, None), ("A", A2, 1, "A")])
    shutil.rmtree(tmp_path / "lake" / "superseded")  # as an older newsflow left it
    build_catalog(tmp_path)
    assert _articles(tmp_path) == [("A", 1, D1), ("A", 2, D2), ("B", 1, D1)]

    publish_rows(tmp_path, D3, [("C", "https://c.test/1", 1, None)])
    assert _articles(tmp_path) == [("A", 2, D2), ("B", 1, D1), ("C", 1, D3)]
    con = _views(tmp_path)
    try:
        assert latest(con) == windowed(con)
    finally:
        con.close()
    publish_rows(tmp_path, D2, [("B", B, 2, None)])  # a rerun then outnumbers the old decisions
    assert _articles(tmp_path) == [("A", 1, D1), ("B", 2, D2), ("C", 1, D3)]
