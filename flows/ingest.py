"""The Prefect flows: nightly ingest, backfill and reprocess share one code path.

The flows here are thin: they resolve parameters into a `RunPlan` and hand it to
`flows.pipeline.run_pipeline`, whose steps are Prefect tasks that call the pure stage
functions in `tasks/` in batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import RunPlan, RunSummary, run_pipeline
from flows.sample_site import serve_sample_site
from flows.settings import Settings, load_settings
from flows.sources import load_sources, referenced_sites
from tasks.records import RunContext, Source


def _threads():  # untyped: Prefect's runner generics defeat inference
    """Threads for the I/O-bound tasks, bounded (Prefect's default pool is unbounded)."""
    return ThreadPoolTaskRunner(max_workers=8)


def run_scope(sources: tuple[Source, ...]) -> str:
    """The deterministic file name of a run within its date: same sources, same files."""
    ids = ",".join(sorted(source.id for source in sources))
    return "ingest-" + hashlib.sha256(ids.encode()).hexdigest()[:10]


@contextmanager
def prepared_sources(
    settings: Settings, sources_file: Path
) -> Iterator[tuple[Settings, tuple[Source, ...]]]:
    """Load the sources; serve the bundled sample site first if the file refers to it.

    The loopback allowance is widened for the sample site's own servers only.
    """
    with ExitStack() as stack:
        outlets = referenced_sites(sources_file) if sources_file.is_file() else set()
        sites: dict[str, str] = {}
        if outlets:
            site = stack.enter_context(
                serve_sample_site(
                    settings.sample_site_dir, outlets, base_port=settings.sample_site_port
                )
            )
            sites = dict(site.bases)
            settings = settings.model_copy(
                update={"allow_private_hosts": settings.allow_private_hosts | site.netlocs}
            )
        sources = tuple(s for s in load_sources(sources_file, sites=sites) if s.enabled)
        yield settings, sources


def today(settings: Settings) -> date:
    return datetime.now(settings.zone).date()


def _context(settings: Settings, run_date: date, sources: tuple[Source, ...]) -> RunContext:
    scope = run_scope(sources)
    return RunContext(
        run_id=f"{scope}@{run_date.isoformat()}",
        run_date=run_date,
        started_at=datetime.now(settings.zone),
        scope=scope,
    )


def _execute(
    flow_name: str,
    run_date: date | None,
    sources: str | None,
    max_articles: int | None,
    *,
    reprocess: bool = False,
    window_days: int | None = None,
    settings: Settings | None = None,
) -> RunSummary:
    settings = settings or load_settings()
    run_date = run_date or today(settings)
    sources_file = Path(sources) if sources else settings.sources_file
    with prepared_sources(settings, sources_file) as (run_settings, selected):
        context = _context(run_settings, run_date, selected)
        window = None
        if window_days is not None:
            start = datetime.combine(run_date, datetime.min.time(), run_settings.zone)
            window = (start, start + timedelta(days=window_days))
        plan = RunPlan(
            flow=flow_name,
            context=context,
            sources=selected,
            sources_file=str(sources_file),
            max_articles=max_articles if max_articles is not None else run_settings.max_articles,
            window=window,
            reprocess=reprocess,
            prefect_flow_run_id=str(flow_run.get_id() or ""),
        )
        get_run_logger().info(
            "Run %s: %d sources from %s", context.run_id, len(selected), sources_file
        )
        return run_pipeline(run_settings, plan)


@flow(name="nightly-ingest", task_runner=_threads())
def nightly_ingest(
    run_date: date | None = None,
    sources: str | None = None,
    max_articles: int | None = None,
) -> RunSummary:
    """Fetch, clean, deduplicate and enrich what the sources offer, and publish it.

    Args:
        run_date: logical date of the run (partition key); default today in the configured
            time zone.
        sources: path of a sources TOML file; default the configured one.
        max_articles: cap on the number of article pages fetched in this run.
    """
    return _execute("nightly-ingest", run_date, sources, max_articles)


@flow(name="backfill", task_runner=_threads())
def backfill(
    start: date, end: date, sources: str | None = None, max_articles: int | None = None
) -> list[RunSummary]:
    """Run the ingest for every date from `start` to `end` (inclusive), oldest first.

    Each date takes the discovered items dated on that day (undated items go to the first
    date that sees them) and writes its own partition, exactly as a nightly run would.
    """
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    summaries = []
    day = start
    while day <= end:
        summaries.append(_execute("backfill", day, sources, max_articles, window_days=1))
        day += timedelta(days=1)
    return summaries


@flow(name="reprocess", task_runner=_threads())
def reprocess(run_date: date, sources: str | None = None) -> RunSummary:
    """Re-extract, deduplicate and enrich a date's raw archive without fetching anything."""
    return _execute("reprocess", run_date, sources, None, reprocess=True)
