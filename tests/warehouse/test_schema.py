"""The one schema holds: records of `tasks/records.py`, Parquet files and views agree with it."""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from lakedata import publish_sample, tables

from flows.health import SourceRun
from tasks.records import (
    Article,
    DedupDecision,
    FetchLogEntry,
    Keyword,
    KeywordEntry,
    KeywordSource,
    Mention,
    Quote,
    Rejected,
)
from warehouse.catalog import build_catalog, duckdb_types
from warehouse.schema import TABLES

RECORD_TABLES = [
    (FetchLogEntry, "fetch_log"),
    (Rejected, "rejected"),
    (Article, "articles"),
    (DedupDecision, "articles"),
    (Mention, "mentions"),
    (Quote, "quotes"),
    (SourceRun, "source_runs"),
    (Keyword, "keywords"),
]
# Columns no record carries, filled where the row is assembled (warehouse.convert, the flow).
ASSEMBLED = {"run_id", "source_id", "word_count"}
# Record fields that have no column yet: each entry is a known gap, to be closed in schema.py.
NOT_STORED: set[tuple[str, str]] = set()
# Record fields that become rows of another table (whose record is in RECORD_TABLES), with the
# fields of that record they fill.
ROWS_ELSEWHERE = {
    ("Article", "keyword_entries"): (KeywordEntry, Keyword, ("keyword", "source", "score")),
}


def _compatible(hint: object, kind: pa.DataType) -> bool:
    if hint is str or typing.get_origin(hint) is typing.Literal:
        return pa.types.is_string(kind)
    if hint is bool:
        return pa.types.is_boolean(kind)
    if hint is int:
        return pa.types.is_integer(kind)
    if hint is float:
        return pa.types.is_floating(kind)
    if hint is datetime:
        return pa.types.is_timestamp(kind) and kind.tz == "UTC"  # type: ignore[attr-defined]
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if typing.get_origin(item) is tuple:
            key, value = typing.get_args(item)
            return (
                pa.types.is_map(kind)
                and _compatible(key, kind.key_type)  # type: ignore[attr-defined]
                and _compatible(value, kind.item_type)  # type: ignore[attr-defined]
            )
        return pa.types.is_list(kind) and _compatible(item, kind.value_type)  # type: ignore[attr-defined]
    return False


def _split_optional(hint: object) -> tuple[object, bool]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        return rest[0], len(rest) < len(args)
    return hint, False


@pytest.mark.parametrize(
    ("record", "table"), RECORD_TABLES, ids=lambda x: getattr(x, "__name__", x)
)
def test_record_fields_are_columns_of_their_table(record: type, table: str) -> None:
    schema = TABLES[table]
    hints = typing.get_type_hints(record)
    for item in fields(record):
        if (record.__name__, item.name) in NOT_STORED:
            assert item.name not in schema.names, f"{item.name} is stored now: drop NOT_STORED"
            continue
        if (record.__name__, item.name) in ROWS_ELSEWHERE:
            assert item.name not in schema.names, f"{item.name} is an {table} column now"
            entry, row_record, filled = ROWS_ELSEWHERE[(record.__name__, item.name)]
            assert hints[item.name] == tuple[entry, ...]  # type: ignore[valid-type]
            row_hints = typing.get_type_hints(row_record)
            assert list(typing.get_args(entry)) == [row_hints[name] for name in filled]
            continue
        assert item.name in schema.names, f"{record.__name__}.{item.name} has no {table} column"
        hint, optional = _split_optional(hints[item.name])
        column = schema.field(item.name)
        assert _compatible(hint, column.type), f"{record.__name__}.{item.name}: {column.type}"
        if optional:
            assert column.nullable, f"{record.__name__}.{item.name} may be None: {table} forbids"


@pytest.mark.parametrize(
    "table",
    ["fetch_log", "rejected", "articles", "mentions", "quotes", "keywords", "source_runs"],
)
def test_required_columns_are_filled_by_records(table: str) -> None:
    provided = set(ASSEMBLED)
    for record, target in RECORD_TABLES:
        if target == table:
            provided |= {f.name for f in fields(record)}
    required = {f.name for f in TABLES[table] if not f.nullable}
    assert required <= provided, f"nobody fills {sorted(required - provided)}"


def test_keyword_sources_are_the_documented_provenances() -> None:
    assert typing.get_args(KeywordSource) == (
        "news_sitemap",
        "meta_keywords",
        "news_keywords",
        "article_tag",
        "jsonld_keywords",
        "jsonld_about",
        "feed_category",
        "computed",
    )


def test_every_table_has_lineage_columns() -> None:
    for table, schema in TABLES.items():
        assert "run_id" in schema.names, table
        assert "run_date" not in schema.names, f"{table}: run_date lives in the path"
        if table != "runs":
            assert "source_id" in schema.names, table


def test_converted_records_have_exactly_the_schema() -> None:
    for table, converted in tables(date(2026, 11, 27), "s", "new").items():
        assert converted.schema.equals(TABLES[table]), table
        assert converted.num_rows > 0, table


@pytest.mark.parametrize("populated", [False, True], ids=["empty-lake", "published"])
def test_staging_views_have_the_schema_columns_and_types(tmp_path: Path, populated: bool) -> None:
    if populated:
        catalog = publish_sample(tmp_path, date(2026, 11, 27), "s", "new")
    else:
        catalog = build_catalog(tmp_path)
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        for table, schema in TABLES.items():
            described = con.execute(f"DESCRIBE stg_{table}").fetchall()
            assert [row[0] for row in described] == [*schema.names, "run_date"], table
            expected = {**duckdb_types(schema), "run_date": "DATE"}
            assert {row[0]: row[1] for row in described} == expected, table
    finally:
        con.close()
