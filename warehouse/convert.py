"""Records -> Arrow tables that match `warehouse.schema` exactly.

`to_table` takes the frozen dataclasses of `tasks/records.py` or plain mappings (for rows that
combine several records, e.g. `article_row`), adds constant columns such as `run_id`, and
checks every row against the table's schema: unknown columns, missing required values and
naive datetimes are bugs and raise `SchemaError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from tasks.keywords import keyword_records
from tasks.language import enrichment_of
from tasks.records import Article, DedupDecision
from warehouse.schema import TABLES


class SchemaError(ValueError):
    """Rows do not fit the table's schema."""


def record_row(record: object, **extra: Any) -> dict[str, Any]:
    """One row as a dict: a record's fields (or a mapping's items) plus `extra` columns."""
    if is_dataclass(record) and not isinstance(record, type):
        row = {f.name: getattr(record, f.name) for f in fields(record)}
    elif isinstance(record, Mapping):
        row = dict(record)
    else:
        raise TypeError(f"expected a record dataclass or a mapping, got {type(record).__name__}")
    row.update(extra)
    return row


def word_count(body: str) -> int:
    return len(body.split())


_ARTICLE_COLUMNS = frozenset(TABLES["articles"].names)


def article_row(article: Article, decision: DedupDecision, run_id: str) -> dict[str, Any]:
    """The `articles` row of one article and where deduplication placed it.

    Decision fields without an `articles` column are not stored (the schema test names them);
    the article's `keyword_entries` are its `keywords` rows (`keyword_rows`).
    """
    row = record_row(article)
    del row["keyword_entries"]
    row.update((k, v) for k, v in record_row(decision).items() if k in _ARTICLE_COLUMNS)
    row.update(
        run_id=run_id,
        word_count=word_count(article.body),
        enrichment=enrichment_of(article.language, is_copy=decision.duplicate_of is not None),
    )
    return row


def article_rows(
    articles: Sequence[Article], decisions: Sequence[DedupDecision], run_id: str
) -> pa.Table:
    """The `articles` table of a batch: each article beside its dedup decision."""
    if len(articles) != len(decisions):
        raise ValueError(f"{len(articles)} articles but {len(decisions)} dedup decisions")
    return to_table(
        "articles",
        [article_row(a, d, run_id) for a, d in zip(articles, decisions, strict=True)],
    )


def keyword_rows(
    pairs: Sequence[tuple[Article, DedupDecision]], run_id: str
) -> pa.Table:
    """The `keywords` table of a batch: the keywords of each story (an article that duplicates
    nothing), like its mentions and quotes; a duplicate's are the story's."""
    stories = [(a, d.article_id) for a, d in pairs if d.duplicate_of is None]
    rows = [k for a, article_id in stories for k in keyword_records(article_id, a.keyword_entries)]
    source_of = {article_id: a.source_id for a, article_id in stories}
    return to_table("keywords", rows, run_id=run_id, source_of=source_of)


def to_table(
    table: str,
    rows: Iterable[object],
    *,
    source_of: Mapping[str, str] | None = None,
    **constants: Any,
) -> pa.Table:
    """Convert records or mappings into an Arrow table with `TABLES[table]` as its schema.

    `constants` are added to every row (e.g. `run_id=...`); `source_of` fills `source_id`
    from `article_id` for records that do not carry it (mentions, quotes).
    """
    try:
        schema = TABLES[table]
    except KeyError:
        raise SchemaError(f"unknown table {table!r}") from None
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for index, record in enumerate(rows):
        row = record_row(record, **constants)
        if source_of is not None and "source_id" not in row:
            row["source_id"] = source_of[row["article_id"]]
        unknown = row.keys() - columns.keys()
        if unknown:
            raise SchemaError(f"{table} row {index}: unknown columns {sorted(unknown)}")
        for name, values in columns.items():
            values.append(row.get(name))
    arrays = []
    for item in schema:
        values = columns[item.name]
        if not item.nullable and any(v is None for v in values):
            raise SchemaError(f"{table}.{item.name} is required but a row has no value")
        arrays.append(_array(table, item, values))
    return pa.Table.from_arrays(arrays, schema=schema)


def _array(table: str, item: pa.Field, values: list[Any]) -> pa.Array:
    kind = item.type
    if pa.types.is_timestamp(kind):
        values = [_utc(table, item.name, v) for v in values]
    elif pa.types.is_map(kind):
        values = [_pairs(v) for v in values]
    elif pa.types.is_list(kind):
        values = [None if v is None else list(v) for v in values]
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        raise SchemaError(f"{table}.{item.name}: {error}") from error


def _utc(table: str, column: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise SchemaError(f"{table}.{column}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SchemaError(f"{table}.{column}: naive datetime {value.isoformat()}; pass UTC")
    return value.astimezone(UTC)


def _pairs(value: object) -> list[tuple[Any, Any]] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return list(value.items())
    return [tuple(pair) for pair in value]  # type: ignore[attr-defined]
