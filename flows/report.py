"""What a run shows in the Prefect UI: progress while it works, a report once it is published.

Progress: one Prefect progress artifact per stage that works in batches (fetch, extract,
enrich), created at 0 when the stage starts, updated as each batch finishes and at 100 when the
stage ends; its description reads "fetch: N of M URLs" (extract counts URLs too: each one
fetched, or not, has passed extraction; enrich counts the run's stories). Progress artifacts
have no key: find them by the flow run. A progress call that Prefect refuses or cannot take
(an httpx error, an error status) is logged and the run goes on: showing progress never fails
a run.

Report (`publish_report`, after publication): the markdown artifact `run-report` (status,
per-source counts with a bar each, rejections by reason, duplicates, failures, health
problems if any, what home pages led to, rows written, and the `newsflow sql` commands that
show the run's rows); the table `per-source-counts`; and the table `articles-per-source`:
the stories each source added on each of the last `HISTORY_RUNS` run dates, read back from the
warehouse (one row per run date, oldest first; a column per source). The caller decides what
a failure to report means (`flows.pipeline._report` logs it: the data is already safe).
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import httpx
from prefect import get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.exceptions import MissingContextError, PrefectHTTPStatusError

from tasks.reasons import SUCCESS
from warehouse import query
from warehouse.catalog import quote_literal

if TYPE_CHECKING:
    from flows.pipeline import RunSummary

logger = logging.getLogger(__name__)

HISTORY_RUNS = 30  # run dates in the `articles-per-source` chart
BAR_WIDTH = 20  # characters of the longest bar in the run report
PREFECT_ERRORS = (httpx.HTTPError, PrefectHTTPStatusError)


# ---------------------------------------------------------------- progress


@dataclass(frozen=True, slots=True)
class Progress:
    """One stage's progress artifact (`artifact_id` None: Prefect did not take it)."""

    stage: str
    total: int
    unit: str
    artifact_id: UUID | None


def start_progress(stage: str, total: int, unit: str) -> Progress:
    """A progress artifact at 0 for a stage about to work through `total` `unit`."""
    try:
        created = create_progress_artifact(0.0, description=_described(stage, 0, total, unit))
    except PREFECT_ERRORS as error:
        _run_logger().warning("Prefect did not take the %s progress: %s", stage, error)
        return Progress(stage, total, unit, None)
    return Progress(stage, total, unit, cast(UUID, created))  # called sync: no coroutine


def show_progress(progress: Progress, done: int) -> None:
    """Say that `done` of the stage's `total` are through (100 when all are)."""
    if progress.artifact_id is None:
        return
    share = 100.0 if progress.total == 0 else min(100.0, 100.0 * done / progress.total)
    description = _described(progress.stage, done, progress.total, progress.unit)
    try:
        update_progress_artifact(progress.artifact_id, share, description=description)
    except PREFECT_ERRORS as error:
        _run_logger().warning("Prefect did not take the %s progress: %s", progress.stage, error)


def _described(stage: str, done: int, total: int, unit: str) -> str:
    return f"{stage}: {done} of {total} {unit}"


def _run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:  # called outside a flow run
        return logger


# ---------------------------------------------------------------- the report


def publish_report(summary: RunSummary, problems: Sequence[str] = ()) -> None:
    """The run's artifacts; `problems` are source health problems to list (none: no section).

    Raises what the Prefect client raises (see the module docstring).
    """
    history = query.articles_per_source(Path(summary.data_dir), HISTORY_RUNS)
    description = f"Run {summary.run_id}"
    create_table_artifact(
        per_source_rows(summary), key="per-source-counts", description=description
    )
    create_markdown_artifact(
        run_report(summary, problems),
        key="run-report",
        description=f"{description}: {summary.status}",
    )
    create_table_artifact(
        chart_rows(history),
        key="articles-per-source",
        description=f"Stories per source on each of the last {HISTORY_RUNS} run dates",
    )


def per_source_rows(summary: RunSummary) -> list[dict[str, Any]]:
    return [
        {
            "source": c.source_id,
            "discovered": c.discovered,
            "fetched": c.fetched,
            "new": c.new,
            "duplicate": c.duplicate,
            "rejected": sum(c.rejected.values()),
            "rejected by reason": ", ".join(f"{k}={v}" for k, v in c.rejected.items()) or "-",
        }
        for c in summary.per_source
    ]


