"""The entity views add up what each run saw: identities, speakers, how far stories spread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tasks.entities import entity_id, link_mentions, tally_entities
from tasks.records import Article, DedupDecision, Mention, Quote
from warehouse.convert import article_rows, to_table
from warehouse.lake import catalog_path
from warehouse.publish import Publication

D1, D2 = date(2026, 11, 26), date(2026, 11, 27)
PUTIN = entity_id("PERSON", "Vladimir Putin")


def _article(source: str, url: str, published: datetime) -> Article:
    return Article(
        source_id=source,
        url=url,
        final_url=url,
        canonical_url=url,
        title="Summit",
        body="Vladimir Putin spoke. Putin left.",
        fetched_at=published + timedelta(hours=1),
        published_at=published,
    )


def _decision(article_id: str, cluster: str, duplicate_of: str | None = None) -> DedupDecision:
    return DedupDecision(
        article_id=article_id,
        version=1,
        cluster_id=cluster,
        duplicate_of=duplicate_of,
        duplicate_kind="near" if duplicate_of else None,
        similarity=1.0,
        body_hash=f"h-{article_id}",
    )


def _publish(
    data_dir: Path,
    day: date,
    stories: list[tuple[str, Article]],
    copies: list[tuple[str, Article, str]],
    mentions: list[Mention],
    quotes: list[Quote],
) -> None:
    run_id = f"ingest-1@{day}"
    source_of = {aid: a.source_id for aid, a in stories}
    linked = [
        m
        for aid, _ in stories
        for m in link_mentions([x for x in mentions if x.article_id == aid])
    ]
    articles = [a for _, a in stories] + [a for _, a, _ in copies]
    decisions = [_decision(aid, aid) for aid, _ in stories] + [
        _decision(aid, of, of) for aid, _, of in copies
    ]
    with Publication(data_dir, day, "ingest-1") as publication:
        publication.write("articles", article_rows(articles, decisions, run_id))
        for table, rows in (("mentions", linked), ("quotes", quotes)):
            publication.write(table, to_table(table, rows, run_id=run_id, source_of=source_of))
        publication.write(
            "entity_runs",
            to_table("entity_runs", tally_entities(linked, source_of), run_id=run_id),
        )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    t1 = datetime(2026, 11, 26, 8, tzinfo=UTC)
    t2 = datetime(2026, 11, 27, 9, tzinfo=UTC)
    a1 = _article("courier", "https://courier.test/a1", t1)
    a2 = _article("courier", "https://courier.test/a2", t2)
    copy = _article("ledger", "https://ledger.test/copy", t1 + timedelta(hours=6))
    quote = Quote("a1", "We agreed", "Putin", 0, 9, speaker_entity_id=PUTIN)
    _publish(
        tmp_path,
        D1,
        [("a1", a1)],
        [("c1", copy, "a1")],
        [
            Mention("a1", "Vladimir Putin", "PERSON", 0, 14),
            Mention("a1", "Putin", "GPE", 22, 27),
        ],
        [quote, replace(quote, start_char=40, end_char=49)],
    )
    _publish(
        tmp_path,
        D2,
        [("a2", a2)],
        [],
        [Mention("a2", "Mr. Vladimir Putin", "PERSON", 0, 18)],
        [],
    )
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    yield con
    con.close()


def test_entities_add_up_the_runs_tallies_into_one_identity(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    rows = warehouse.execute(
        "SELECT entity_id, name, label, aliases, first_seen, last_seen, articles, mentions,"
        " outlets FROM entities"
    ).fetchall()
    assert rows == [(PUTIN, "Vladimir Putin", "PERSON", ["Putin"], D1, D2, 2, 3, 1)]


def test_every_mention_of_a_linked_name_carries_the_entity(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    rows = warehouse.execute(
        "SELECT article_id, text, label, entity_id, title FROM mentions ORDER BY article_id,"
        " start_char"
    ).fetchall()
    assert rows == [
        ("a1", "Vladimir Putin", "PERSON", PUTIN, None),
        ("a1", "Putin", "PERSON", PUTIN, None),
        ("a2", "Mr. Vladimir Putin", "PERSON", PUTIN, "Mr."),
    ]


def test_entity_daily_counts_per_day_of_publication(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT day, mentions, articles, outlets FROM entity_daily ORDER BY day"
    ).fetchall()
    assert rows == [(D1, 2, 1, 1), (D2, 1, 1, 1)]


def test_speakers_count_the_outlets_that_ran_the_quoting_story_copies_included(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    rows = warehouse.execute("SELECT entity_id, speaker, quotes, articles, outlets FROM speakers")
    # two quotes in one courier story, which the ledger ran as a copy: two outlets
    assert rows.fetchall() == [(PUTIN, "Putin", 2, 1, 2)]


def test_story_spread_gives_outlets_and_hours_between_first_and_last(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    rows = warehouse.execute(
        "SELECT cluster_id, articles, outlets, first_source_id, hours_to_spread"
        " FROM story_spread ORDER BY cluster_id"
    ).fetchall()
    assert rows == [("a1", 2, 2, "courier", 6.0), ("a2", 1, 1, "courier", 0.0)]


def test_the_quotes_view_leaves_out_titles_slogans_and_scare_quotes(tmp_path: Path) -> None:
    story = _article("courier", "https://courier.test/a9", datetime(2026, 11, 26, 8, tzinfo=UTC))
    marks = [
        Quote("a9", "We agreed", "Vladimir Putin", 0, 9, kind="direct"),
        Quote("a9", "historic", None, 20, 28, kind="partial"),
        Quote("a9", "The Road Home", None, 30, 43, kind="title"),
        Quote("a9", "No war", None, 50, 56, kind="slogan"),
        Quote("a9", "interim", None, 60, 67, kind="scare"),
    ]
    _publish(tmp_path, D1, [("a9", story)], [], [], marks)
    with duckdb.connect(str(catalog_path(tmp_path)), read_only=True) as con:
        shown = con.execute("SELECT kind FROM quotes ORDER BY start_char").fetchall()
        stored = con.execute("SELECT count(*) FROM stg_quotes").fetchall()
    assert shown == [("direct",), ("partial",)]
    assert stored == [(5,)]
