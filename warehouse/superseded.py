"""Which stored article rows are no longer the latest version, decided when a run publishes.

The rows of one *line* compete to be the latest: a story's own versions (the rows of its
`article_id` that duplicate nothing), and each copy URL's rows (a duplicate is versioned per
URL). The row that ranks first by `LATEST_ORDER` is the latest, as `warehouse.views` defined it
when every query ranked every stored row. Ranking is now done once, by the publication that
changes a line, and kept in the `superseded` table as *decisions*: a row (article_id, url,
version, run_id, row_run_date) with `superseded` true or false and a `decision` number. For each
row, the decision with the highest number counts; a row that no decision names is the latest
(the usual case: a line with one row gets none). So `articles` is the stored rows minus the
superseded ones, and a `run_date` filter on it prunes files instead of ranking the whole history.

A publication of (run_date, scope) decides every line that its new articles rows, the rows of
the file it replaces, or the decisions of the file it replaces touch, ranking the rows of every
other published file with its own new ones. It writes a decision for each row of such a line
that holds two rows or more, or that another file already has decisions for; each numbered one
above the highest decision any other file holds for the line. Every later change to a line is a
publication that touches it, so the highest decision of each row is always the one made with the
line as it stands: a rerun that drops the row which beat another (whose decision, in another
file, says superseded) outnumbers that decision with a new one. The decisions are a table of the
lake, renamed right after `articles` by the same publication (`warehouse.publish`), so a killed
publication leaves each file old or new like every other table, and rerunning the date repairs
the pair.

A lake published before decisions were kept (no `superseded` folder) gets them once, from every
line of its articles files (`legacy`), as the file `<LEGACY_SCOPE>.parquet` of its first date:
decision 1, which any later publication touching a line outnumbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.schema import TABLES

# The order in which a line's rows compete (the first is the latest), over `stg_articles`
# columns.
LATEST_ORDER = "version DESC, run_date DESC, fetched_at DESC, run_id DESC, url"


def _files(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def decide(
    run_date: date,
    staged: Path,
    replaced: Path | None,
    replaced_decisions: Path | None,
    others: Sequence[Path],
    other_decisions: Sequence[Path],
    copies: Sequence[Path] = (),
    decision_copies: Sequence[Path] = (),
) -> pa.Table:
    """The decisions a publication of `run_date` writes (the `superseded` table's rows).

    `staged` is its new articles file; `replaced` the articles file it replaces and
    `replaced_decisions` that file's decisions (None when it publishes the date first);
    `others` every other published articles file (hive paths, `run_date=` in the path) and
    `other_decisions` every other published decisions file; `copies` and `decision_copies`
    are monthly copies (`warehouse.compact`, with a `run_date` column) that stand for the
    daily files of their months, which are then left out of `others` and `other_decisions`.
    """
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        keys = "article_id, url, duplicate_of IS NOT NULL AS copy, version, run_id, source_id"
        con.execute(
            f"CREATE TEMP TABLE new AS SELECT {keys}, fetched_at, $day AS run_date "  # noqa: S608
            f"FROM read_parquet({_files([staged])})",
            {"day": run_date},
        )
        touched = [
            "SELECT article_id, CASE WHEN copy THEN url ELSE '' END AS line FROM new",
        ]
        if replaced is not None:
            touched.append(
                "SELECT article_id, CASE WHEN duplicate_of IS NOT NULL THEN url ELSE '' END "  # noqa: S608
                f"FROM read_parquet({_files([replaced])})"
            )
        if replaced_decisions is not None:
            touched.append(
                "SELECT article_id, coalesce(copy_url, '') "  # noqa: S608
                f"FROM read_parquet({_files([replaced_decisions])})"
            )
        con.execute("CREATE TEMP TABLE touched AS " + " UNION ".join(touched))
        if not con.execute("SELECT count(*) FROM touched").fetchall()[0][0]:
            return TABLES["superseded"].empty_table()
        hive = ", hive_partitioning = true, hive_types = {'run_date': DATE}"
        stored = "SELECT * FROM new"
        for files, options in ((others, hive), (copies, "")):
            if files:
                stored += (
                    f" UNION ALL SELECT {keys}, fetched_at, CAST(run_date AS DATE) "  # noqa: S608
                    f"FROM read_parquet({_files(files)}{options}) AS o SEMI JOIN touched AS t "
                    "ON t.article_id = o.article_id "
                    "AND t.line = CASE WHEN o.duplicate_of IS NOT NULL THEN o.url ELSE '' END"
                )
        prior = "SELECT NULL::VARCHAR AS article_id, NULL::VARCHAR AS line, 0 AS last WHERE false"
        decided_files = [*other_decisions, *decision_copies]
        if decided_files:
            prior = (
                "SELECT d.article_id, coalesce(d.copy_url, '') AS line, max(d.decision) AS last "  # noqa: S608
                f"FROM read_parquet({_files(decided_files)}, union_by_name = true) AS d "
                "SEMI JOIN touched AS t "
                "ON t.article_id = d.article_id AND t.line = coalesce(d.copy_url, '') "
                "GROUP BY ALL"
            )
        return _decisions(
            con,
            f"""
            WITH rows AS (
                SELECT *, CASE WHEN copy THEN url ELSE '' END AS line FROM ({stored})
            ),
            {_ranked("line")},
            prior AS ({prior})
            SELECT r.run_id, r.source_id, r.article_id,
                   CASE WHEN r.copy THEN r.url END AS copy_url, r.url, r.version,
                   r.run_date AS row_run_date, r.rank > 1 AS superseded,
                   coalesce(p.last, 0) + 1 AS decision
            FROM ranked AS r LEFT JOIN prior AS p USING (article_id, line)
            WHERE r.competing > 1 OR p.last IS NOT NULL
            ORDER BY r.article_id, r.line, r.rank
            """  # noqa: S608 (file lists and constants of this module only)
        )
    finally:
        con.close()


def _decisions(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The decisions a query on `con` makes, as the `superseded` table."""
    decided = con.sql(sql).to_arrow_table()
    if decided is None:  # a SELECT always has a result
        raise RuntimeError("DuckDB gave no result for the decisions")
    return decided.cast(TABLES["superseded"])


def _ranked(line: str) -> str:
    """The CTE `ranked`: the `rows` of each line (article_id and `line`) in `LATEST_ORDER`, with
    how many rows compete in it."""
    return f"""
            ranked AS (
                SELECT *,
                       row_number() OVER (PARTITION BY article_id, {line} ORDER BY {LATEST_ORDER})
                           AS rank,
                       count(*) OVER (PARTITION BY article_id, {line}) AS competing
                FROM rows
            )"""  # noqa: S608 (column names of this module only)


LEGACY_SCOPE = "legacy-versions"


def legacy(articles: Sequence[Path]) -> pa.Table:
    """Decisions for a lake published before decisions were kept: every line of two rows or
    more among the hive `articles` files, ranked as the views once did on every query."""
    if not articles:
        return TABLES["superseded"].empty_table()
    con = duckdb.connect()
    try:
        return _decisions(
            con,
            f"""
            WITH rows AS (
                SELECT run_id, source_id, article_id, url, version, fetched_at,
                       CAST(run_date AS DATE) AS run_date,
                       CASE WHEN duplicate_of IS NOT NULL THEN url END AS copy_url
                FROM read_parquet({_files(articles)}, hive_partitioning = true,
                                  union_by_name = true, hive_types = {{'run_date': DATE}})
            ),
            {_ranked("copy_url")}
            SELECT run_id, source_id, article_id, copy_url, url, version,
                   run_date AS row_run_date, rank > 1 AS superseded, 1 AS decision
            FROM ranked WHERE competing > 1
            ORDER BY article_id, copy_url, rank
            """  # noqa: S608 (file lists and constants of this module only)
        )
    finally:
        con.close()
