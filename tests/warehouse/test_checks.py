"""Data checks as SQL: unique keys, required values, accepted values, one row per story."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample, tables

from tasks.records import FetchLogEntry, Rejected
from warehouse.catalog import build_catalog
from warehouse.checks import data_checks, failed_checks
from warehouse.convert import to_table
from warehouse.lake import catalog_path, data_file
from warehouse.publish import Publication
from warehouse.schema import TABLES

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


def _one_run_of(table: str, rows: list[dict[str, object]], data_dir: Path) -> None:
    with Publication(data_dir, DAY, "ingest-1") as publication:
        publication.write(table, pa.Table.from_pylist(rows, TABLES[table]))


def test_a_run_recorded_twice_for_its_date_is_caught(tmp_path: Path) -> None:
    run = tables(DAY, "ingest-1", "new")["runs"].to_pylist()[0]
    _one_run_of("runs", [run, run], tmp_path)
    assert _failed(tmp_path) == {"runs: unique run_id per run_date": [(run["run_id"], DAY, 2)]}


def test_duplicate_of_and_duplicate_kind_come_together(tmp_path: Path) -> None:
    story, copy, third, *_ = tables(DAY, "ingest-1", "new")["articles"].to_pylist()
    no_kind = {**copy, "duplicate_kind": None}
    kind_only = {**third, "duplicate_kind": "exact"}
    _one_run_of("articles", [story, no_kind, kind_only], tmp_path)
    failed = _failed(tmp_path)
    assert list(failed) == ["articles: duplicate_of set exactly when duplicate_kind is"]
    assert sorted(failed["articles: duplicate_of set exactly when duplicate_kind is"]) == [
        (copy["article_id"],),
        (third["article_id"],),
    ]


def test_unknown_kinds_and_a_similarity_outside_0_1_are_caught(tmp_path: Path) -> None:
    story, copy, third, fourth, _ = tables(DAY, "ingest-1", "new")["articles"].to_pylist()
    rows = [
        story,
        {**copy, "duplicate_kind": "fuzzy"},
        {**third, "page_kind": "listing"},
        {**fourth, "similarity": 1.5},
    ]
    _one_run_of("articles", rows, tmp_path)
    assert _failed(tmp_path) == {
        "articles: accepted duplicate_kind": [(copy["article_id"], "fuzzy")],
        "articles: accepted page_kind": [(third["article_id"], "listing")],
        "articles: similarity within [0, 1]": [(fourth["article_id"], 1.5)],
    }


def test_an_unknown_fetch_purpose_is_caught(tmp_path: Path) -> None:
    entry = FetchLogEntry(
        "s",
        "http://a.test/x",
        None,
        200,
        "ok",
        1,
        10,
        1,
        datetime(2026, 11, 27, tzinfo=UTC),
        purpose="sitemap_index",
    )
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("fetch_log", to_table("fetch_log", [entry], run_id="r"))
    assert _failed(tmp_path) == {
        "fetch_log: accepted purpose": [("http://a.test/x", "sitemap_index")]
    }


def test_a_quote_outside_its_article_body_is_caught(tmp_path: Path) -> None:
    rows = tables(DAY, "ingest-1", "new")
    quotes = rows["quotes"].to_pylist()
    body_length = len(rows["articles"].to_pylist()[0]["body"])
    quotes[0]["end_char"] = body_length + 1  # one past the end
    quotes[2]["start_char"] = quotes[2]["end_char"]  # empty
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", rows["articles"])
        publication.write("quotes", pa.Table.from_pylist(quotes, rows["quotes"].schema))
    failed = _failed(tmp_path)
    assert sorted(failed["quotes: offsets inside the article body"]) == [
        (quotes[0]["article_id"], quotes[0]["start_char"], body_length + 1),
        (quotes[2]["article_id"], quotes[2]["end_char"], quotes[2]["end_char"]),
    ]


def test_keywords_of_unknown_source_twice_in_one_source_or_wrongly_scored_are_caught(
    tmp_path: Path,
) -> None:
    rows = tables(DAY, "ingest-1", "new")
    tag, computed, *_ = rows["keywords"].to_pylist()
    assert (tag["source"], computed["source"]) == ("article_tag", "computed")
    bad = [
        tag,
        {**tag, "keyword": "PUTIN"},  # the same normalised keyword again from the same source
        {**tag, "source": "guess"},
        {**tag, "source": "meta_keywords", "score": 0.5},  # publisher keywords have no score
        {**computed, "score": None},
    ]
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", rows["articles"])
        publication.write("keywords", pa.Table.from_pylist(bad, rows["keywords"].schema))
    article = tag["article_id"]
    failed = _failed(tmp_path)
    scored = "keywords: a score exactly on computed phrases"
    assert sorted(failed.pop(scored), key=str) == [
        (article, "Putin", "meta_keywords", 0.5),
        (article, computed["keyword"], "computed", None),
    ]
    assert failed == {
        "keywords: accepted source": [(article, "guess")],
        "keywords: one row per (article, source, normalised keyword)": [
            (article, "article_tag", "putin", 2)
        ],
    }


def test_an_articles_view_with_two_rows_for_one_story_is_caught(tmp_path: Path) -> None:
    """The check holds the view: here, one that forgets to keep only the latest version."""
    from warehouse.catalog import create_views

    story = tables(DAY, "ingest-1", "new")["articles"].to_pylist()[0]
    _one_run_of("articles", [story, {**story, "version": 2}], tmp_path)
    con = duckdb.connect()
    try:
        create_views(con, tmp_path)
        assert failed_checks(con) == {}
        con.execute(
            "CREATE OR REPLACE VIEW articles AS "
            "SELECT * FROM article_versions WHERE duplicate_of IS NULL"
        )
        assert failed_checks(con) == {
            "articles: one row per article_id": [(story["article_id"], 2)]
        }
    finally:
        con.close()


def test_a_lake_file_without_a_required_value_is_caught(tmp_path: Path) -> None:
    """A file written by another tool, not by `Publication`, which refuses such rows."""
    row = tables(DAY, "ingest-1", "new")["rejected"].to_pylist()[0]
    loose = pa.schema([field.with_nullable(True) for field in TABLES["rejected"]])
    path = data_file(tmp_path, "rejected", DAY, "by-hand")
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{**row, "reason": None}], loose), path)
    build_catalog(tmp_path)
    failed = _failed(tmp_path)
    assert list(failed) == ["rejected: required columns are set"]
    (offending,) = failed["rejected: required columns are set"]
    assert offending[2:5] == (row["url"], row["stage"], None)  # url, stage, reason


def test_at_most_five_offending_rows_are_reported_per_check(tmp_path: Path) -> None:
    rejected = [Rejected("s", f"http://a.test/{n}", "fetch", "vibes") for n in range(7)]
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("rejected", to_table("rejected", rejected, run_id="r"))
    assert len(_failed(tmp_path)["rejected: accepted reason"]) == 5


def test_a_name_with_two_labels_in_one_article_is_caught(tmp_path: Path) -> None:
    rows = tables(DAY, "ingest-1", "new")
    mentions = rows["mentions"].to_pylist()
    first = mentions[0]
    twin = {**first, "label": "GPE" if first["label"] != "GPE" else "ORG", "entity_id": "e1"}
    first["entity_id"] = "e1"
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("articles", rows["articles"])
        publication.write(
            "mentions", pa.Table.from_pylist([first, twin], rows["mentions"].schema)
        )
    assert "mentions: one label per entity and per name within an article" in _failed(tmp_path)


def test_an_entity_tallied_twice_for_one_source_in_a_run_is_caught(tmp_path: Path) -> None:
    row = {
        "run_id": "r",
        "source_id": "s",
        "entity_id": "e1",
        "entity_name": "Ada Lovelace",
        "label": "PERSON",
        "aliases": [],
        "articles": 1,
        "mentions": 1,
    }
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write("entity_runs", to_table("entity_runs", [row, row]))
    assert "entity_runs: one row per source and entity in a run" in _failed(tmp_path)


def test_a_source_recorded_twice_in_a_run_is_caught(tmp_path: Path) -> None:
    row = tables(DAY, "ingest-1", "new")["source_runs"].to_pylist()[0]
    _one_run_of("source_runs", [row, row], tmp_path)
    assert _failed(tmp_path) == {
        "source_runs: one row per run and source": [(row["run_id"], DAY, "outlet-a", 2)]
    }


def test_source_run_counts_that_do_not_add_up_are_caught(tmp_path: Path) -> None:
    row = tables(DAY, "ingest-1", "new")["source_runs"].to_pylist()[0]
    too_many = {**row, "source_id": "b", "extracted": 3, "not_article": 2, "short_bodies": 2}
    unexplained = {**row, "source_id": "c", "failed": True, "problem": None}
    silent_failure = {**row, "source_id": "d", "failed": False, "problem": "discovery: http_404"}
    _one_run_of("source_runs", [row, too_many, unexplained, silent_failure], tmp_path)
    failed = _failed(tmp_path)
    counts = failed.pop("source_runs: not_article and short bodies within extracted")
    assert counts == [(row["run_id"], "b", 3, 2, 2)]
    problems = failed.pop("source_runs: a problem is given exactly when the source failed")
    assert sorted(r[1] for r in problems) == ["c", "d"]
    assert failed == {}