def chart_rows(history: Sequence[tuple[date, str, int]]) -> list[dict[str, Any]]:
    """`(run date, source, stories)` as one row per run date, oldest first, a column per
    source (0 where a run covered a source that gave nothing)."""
    sources = sorted({source for _, source, _ in history})
    by_date: dict[date, dict[str, int]] = {}
    for day, source, stories in history:
        by_date.setdefault(day, dict.fromkeys(sources, 0))[source] = stories
    return [{"run date": day.isoformat(), **counts} for day, counts in sorted(by_date.items())]


def run_report(summary: RunSummary, problems: Sequence[str] = ()) -> str:
    """The `run-report` markdown."""
    sections = [
        f"# newsflow run `{summary.run_id}`\n\n- run date: {summary.run_date}\n"
        f"- status: **{summary.status}**\n- catalog: `{summary.catalog}`",
        "## Articles per source\n\n" + _counts_table(summary),
        "## Rejections by reason\n\n" + _reasons_table(summary),
        "## Duplicates\n\n" + _duplicates(summary),
        "## Failures\n\n" + _bullets(summary.failures),
    ]
    if problems:
        sections.append("## Source health\n\n" + _bullets(problems))
    sections += [
        "## Found from home pages (sources of kind site)\n\n" + _bullets(summary.found),
        "## Rows written\n\n| table | rows |\n|---|---:|\n"
        + "\n".join(f"| {t} | {n} |" for t, n in sorted(summary.rows_written.items())),
        "## See the rows\n\n" + _sql_commands(summary),
    ]
    return "\n\n".join(sections) + "\n"


def _counts_table(summary: RunSummary) -> str:
    most = max((c.new for c in summary.per_source), default=0)
    rows = [
        "| source | discovered | fetched | new | duplicate | rejected | new articles |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in summary.per_source:
        bar = "█" * round(BAR_WIDTH * c.new / most) if most else ""
        rows.append(
            f"| {c.source_id} | {c.discovered} | {c.fetched} | {c.new} | {c.duplicate} "
            f"| {sum(c.rejected.values())} | {bar} |"
        )
    return "\n".join(rows)


def _reasons_table(summary: RunSummary) -> str:
    rows = [
        f"| {c.source_id} | {reason} | {n} |"
        for c in summary.per_source
        for reason, n in c.rejected.items()
    ]
    if not rows:
        return "No URL was rejected."
    return "| source | reason | URLs |\n|---|---|---:|\n" + "\n".join(rows)


def _duplicates(summary: RunSummary) -> str:
    total = sum(c.duplicate for c in summary.per_source)
    stored = total + sum(c.new for c in summary.per_source)
    by_source = ", ".join(f"{c.source_id} {c.duplicate}" for c in summary.per_source if c.duplicate)
    line = f"{total} of the {stored} articles stored repeat a story"
    return f"{line} ({by_source})." if by_source else f"{line}."


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) or "none"


def sql_queries(run_id: str) -> Mapping[str, str]:
    """What to ask the warehouse for the run's rows, by what they show."""
    # Formatted SQL (S608): the run id is quoted as a literal, the rest is ours.
    run = f"WHERE run_id = {quote_literal(run_id)}"
    answered = ", ".join(quote_literal(reason) for reason in sorted(SUCCESS))
    return {
        "articles": f"SELECT source_id, title, url FROM article_versions {run}"  # noqa: S608
        " AND duplicate_of IS NULL ORDER BY source_id, url",
        "rejected": f"SELECT source_id, stage, reason, url, detail FROM rejected {run}"  # noqa: S608
        " ORDER BY source_id, stage, reason, url",
        "duplicates": "SELECT source_id, url, duplicate_kind, original_url"  # noqa: S608
        f" FROM duplicates {run} ORDER BY source_id, url",
        "failed requests": "SELECT source_id, purpose, url, status, reason"  # noqa: S608
        f" FROM fetch_log {run} AND purpose <> 'robots' AND reason NOT IN ({answered})"
        " ORDER BY source_id, url",
    }


def _sql_commands(summary: RunSummary) -> str:
    cli = f"newsflow --data-dir {shlex.quote(summary.data_dir)} sql"
    commands = [f'# {what}\n{cli} "{sql}"' for what, sql in sql_queries(summary.run_id).items()]
    return "```sh\n" + "\n".join(commands) + "\n```"
