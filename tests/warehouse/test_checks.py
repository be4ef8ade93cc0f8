"""Data checks as SQL: unique keys, required values, accepted values, one row per story."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from lakedata import publish_sample, tables

from tasks.records import FetchLogEntry, Rejected
from warehouse.checks import data_checks, failed_checks
from warehouse.convert import to_table
from warehouse.lake import catalog_path
from warehouse.publish import Publication

DAY = date(2026, 11, 27)


def _failed(data_dir: Path) -> dict[str, list]:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        return failed_checks(con)
    finally:
        con.close()


def test_published_runs_pass_every_check(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, "ingest-1", "new")
    publish_sample(tmp_path, date(2026, 11, 28), "ingest-1", "old")
    publish_sample(tmp_path, DAY, "ingest-1", "new")  # a rerun
    assert _failed(tmp_path) == {}


def test_every_check_runs_on_an_empty_warehouse(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, "ingest-1", "empty")
    assert len(data_checks()) > 10
    assert _failed(tmp_path) == {}


def test_same_article_version_in_two_runs_is_caught(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, "ingest-1", "new")
    publish_sample(tmp_path, DAY, "backfill-1", "new")  # same article ids, same versions
    failed = _failed(tmp_path)
    assert "stg_articles: unique (article_id, version, url)" in failed
    assert "stg_articles: one story row per (article_id, version)" in failed
    assert "articles: one row per article_id" not in failed  # the view keeps one per article


def test_unknown_reason_and_stage_are_caught(tmp_path: Path) -> None:
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write(
            "rejected",
            to_table("rejected", [Rejected("s", "http://a.test", "guessing", "vibes")], run_id="r"),
        )
    failed = _failed(tmp_path)
    assert failed["rejected: accepted stage"] == [("http://a.test", "guessing")]
    assert failed["rejected: accepted reason"] == [("http://a.test", "vibes")]


def test_each_table_accepts_only_the_reasons_that_belong_to_it(tmp_path: Path) -> None:
    # `ok` ends a request but never rejects a URL; `over_cap` rejects a URL before any request;
    # `clean` is no stage of the flow (cleaning rejects at the extract stage).
    entry = FetchLogEntry(
        "s", "http://a.test/x", None, None, "over_cap", 0, 0, 0, datetime(2026, 11, 27, tzinfo=UTC)
    )
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("fetch_log", to_table("fetch_log", [entry], run_id="r"))
        publication.write(
            "rejected",
            to_table(
                "rejected",
                [
                    Rejected("s", "http://a.test/ok", "fetch", "ok"),
                    Rejected("s", "http://a.test/clean", "clean", "paywall"),
                    Rejected("s", "http://a.test/empty", "discover", "no_items"),
                ],
                run_id="r",
            ),
        )
    failed = _failed(tmp_path)
    assert failed["fetch_log: accepted reason"] == [("http://a.test/x", "over_cap")]
    assert failed["rejected: accepted reason"] == [("http://a.test/ok", "ok")]
    assert failed["rejected: accepted stage"] == [("http://a.test/clean", "clean")]


def test_mention_outside_its_article_is_caught(tmp_path: Path) -> None:
    rows = tables(DAY, "ingest-1", "new")
    mentions = rows["mentions"].to_pylist()
    mentions[0]["end_char"] = 10_000
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", rows["articles"])
        publication.write("mentions", pa.Table.from_pylist(mentions, rows["mentions"].schema))
    assert "mentions: offsets point at the mention's text" in _failed(tmp_path)


@pytest.mark.parametrize("kind", ["exact", "near", "canonical_url"])
def test_duplicate_without_its_original_is_caught(tmp_path: Path, kind: str) -> None:
    articles = tables(DAY, "ingest-1", "new")["articles"].to_pylist()
    orphan = {**articles[1], "duplicate_of": "missing", "duplicate_kind": kind}
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", [orphan])
    assert _failed(tmp_path) == {
        "duplicates: the original is stored": [(orphan["article_id"], "missing")]
    }


def test_a_copy_stored_under_its_storys_own_url_is_caught(tmp_path: Path) -> None:
    story = tables(DAY, "ingest-1", "new")["articles"].to_pylist()[0]
    copy = {**story, "duplicate_of": story["article_id"], "duplicate_kind": "canonical_url"}
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", [story, copy])
    failed = _failed(tmp_path)
    assert failed["duplicates: a copy is not its own original"] == [
        (story["article_id"], story["url"])
    ]


def test_a_duplicates_view_that_fans_out_is_caught(tmp_path: Path) -> None:
    """The check holds the view itself: here, the join that once matched every row of the
    story's article_id (its other copies included) instead of the story row alone."""
    from warehouse.catalog import create_views

    rows = tables(DAY, "ingest-1", "new")["articles"].to_pylist()
    story = rows[0]
    copies = [
        {
            **story,
            "url": f"{story['url']}&v={n}",
            "duplicate_of": story["article_id"],
            "duplicate_kind": "canonical_url",
        }
        for n in range(2)
    ]
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", [story, *copies])
    con = duckdb.connect()
    try:
        create_views(con, tmp_path)
        assert failed_checks(con) == {}
        fanning_out = """
            SELECT d.article_id, d.url, o.url AS original_url, d.duplicate_of
            FROM article_versions AS d
            LEFT JOIN article_versions AS o ON o.article_id = d.duplicate_of AND o.is_latest
            WHERE d.is_latest AND d.duplicate_of IS NOT NULL"""
        con.execute(f"CREATE OR REPLACE VIEW duplicates AS {fanning_out}")
        failed = failed_checks(con)
        assert len(failed["duplicates: one row per copy URL"]) == 2
        assert len(failed["duplicates: a copy is not its own original"]) == 2
    finally:
        con.close()
