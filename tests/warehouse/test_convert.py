"""Records -> Arrow: checked against the schema, times in UTC, tuples and pairs converted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tasks.records import Article, DedupDecision, FetchLogEntry, Mention, Rejected
from warehouse.convert import SchemaError, article_row, article_rows, record_row, to_table
from warehouse.schema import TABLES

PARIS = timezone(timedelta(hours=1))


def _article(**changes: object) -> Article:
    values: dict[str, object] = {
        "source_id": "s",
        "url": "http://a.test/1?utm=x",
        "final_url": "http://a.test/1",
        "canonical_url": "http://a.test/1",
        "title": "Title",
        "body": "One two three.\n\nFour five.",
        "fetched_at": datetime(2026, 11, 27, 9, 30, tzinfo=PARIS),
        "authors": ("Ann", "Bob"),
        "provenance": (("title", "jsonld"), ("published_at", "meta")),
    }
    values.update(changes)
    return Article(**values)  # type: ignore[arg-type]


DECISION = DedupDecision(
    article_id="a1",
    version=2,
    cluster_id="a0",
    duplicate_of="a0",
    duplicate_kind="near",
    similarity=0.93,
    body_hash="h1",
    version_change=0.1,
    wire_service="Reuters",
)


def test_article_row_joins_article_and_decision() -> None:
    row = article_row(_article(), DECISION, run_id="r1")
    assert row["article_id"] == "a1"
    assert row["version"] == 2
    assert row["duplicate_of"] == "a0"
    assert row["word_count"] == 5
    assert row["run_id"] == "r1"


def test_articles_table_converts_times_lists_and_provenance() -> None:
    table = article_rows([_article()], [DECISION], run_id="r1")
    assert table.schema.equals(TABLES["articles"])
    row = table.to_pylist()[0]
    assert row["fetched_at"] == datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
    assert row["authors"] == ["Ann", "Bob"]
    assert row["provenance"] == [("title", "jsonld"), ("published_at", "meta")]
    assert row["highlights"] == []
    assert row["published_at"] is None


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(SchemaError, match="naive"):
        article_rows([_article(fetched_at=datetime(2026, 11, 27, 9, 30))], [DECISION], "r1")


def test_mismatched_articles_and_decisions_are_refused() -> None:
    with pytest.raises(ValueError, match="2 articles but 1"):
        article_rows([_article(), _article()], [DECISION], "r1")


def test_unknown_column_is_refused() -> None:
    with pytest.raises(SchemaError, match="unknown columns"):
        to_table(
            "rejected",
            [Rejected("s", "http://a.test", "fetch", "http_404")],
            run_id="r",
            colour="blue",
        )


def test_missing_required_value_is_refused() -> None:
    with pytest.raises(SchemaError, match="run_id"):
        to_table("rejected", [Rejected("s", "http://a.test", "fetch", "http_404")])


def test_wrong_type_is_refused() -> None:
    with pytest.raises(SchemaError, match="start_char"):
        to_table(
            "mentions",
            [
                {
                    "article_id": "a",
                    "text": "x",
                    "label": "PERSON",
                    "start_char": "zero",
                    "end_char": 1,
                }
            ],
            run_id="r",
            source_id="s",
        )


def test_source_of_fills_source_id_from_article_id() -> None:
    table = to_table(
        "mentions",
        [Mention("a1", "Kim Jong-un", "PERSON", 0, 11), Mention("a2", "KCNA", "ORG", 3, 7)],
        run_id="r",
        source_of={"a1": "outlet-a", "a2": "outlet-b"},
    )
    assert table.column("source_id").to_pylist() == ["outlet-a", "outlet-b"]


def test_records_and_mappings_mix_in_one_table() -> None:
    entry = FetchLogEntry(
        "s",
        "http://a.test/f",
        None,
        304,
        "not_modified",
        1,
        0,
        3,
        datetime(2026, 11, 27, tzinfo=UTC),
        purpose="feed",
        etag='"e"',
    )
    table = to_table("fetch_log", [entry, record_row(entry, url="http://b.test/f")], run_id="r")
    assert table.column("url").to_pylist() == ["http://a.test/f", "http://b.test/f"]
    assert table.column("etag").to_pylist() == ['"e"', '"e"']


def test_empty_input_gives_an_empty_table_with_the_schema() -> None:
    for table in TABLES:
        converted = to_table(table, [])
        assert converted.num_rows == 0
        assert converted.schema.equals(TABLES[table])
