"""The analytic views of the catalog, built on the `stg_<table>` views only.

`stg_<table>` (generated from `warehouse.schema` by `warehouse.catalog`) reads one table's
Parquet files and only casts; everything an analyst queries by name is defined here.

The views are returned by a function, not held in a module constant, so that mutation testing
(`make mutate`, which only mutates code inside functions) reaches them.
"""

from __future__ import annotations

# `source_health`: the runs before a source's latest one that its latest share of not_article
# pages and short bodies is measured against, and the fewest pages a latest run must have
# extracted for that share to say anything.
HEALTH_HISTORY_RUNS = 7
DRIFT_MIN_PAGES = 3


def analytic_views() -> list[tuple[str, str]]:
    """(name, SELECT) of every analytic view in creation order: a view may use those above it."""
    return [
        (
            "superseded_versions",
            # The stored article rows that another row of their line outranks, as the last
            # publication that changed the line decided (`warehouse.superseded`).
            """
            SELECT article_id, url, version, run_id, row_run_date AS run_date
            FROM stg_superseded
            GROUP BY article_id, url, version, run_id, row_run_date
            HAVING arg_max(superseded, decision)
            """,
        ),
        (
            "article_versions",
            # Every stored version of every article; `is_latest` marks the one that counts.
            # A story's versions share its article_id; a copy of it under another URL with the
            # same canonical URL (tracking parameters, AMP) shares the article_id too but is a
            # duplicate with its own history, so duplicates are versioned per URL. Which row
            # is the latest is decided when a run publishes (`warehouse.superseded`), so a
            # filter on run_date or url reads only the files it needs.
            """
            SELECT a.*, s.article_id IS NULL AS is_latest
            FROM stg_articles AS a
            LEFT JOIN superseded_versions AS s
                ON s.article_id = a.article_id AND s.url = a.url AND s.version = a.version
                AND s.run_id = a.run_id AND s.run_date = a.run_date
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
        # Quotations only: what the marks hold when they hold a title, a slogan or the
        # writer's scare quotes stays in stg_quotes (`tasks.quotes.NOT_QUOTES`).
        ("quotes", _of_latest_versions("stg_quotes") + " WHERE t.kind IN ('direct', 'partial')"),
        (
            "entities",
            # Every entity the runs have seen (`tasks.entities`): the runs' own tallies added
            # up. `articles` counts article versions (an article updated later counts again).
            """
            WITH seen AS (
                SELECT entity_id,
                       arg_max(entity_name, articles) AS name,
                       arg_max(label, articles) AS label,
                       flatten(list(aliases || [entity_name])) AS spellings,
                       min(run_date) AS first_seen, max(run_date) AS last_seen,
                       sum(articles) AS articles, sum(mentions) AS mentions,
                       count(DISTINCT source_id) AS outlets
                FROM stg_entity_runs GROUP BY entity_id
            )
            SELECT entity_id, name, label,
                   list_sort(list_distinct(list_filter(spellings, lambda x: x <> name))) AS aliases,
                   first_seen, last_seen, articles, mentions, outlets
            FROM seen
            """,
        ),
        (
            "entity_daily",
            # Mentions, articles and outlets per entity per day of publication (else the day
            # the run collected the article).
            """
            SELECT m.entity_id, any_value(m.entity_name) AS name, any_value(m.label) AS label,
                   coalesce(CAST(a.published_at AS DATE), a.run_date) AS day,
                   count(*) AS mentions,
                   count(DISTINCT m.article_id) AS articles,
                   count(DISTINCT m.source_id) AS outlets
            FROM mentions AS m JOIN articles AS a USING (article_id)
            WHERE m.entity_id IS NOT NULL
            GROUP BY m.entity_id, day
            """,
        ),
        (
            "speakers",
            # Quotes per speaker entity; `outlets` counts every outlet that ran the quoting
            # story, syndicated copies included (they share its cluster).
            """
            WITH q AS (
                SELECT q.speaker_entity_id AS entity_id, q.speaker, q.article_id, a.cluster_id,
                       a.published_at
                FROM quotes AS q JOIN articles AS a USING (article_id)
                WHERE q.speaker_entity_id IS NOT NULL
            ),
            spread AS (
                SELECT cluster_id, count(DISTINCT source_id) AS outlets,
                       list(DISTINCT source_id) AS outlet_ids
                FROM article_versions WHERE is_latest GROUP BY cluster_id
            )
            SELECT q.entity_id, mode(q.speaker) AS speaker, count(*) AS quotes,
                   count(DISTINCT q.article_id) AS articles,
                   list_count(list_distinct(flatten(list(s.outlet_ids)))) AS outlets,
                   min(q.published_at) AS first_quoted_at, max(q.published_at) AS last_quoted_at
            FROM q LEFT JOIN spread AS s USING (cluster_id)
            GROUP BY q.entity_id
            """,
        ),
        # How far and how fast each story travelled (kept at publication: `warehouse.spread`).
        ("story_spread", story_spread_sql()),
        ("keywords", _of_latest_versions("stg_keywords")),
        # Tables an analyst reads as they are stored (the names are these constants).
        *(
            (name, f"SELECT * FROM stg_{name}")  # noqa: S608
            for name in ("fetch_log", "rejected", "dedup_signatures", "runs", "source_runs")
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
        ("source_health", _source_health()),
        (
            "archive_files",
            # One row per WARC file an archive source read on a date: what it held, what was
            # lost in damaged stretches, and why a file gave nothing.
            "SELECT * FROM stg_archive_files",
        ),
    ]


def story_spread_sql() -> str:
    """How far and how fast each story travelled: outlets that ran it (copies included), first
    and last publication, and the hours between them. The catalog reads it from the summary a
    publication keeps (`warehouse.spread`) while that holds, this aggregation otherwise: one
    definition for both."""
    return """
            SELECT cluster_id,
                   count(*) AS articles,
                   count(DISTINCT source_id) AS outlets,
                   arg_min(source_id, published_at) AS first_source_id,
                   min(published_at) AS first_published_at,
                   max(published_at) AS last_published_at,
                   date_diff('second', min(published_at), max(published_at)) / 3600.0
                       AS hours_to_spread
            FROM article_versions
            WHERE is_latest
            GROUP BY cluster_id
            """


def _source_health() -> str:
    """One row per source that has a `source_runs` row: how it stands after its latest run.

    A source's runs are counted by run date: of several runs of one source on one date (a
    rerun, a run of another set of sources) the one that finished last counts, as a rerun
    replaces a date. `days_silent` is counted from the run date of its last stored article
    (or of its first run, if it never had one) to the latest run date in the warehouse, so
    the answer depends on the data only, never on the clock. `latest_share` is the share of
    the latest run's extracted pages that were `not_article` or had a short body;
    `history_share` the same over the HEALTH_HISTORY_RUNS runs before it, pooled. `problem`
    names the first that holds of: `failing` (the latest run failed), `drifted` (the latest
    run extracted DRIFT_MIN_PAGES pages or more and its share exceeds the history's by
    `drift_share` or more) and `silent` (`days_silent` reached `silent_after_days`); the
    thresholds are those the source's latest run recorded.
    """
    return f"""
            WITH per_date AS (
                SELECT * FROM stg_source_runs
                QUALIFY row_number() OVER (
                    PARTITION BY source_id, run_date ORDER BY finished_at DESC, run_id DESC
                ) = 1
            ),
            aged AS (
                SELECT *,
                       row_number() OVER (PARTITION BY source_id ORDER BY run_date DESC) AS age,
                       CAST(not_article + short_bodies AS DOUBLE) / nullif(extracted, 0)
                           AS share
                FROM per_date
            ),
            history AS (
                SELECT source_id,
                       CAST(sum(not_article + short_bodies) AS DOUBLE)
                           / nullif(sum(extracted), 0) AS history_share,
                       count(*) FILTER (WHERE extracted > 0) AS history_runs
                FROM aged WHERE age BETWEEN 2 AND {HEALTH_HISTORY_RUNS + 1}
                GROUP BY source_id
            ),
            streak AS (
                SELECT source_id,
                       coalesce(min(age) FILTER (WHERE NOT failed) - 1, count(*))
                           AS failures_in_a_row,
                       min(run_date) AS first_run_date
                FROM aged GROUP BY source_id
            ),
            seen AS (
                SELECT source_id,
                       max(run_date) AS last_article_run_date,
                       arg_max(fetched_at, (run_date, fetched_at)) AS last_article_at
                FROM stg_articles GROUP BY source_id
            ),
            health AS (
                SELECT l.source_id,
                       l.run_date AS latest_run_date,
                       l.run_id AS latest_run_id,
                       seen.last_article_at,
                       seen.last_article_run_date,
                       greatest(date_diff(
                           'day',
                           coalesce(seen.last_article_run_date, streak.first_run_date),
                           (SELECT max(run_date) FROM per_date)
                       ), 0) AS days_silent,
                       l.silent_after_days,
                       l.extracted AS latest_pages,
                       l.share AS latest_share,
                       history.history_share,
                       coalesce(history.history_runs, 0) AS history_runs,
                       l.drift_share,
                       streak.failures_in_a_row
                FROM aged AS l
                JOIN streak USING (source_id)
                LEFT JOIN history USING (source_id)
                LEFT JOIN seen USING (source_id)
                WHERE l.age = 1
            )
            SELECT *,
                   CASE
                       WHEN failures_in_a_row > 0 THEN 'failing'
                       WHEN latest_pages >= {DRIFT_MIN_PAGES}
                            -- rounded: 0.6 - 0.3 is not below a drift_share of 0.3
                            AND round(latest_share - history_share, 9) >= drift_share
                           THEN 'drifted'
                       WHEN days_silent >= silent_after_days THEN 'silent'
                   END AS problem
            FROM health
            """  # noqa: S608 (constants of this module only)


def _of_latest_versions(table: str) -> str:
    """The rows of `table` (keyed by article and run) of each article's latest version."""
    # An inner join on distinct keys rather than a semi join: DuckDB carries a filter on the
    # run_date of `table` over to the articles side of an inner join only, so a query of a
    # few dates reads only their files on both sides.
    return f"""
            SELECT t.*
            FROM {table} AS t
            JOIN (
                SELECT DISTINCT article_id, run_id, run_date FROM article_versions WHERE is_latest
            ) AS a USING (article_id, run_id, run_date)
            """  # noqa: S608 (the table is one of ours, never user input)
