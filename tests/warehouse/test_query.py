"""The flow's questions to the lake and the read-only SQL helper."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from lakedata import publish_sample, tables

from warehouse.lake import catalog_path
from warehouse.publish import Publication
from warehouse.query import (
    NoWarehouse,
    articles_per_source,
    fetch_log_rows,
    latest_validators,
    rejected_before_extract,
    run_sql,
    seen_urls,
)

DAY = date(2026, 11, 27)
NEXT_DAY = date(2026, 11, 28)
SCOPE = "ingest-1"
FEED = "http://a.test/feed.xml"


def test_seen_urls_matches_url_final_and_canonical_url(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    asked = {
        "http://a.test/2026-11-27/0?utm_source=x",  # url as discovered
        "http://a.test/2026-11-27/1",  # final and canonical URL
        "http://a.test/2026-11-27/4",  # only in the "new" variant
        "http://elsewhere.test/",
    }
    assert set(seen_urls(tmp_path, asked)) == {
        "http://a.test/2026-11-27/0?utm_source=x",
        "http://a.test/2026-11-27/1",
    }


def test_seen_urls_leaves_out_the_current_runs_own_file(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    url = "http://a.test/2026-11-27/0"
    assert seen_urls(tmp_path, [url], exclude=(DAY, SCOPE)) == {}
    assert set(seen_urls(tmp_path, [url], exclude=(DAY, "other"))) == {url}
    assert set(seen_urls(tmp_path, [url], exclude=(NEXT_DAY, SCOPE))) == {url}


def test_seen_urls_on_an_empty_lake_is_empty(tmp_path: Path) -> None:
    assert seen_urls(tmp_path, ["http://a.test/"]) == {}


def test_latest_validators_come_from_the_latest_published_fetch(tmp_path: Path) -> None:
    assert latest_validators(tmp_path, [FEED]) == {}
    publish_sample(tmp_path, DAY, SCOPE, "old")
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "new")
    assert latest_validators(tmp_path, [FEED, "http://x.test/"]) == {
        FEED: ('"feed-2026-11-28-new"', None)
    }
    # A rerun of the 28th must not get 304s from its own first attempt.
    assert latest_validators(tmp_path, [FEED], exclude=(NEXT_DAY, SCOPE)) == {
        FEED: ('"feed-2026-11-27-old"', None)
    }


def test_a_run_takes_validators_as_of_its_own_date(tmp_path: Path) -> None:
    """Rerunning an earlier date must not take validators from later dates."""
    publish_sample(tmp_path, DAY, SCOPE, "old")
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "new")
    earlier = date(2026, 11, 26)
    assert latest_validators(tmp_path, [FEED], exclude=(earlier, SCOPE)) == {}
    assert latest_validators(tmp_path, [FEED], exclude=(DAY, "other")) == {
        FEED: ('"feed-2026-11-27-old"', None)
    }


def test_a_later_dates_first_version_is_seen_by_an_earlier_date_its_later_ones_are_not(
    tmp_path: Path,
) -> None:
    """A story has one version 1 whatever order dates run in, and reruns stay the same."""
    publish_sample(tmp_path, NEXT_DAY, SCOPE, "new")
    first = "http://a.test/2026-11-28/0?utm_source=x"  # stored on the 28th as version 1
    earlier = date(2026, 11, 26)
    assert set(seen_urls(tmp_path, [first], exclude=(earlier, SCOPE))) == {first}

    rows = tables(NEXT_DAY, SCOPE, "new")["articles"].to_pylist()
    later = date(2026, 11, 30)
    with Publication(tmp_path, later, SCOPE) as publication:  # a second version on the 30th
        publication.write("articles", [{**rows[2], "version": 2}])
    again = rows[2]["url"]
    assert set(seen_urls(tmp_path, [again], exclude=(earlier, SCOPE))) == {again}  # via v1
    only_v2 = "http://a.test/only-a-second-version"
    with Publication(tmp_path, later, "other") as publication:
        publication.write("articles", [{**rows[3], "url": only_v2, "version": 2}])
    assert seen_urls(tmp_path, [only_v2], exclude=(earlier, SCOPE)) == {}
    assert set(seen_urls(tmp_path, [only_v2], exclude=(date(2026, 12, 1), SCOPE))) == {only_v2}


def test_validators_do_not_advance_before_publication(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    publication = Publication(tmp_path, NEXT_DAY, SCOPE)
    publication.write("fetch_log", tables(NEXT_DAY, SCOPE, "new")["fetch_log"])
    assert latest_validators(tmp_path, [FEED]) == {FEED: ('"feed-2026-11-27-old"', None)}
    publication.commit()
    assert latest_validators(tmp_path, [FEED]) == {FEED: ('"feed-2026-11-28-new"', None)}


def test_one_runs_rows_are_read_back_for_reprocessing(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    expected = tables(DAY, SCOPE, "new")
    log = fetch_log_rows(tmp_path, DAY, SCOPE)
    assert log.num_rows == expected["fetch_log"].num_rows
    assert log.schema.equals(expected["fetch_log"].schema)
    rejected = rejected_before_extract(tmp_path, DAY, SCOPE)
    assert [(r.stage, r.reason) for r in rejected] == [("fetch", "http_404")]
    assert fetch_log_rows(tmp_path, NEXT_DAY, SCOPE).num_rows == 0


def test_run_sql_answers_from_the_catalog(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    result = run_sql(tmp_path, "SELECT title FROM duplicates")
    assert result.to_pylist() == [{"title": "new story 1"}]


def test_run_sql_is_read_only(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    with pytest.raises(duckdb.Error, match="read-only"):
        run_sql(tmp_path, "CREATE TABLE t AS SELECT 1")
    assert catalog_path(tmp_path).exists()


def test_run_sql_without_a_warehouse_says_so(tmp_path: Path) -> None:
    with pytest.raises(NoWarehouse, match="newsflow run"):
        run_sql(tmp_path, "SELECT 1")


def test_articles_per_source_counts_the_stories_of_the_last_run_dates(tmp_path: Path) -> None:
    assert articles_per_source(tmp_path, 30) == []
    # The samples store 5, 3 and 0 articles, the second of each a duplicate.
    for day, variant in ((DAY, "new"), (NEXT_DAY, "old"), (date(2026, 11, 29), "empty")):
        publish_sample(tmp_path, day, SCOPE, variant)
    publish_sample(tmp_path, NEXT_DAY, "ingest-2", "new")  # a second run of one date
    assert articles_per_source(tmp_path, 2) == [
        (NEXT_DAY, "outlet-a", 2 + 4),
        (date(2026, 11, 29), "outlet-a", 0),  # covered, and nothing stored
    ]
    assert articles_per_source(tmp_path, 30)[0] == (DAY, "outlet-a", 4)
