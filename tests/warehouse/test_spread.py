"""`story_spread` read from the summary a publication keeps (`warehouse.spread`): it says what
the aggregation over `article_versions` says, or it is not used."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from versions import Row, article_table, publish_rows

from warehouse import spread
from warehouse.catalog import ensure_catalog
from warehouse.lake import catalog_path, list_lake
from warehouse.publish import Publication
from warehouse.views import story_spread_sql

DAY = date(2026, 3, 2)
A, B, C = "https://a.example/", "https://b.example/", "https://c.example/"
FIRST: list[Row] = [
    ("s1", A + "s1", 1, None),
    ("s1b", B + "s1", 1, "s1"),  # a copy of s1 at another outlet
    ("s2", A + "s2", 1, None),
]


class Crash(Exception):
    pass


def crash_at(step: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == step:
            raise Crash(name)

    return hook


def on(day: int) -> date:
    return DAY.replace(day=day)


def at(day: int, minute: int) -> datetime:
    """`published_at` of the `minute`th row of a date (`versions.article_table`)."""
    return datetime(2026, 3, day, 5, minute, tzinfo=UTC)


Rows = list[tuple[object, ...]]


def read(con: duckdb.DuckDBPyConnection) -> tuple[Rows, Rows]:
    """`story_spread`'s rows and those of the aggregation over `article_versions`, sorted."""
    view = con.execute("SELECT * FROM story_spread ORDER BY ALL").fetchall()
    aggregated = con.execute(
        f"SELECT * FROM ({story_spread_sql()}) ORDER BY ALL"
    ).fetchall()
    return view, aggregated


def reads_summary(con: duckdb.DuckDBPyConnection, data_dir: Path) -> bool:
    sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'story_spread'").fetchall()
    return str(spread.summary_path(data_dir)) in sql[0][0]


def catalog(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(catalog_path(data_dir)), read_only=True)


def publish_nothing(data_dir: Path, day: date, **kw: Callable[[str], None]) -> None:
    Publication(data_dir, day, "ingest-1", **kw).commit()


def test_story_spread_reads_a_summary_equal_to_the_aggregation(tmp_path: Path) -> None:
    publish_rows(tmp_path, on(2), FIRST)
    # s1 again, version 2 (supersedes version 1), and a new story at a third outlet
    publish_rows(tmp_path, on(3), [("s1", A + "s1", 2, None), ("s3", C + "s3", 1, None)])
    assert spread.holds(tmp_path, list_lake(tmp_path, spread.READ))
    with catalog(tmp_path) as con:
        assert reads_summary(con, tmp_path)
        view, aggregated = read(con)
    assert view == aggregated
    assert view == [
        ("s1", 2, 2, "outlet-b.example", at(2, 1), at(3, 0), 86340 / 3600),
        ("s2", 1, 1, "outlet-a.example", at(2, 2), at(2, 2), 0.0),
        ("s3", 1, 1, "outlet-c.example", at(3, 1), at(3, 1), 0.0),
    ]
    # a rerun of the 3rd without s3 and with a copy of s2
    publish_rows(tmp_path, on(3), [("s1", A + "s1", 2, None), ("s2c", C + "s2", 1, "s2")])
    with catalog(tmp_path) as con:
        assert reads_summary(con, tmp_path)
        view, aggregated = read(con)
    assert view == aggregated
    assert [(r[0], r[1], r[2]) for r in view] == [("s1", 2, 2), ("s2", 2, 2)]


def test_the_summary_is_sorted_in_small_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spread, "GROUP_ROWS", 2)
    # published_at rises with the row, so clusters named backwards come out of the aggregation
    # in no particular order of publication
    publish_rows(tmp_path, on(2), [(f"s{9 - i}", f"{A}{i}", 1, None) for i in range(7)])
    metadata = pq.read_metadata(spread.summary_path(tmp_path))
    column = metadata.schema.names.index("first_published_at")
    bounds = [
        (metadata.row_group(g).column(column).statistics.min,
         metadata.row_group(g).column(column).statistics.max)
        for g in range(metadata.num_row_groups)
    ]
    assert len(bounds) == 4
    assert all(
        low <= high < later for (low, high), (later, _) in itertools.pairwise(bounds)
    )


def test_a_summary_left_stale_by_a_crash_is_not_used(tmp_path: Path) -> None:
    publish_rows(tmp_path, on(2), FIRST)
    publication = Publication(tmp_path, on(3), "ingest-1", on_step=crash_at("spread"))
    publication.write("articles", article_table(on(3), [("s1", A + "s1", 2, None)]))
    with pytest.raises(Crash):
        publication.commit()  # the data is renamed, the summary is the 2nd's
    stale = pq.read_table(spread.summary_path(tmp_path)).sort_by("cluster_id").to_pylist()
    assert stale[0]["last_published_at"] == at(2, 1)  # s1's copy, as on the 2nd
    ensure_catalog(tmp_path)  # what the next run, or a remote copy's update, does
    with catalog(tmp_path) as con:
        assert not reads_summary(con, tmp_path)
        view, aggregated = read(con)
    assert view == aggregated
    assert view[0][:3] == ("s1", 2, 2)
    assert view[0][5] == at(3, 0)  # the new version's, not the stale summary's
    # A publication that adds nothing (an empty date) does not take the stale summary for
    # one that holds: it computes it again.
    publish_nothing(tmp_path, on(4))
    with catalog(tmp_path) as con:
        assert reads_summary(con, tmp_path)
        view, aggregated = read(con)
    assert view == aggregated
    assert view[0][5] == at(3, 0)


def test_an_unreadable_summary_is_not_used(tmp_path: Path) -> None:
    publish_rows(tmp_path, on(2), FIRST)
    path = spread.summary_path(tmp_path)
    path.write_bytes(path.read_bytes()[:-40])  # its footer cut short
    ensure_catalog(tmp_path)
    with catalog(tmp_path) as con:
        assert not reads_summary(con, tmp_path)
        view, aggregated = read(con)
    assert view == aggregated
    assert len(view) == 2


def test_a_publication_that_adds_nothing_does_not_compute_the_summary(tmp_path: Path) -> None:
    publish_rows(tmp_path, on(2), FIRST)
    path = spread.summary_path(tmp_path)
    before = path.stat()
    publish_nothing(tmp_path, on(3))
    publish_nothing(tmp_path, on(3))  # a rerun of the empty date replaces empty files
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # recorded as holding for the lake the publications left
    assert spread.recorded(tmp_path) == spread.lake_digest(list_lake(tmp_path, spread.READ))
    with catalog(tmp_path) as con:
        assert reads_summary(con, tmp_path)
        view, aggregated = read(con)
    assert view == aggregated
    # a rerun of a date that held articles, now empty, changes the answer: computed again
    publish_nothing(tmp_path, on(2))
    assert path.stat().st_ino != before.st_ino
    with catalog(tmp_path) as con:
        assert reads_summary(con, tmp_path)
        assert read(con) == ([], [])


def test_an_open_session_sees_the_summary_of_a_later_publication(tmp_path: Path) -> None:
    publish_rows(tmp_path, on(2), FIRST)
    with catalog(tmp_path) as con:
        assert reads_summary(con, tmp_path)
        assert [r[0] for r in read(con)[0]] == ["s1", "s2"]
        publish_rows(tmp_path, on(3), [("s3", C + "s3", 1, None)])
        assert [r[0] for r in read(con)[0]] == ["s1", "s2", "s3"]

