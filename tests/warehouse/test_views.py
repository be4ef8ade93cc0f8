"""The analytic views answer one row per thing they name, whatever URL variants a story has."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tasks.records import Article, DedupDecision
from warehouse.convert import article_rows
from warehouse.lake import catalog_path
from warehouse.publish import Publication

DAY = date(2026, 11, 27)
T0 = datetime(2026, 11, 27, 6, tzinfo=UTC)
STORY = "https://daily.test/world/summit"


def _article(url: str, body: str, minutes: int = 0) -> Article:
    return Article(
        source_id="daily",
        url=url,
        final_url=url,
        canonical_url=STORY if url.startswith(STORY) else url,
        title=f"Title of {url}",
        body=body,
        fetched_at=T0 + timedelta(minutes=minutes),
        published_at=T0 - timedelta(hours=1) + timedelta(minutes=minutes),
    )


def _decision(article_id: str, duplicate_of: str | None, kind: str | None) -> DedupDecision:
    return DedupDecision(
        article_id=article_id,
        version=1,
        cluster_id=duplicate_of or article_id,
        duplicate_of=duplicate_of,
        duplicate_kind=kind,
        similarity=1.0 if duplicate_of is None else 0.9,
        body_hash=f"h-{article_id}",
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """One story fetched under its own URL and two tracking/AMP variants, and a wire copy."""
    story = _article(STORY, "The summit opened.")
    tracking = _article(STORY + "?utm_source=x", "The summit opened.", 1)
    amp = _article(STORY + "/amp", "The summit opened.", 2)
    wire = _article("https://metro.test/summit-copy", "The summit opened today.", 3)
    decisions = [
        _decision("story", None, None),
        _decision("story", "story", "canonical_url"),
        _decision("story", "story", "canonical_url"),
        _decision("wire", "story", "near"),
    ]
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write(
            "articles", article_rows([story, tracking, amp, wire], decisions, "ingest-1@d")
        )
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    yield con
    con.close()


def test_duplicates_has_one_row_per_copy_url(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT url, duplicate_kind, original_url FROM duplicates ORDER BY url"
    ).fetchall()
    assert rows == [
        ("https://daily.test/world/summit/amp", "canonical_url", STORY),
        ("https://daily.test/world/summit?utm_source=x", "canonical_url", STORY),
        ("https://metro.test/summit-copy", "near", STORY),
    ]


def test_a_copy_is_never_listed_as_its_own_original(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    same = warehouse.execute("SELECT count(*) FROM duplicates WHERE url = original_url")
    assert same.fetchone() == (0,)


def test_articles_has_only_the_story_itself(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert warehouse.execute("SELECT url FROM articles").fetchall() == [(STORY,)]


def test_a_cluster_counts_each_member_url_once(warehouse: duckdb.DuckDBPyConnection) -> None:
    row = warehouse.execute(
        "SELECT origin_url, members, duplicates, sources FROM clusters"
    ).fetchall()
    assert row == [(STORY, 4, 3, 1)]
