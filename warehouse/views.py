"""The analytic views of the catalog, built on the `stg_<table>` views only.

`stg_<table>` (generated from `warehouse.schema` by `warehouse.catalog`) reads one table's
Parquet files and only casts; everything an analyst queries by name is defined here.

The views are returned by a function, not held in a module constant, so that mutation testing
(`make mutate`, which only mutates code inside functions) reaches them.
"""

from __future__ import annotations


def analytic_views() -> list[tuple[str, str]]:
    """(name, SELECT) of every analytic view in creation order: a view may use those above it."""
    return [
        (
            "article_versions",
            # Every stored version of every article; `is_latest` marks the one that counts.
            # A story's versions share its article_id; a copy of it under another URL with the
            # same canonical URL (tracking parameters, AMP) shares the article_id too but is a
            # duplicate with its own history, so duplicates are versioned per URL.
            """
            SELECT *,
                   row_number() OVER (
                       -- the story's own versions (NULL), and each copy URL's
                       PARTITION BY article_id, CASE WHEN duplicate_of IS NOT NULL THEN url END
                       ORDER BY version DESC, run_date DESC, fetched_at DESC, run_id DESC, url
                   ) = 1 AS is_latest
            FROM stg_articles
            """,
        ),
        (
            "articles",
            # One row per story: the latest version of each article that duplicates nothing.
            """
            SELECT * EXCLUDE (is_latest, duplicate_of, duplicate_kind)
            FROM article_versions
            WHERE is_latest AND duplicate_of IS NULL
            """,
        ),
        (
            "duplicates",
            # The latest version of each article that repeats a story, beside the original: the
            # story row of `duplicate_of` only, never another copy that shares its article_id.
            """
            SELECT d.article_id, d.source_id, d.url, d.canonical_url, d.title,
                   d.duplicate_of, d.duplicate_kind, d.similarity, d.cluster_id,
                   o.url AS original_url, o.title AS original_title,
                   o.source_id AS original_source_id,
                   d.run_id, d.run_date
            FROM article_versions AS d
            LEFT JOIN article_versions AS o
                ON o.article_id = d.duplicate_of AND o.is_latest AND o.duplicate_of IS NULL
            WHERE d.is_latest AND d.duplicate_of IS NOT NULL
            """,
        ),
        (
            "clusters",
            # One row per story: its origin (the earliest publication, which every member's
            # similarity is measured against), the wire service its copies credit, its members.
            """
            SELECT cluster_id,
                   arg_min(article_id, (duplicate_of IS NOT NULL, published_at, article_id))
                       AS origin_id,
                   arg_min(url, (duplicate_of IS NOT NULL, published_at, article_id)) AS origin_url,
                   arg_min(source_id, (duplicate_of IS NOT NULL, published_at, article_id))
                       AS origin_source_id,
                   min(published_at) AS first_published_at,
                   mode(wire_service) AS wire_service,
                   count(*) AS members,
                   count(*) FILTER (WHERE duplicate_of IS NOT NULL) AS duplicates,
                   count(DISTINCT source_id) AS sources,
                   min(similarity) AS min_similarity,
                   list(article_id ORDER BY article_id) AS article_ids
            FROM article_versions
            WHERE is_latest
            GROUP BY cluster_id
            """,
        ),
        # Entities, quotes and keywords of the latest version of each article.
        ("mentions", _of_latest_versions("stg_mentions")),
        ("quotes", _of_latest_versions("stg_quotes")),
        ("keywords", _of_latest_versions("stg_keywords")),
        # Tables an analyst reads as they are stored (the names are these constants).
        *(
            (name, f"SELECT * FROM stg_{name}")  # noqa: S608
            for name in ("fetch_log", "rejected", "dedup_signatures", "runs")
        ),
        (
            "source_stats",
            """
            WITH ids AS (
                SELECT source_id FROM stg_fetch_log
                UNION SELECT source_id FROM stg_articles
                UNION SELECT source_id FROM stg_rejected
            ),
            a AS (
                SELECT source_id,
                       count(*) FILTER (WHERE duplicate_of IS NULL) AS articles,
                       count(*) FILTER (WHERE duplicate_of IS NOT NULL) AS duplicates
                FROM article_versions WHERE is_latest GROUP BY source_id
            ),
            r AS (SELECT source_id, count(*) AS rejected FROM stg_rejected GROUP BY source_id),
            f AS (
                SELECT source_id, count(*) AS fetches, max(fetched_at) AS last_fetched_at
                FROM stg_fetch_log GROUP BY source_id
            )
            SELECT ids.source_id,
                   coalesce(a.articles, 0) AS articles,
                   coalesce(a.duplicates, 0) AS duplicates,
                   coalesce(r.rejected, 0) AS rejected,
                   coalesce(f.fetches, 0) AS fetches,
                   f.last_fetched_at
            FROM ids
            LEFT JOIN a USING (source_id)
            LEFT JOIN r USING (source_id)
            LEFT JOIN f USING (source_id)
            """,
        ),
    ]


def _of_latest_versions(table: str) -> str:
    """The rows of `table` (keyed by article and run) of each article's latest version."""
    return f"""
            SELECT t.*
            FROM {table} AS t
            SEMI JOIN (
                SELECT article_id, run_id, run_date FROM article_versions WHERE is_latest
            ) AS a USING (article_id, run_id, run_date)
            """  # noqa: S608 (the table is one of ours, never user input)
