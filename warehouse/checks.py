"""Data checks as SQL over the catalog's views: each query returns the offending rows.

Run them with `failed_checks(con)` on a connection that has the views (the catalog opened
read-only, or an in-memory DuckDB after `warehouse.catalog.create_views`). The tests run them
after every publication scenario; an empty result means the warehouse is consistent.
Reason codes and stages are held to the closed sets of `tasks.reasons`.
"""

from __future__ import annotations

import typing
from collections.abc import Collection

import duckdb

from tasks.reasons import FETCH_LOG_REASONS, REJECTED_REASONS, STAGES
from tasks.records import KeywordSource
from warehouse.catalog import quote_ident, quote_literal
from warehouse.schema import TABLES

DUPLICATE_KINDS = ("canonical_url", "exact", "near")
FETCH_PURPOSES = ("article", "feed", "sitemap", "section", "site", "robots")
PAGE_KINDS = ("article",)  # other page kinds are rejected as `not_article`


def _select(columns: str, view: str, where: str) -> str:
    # Every piece is a constant of this module or a value quoted by `quote_literal`.
    return f"SELECT {columns} FROM {view} WHERE {where}"  # noqa: S608


def _accepted(view: str, key: str, column: str, values: Collection[str]) -> str:
    allowed = ", ".join(quote_literal(v) for v in sorted(values))
    return _select(f"{key}, {column}", view, f"{column} NOT IN ({allowed})")


def _not_null_checks() -> dict[str, str]:
    checks = {}
    for table, schema in TABLES.items():
        required = [f"{quote_ident(f.name)} IS NULL" for f in schema if not f.nullable]
        required.append("run_date IS NULL")
        checks[f"{table}: required columns are set"] = _select(
            "*", quote_ident(f"stg_{table}"), " OR ".join(required)
        )
    return checks


def data_checks() -> dict[str, str]:
    """Every check by name."""
    return {
        "stg_articles: unique (article_id, version, url)": """
            SELECT article_id, version, url, count(*) AS n FROM stg_articles
            GROUP BY article_id, version, url HAVING count(*) > 1""",
        "stg_articles: one story row per (article_id, version)": """
            SELECT article_id, version, count(*) AS n FROM stg_articles
            WHERE duplicate_of IS NULL
            GROUP BY article_id, version HAVING count(*) > 1""",
        "articles: one row per article_id": """
            SELECT article_id, count(*) AS n FROM articles
            GROUP BY article_id HAVING count(*) > 1""",
        "mentions: one label per entity and per name within an article": """
            SELECT article_id, entity_id, count(DISTINCT label) AS labels FROM mentions
            WHERE entity_id IS NOT NULL
            GROUP BY article_id, entity_id HAVING count(DISTINCT label) > 1
            UNION ALL
            SELECT article_id, text, count(DISTINCT label) FROM mentions
            WHERE entity_id IS NOT NULL
            GROUP BY article_id, text HAVING count(DISTINCT label) > 1""",
        "entity_runs: one row per source and entity in a run": """
            SELECT run_id, run_date, source_id, entity_id, count(*) AS n FROM stg_entity_runs
            GROUP BY ALL HAVING count(*) > 1""",
        "runs: unique run_id per run_date": """
            SELECT run_id, run_date, count(*) AS n FROM runs
            GROUP BY run_id, run_date HAVING count(*) > 1""",
        "articles: duplicate_of set exactly when duplicate_kind is": """
            SELECT article_id FROM stg_articles
            WHERE (duplicate_of IS NULL) <> (duplicate_kind IS NULL)""",
        "articles: accepted duplicate_kind": _accepted(
            "stg_articles", "article_id", "duplicate_kind", DUPLICATE_KINDS
        ),
        "articles: accepted page_kind": _accepted(
            "stg_articles", "article_id", "page_kind", PAGE_KINDS
        ),
        "articles: similarity within [0, 1]": """
            SELECT article_id, similarity FROM stg_articles
            WHERE NOT similarity BETWEEN 0 AND 1""",
        "duplicates: the original is stored": """
            SELECT article_id, duplicate_of FROM duplicates WHERE original_url IS NULL""",
        "duplicates: one row per copy URL": """
            SELECT article_id, url, count(*) AS n FROM duplicates
            GROUP BY article_id, url HAVING count(*) > 1""",
        "duplicates: a copy is not its own original": """
            SELECT article_id, url FROM duplicates WHERE url = original_url""",
        "fetch_log: accepted purpose": _accepted("fetch_log", "url", "purpose", FETCH_PURPOSES),
        "fetch_log: accepted reason": _accepted("fetch_log", "url", "reason", FETCH_LOG_REASONS),
        "rejected: accepted stage": _accepted("rejected", "url", "stage", STAGES),
        "rejected: accepted reason": _accepted("rejected", "url", "reason", REJECTED_REASONS),
        "mentions: offsets point at the mention's text": """
            SELECT m.article_id, m.field, m.item, m.start_char, m.text
            FROM mentions AS m JOIN article_versions AS a USING (article_id, run_id, run_date)
            WHERE a.duplicate_of IS NULL
              AND substr(CASE m.field WHEN 'body' THEN a.body WHEN 'title' THEN a.title
                                      WHEN 'lead' THEN a.lead
                                      WHEN 'highlights' THEN a.highlights[m.item + 1] END,
                         m.start_char + 1, m.end_char - m.start_char) IS DISTINCT FROM m.text""",
        "quotes: offsets inside the article body": """
            SELECT q.article_id, q.start_char, q.end_char
            FROM quotes AS q JOIN article_versions AS a USING (article_id, run_id, run_date)
            WHERE a.duplicate_of IS NULL AND NOT (0 <= q.start_char AND q.start_char < q.end_char
                       AND q.end_char <= length(a.body))""",
        "source_runs: one row per run and source": """
            SELECT run_id, run_date, source_id, count(*) AS n FROM source_runs
            GROUP BY run_id, run_date, source_id HAVING count(*) > 1""",
        "source_runs: not_article and short bodies within extracted": """
            SELECT run_id, source_id, extracted, not_article, short_bodies FROM source_runs
            WHERE not_article + short_bodies > extracted""",
        "source_runs: a problem is given exactly when the source failed": """
            SELECT run_id, source_id, failed, problem FROM source_runs
            WHERE failed <> (problem IS NOT NULL)""",
        "keywords: accepted source": _accepted(
            "keywords", "article_id", "source", typing.get_args(KeywordSource)
        ),
        "keywords: one row per (article, source, normalised keyword)": """
            SELECT article_id, source, normalised, count(*) AS n FROM keywords
            GROUP BY article_id, source, normalised HAVING count(*) > 1""",
        "keywords: a score exactly on computed phrases": """
            SELECT article_id, keyword, source, score FROM keywords
            WHERE (source = 'computed') <> (score IS NOT NULL)""",
        **_not_null_checks(),
    }


def failed_checks(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    """The checks that found offending rows, with up to five of those rows each."""
    failed = {}
    for name, sql in data_checks().items():
        rows = con.execute(sql).fetchmany(5)
        if rows:
            failed[name] = rows
    return failed
