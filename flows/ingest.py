"""The Prefect flows: nightly ingest, backfill and reprocess share one code path.

The flows here are thin: they resolve parameters into a `RunPlan` and hand it to
`flows.pipeline.run_pipeline`, whose steps are Prefect tasks that call the pure stage
functions in `tasks/` in batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.pipeline import FAILED, RunPlan, RunSummary, run_pipeline
from flows.runs import (
    check_backfill,
    check_data_dir,
    check_reprocess,
    check_run_date,
    run_scope,
    selected_sources,
    today,
)
from flows.sample_site import serve_sample_site
from flows.settings import Settings, load_settings
from flows.sources import load_sources, referenced_sites
from tasks.records import RunContext, Source

COMPLETED_WITH_FAILURES = "Completed with failures"  # the state name of a partly failed run


class NothingIngested(RuntimeError):
    """Every source of a run failed: the run's Prefect state is Failed. The run's own rows
    (what failed and why) are published all the same; `summary` says what they hold."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(
            f"run {summary.run_id}: every source failed: " + "; ".join(summary.failures)
        )
        self.summary = summary


def _threads():  # untyped: Prefect's runner generics defeat inference
    """Threads for the I/O-bound tasks, bounded (Prefect's default pool is unbounded)."""
    return ThreadPoolTaskRunner(max_workers=8)


def final_state(summaries: list[RunSummary], data: object) -> State:
    """The Prefect state a run ends in, so that people who alert on states see failures.

    Completed when every source worked; "Completed with failures" (a Completed state of its
    own name, with the failures as its message) when some failed; Failed when every source
    of a date failed, so that nothing could be ingested. `data` is what calling the flow
    returns when it did not fail.
    """
    nothing = [s for s in summaries if s.status == FAILED]
    if nothing:
        return Failed(message=str(NothingIngested(nothing[0])), data=NothingIngested(nothing[0]))
    failures = [f"{s.run_date} {f}" for s in summaries for f in s.failures]
    if failures:
        return Completed(name=COMPLETED_WITH_FAILURES, message="; ".join(failures), data=data)
    return Completed(data=data)


@contextmanager
def prepared_sources(
    settings: Settings, sources_file: Path
) -> Iterator[tuple[Settings, tuple[Source, ...]]]:
    """Load the sources; serve the bundled sample site first if the file refers to it.

    The sample site's hosts are pinned to its servers' loopback ports for this run only.
    """
    with ExitStack() as stack:
        outlets = referenced_sites(sources_file) if sources_file.is_file() else set()
        sites: dict[str, str] = {}
        if outlets:
            site = stack.enter_context(serve_sample_site(settings.sample_site_dir, outlets))
            sites = dict(site.bases)
            settings = settings.model_copy(
                update={"pinned_hosts": {**settings.pinned_hosts, **site.pins}}
            )
        sources = tuple(s for s in load_sources(sources_file, sites=sites) if s.enabled)
        yield settings, sources


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
) -> RunSummary:
    settings = load_settings()
    check_data_dir(settings)
    run_date = check_run_date(run_date or today(settings), settings)
    sources_file = Path(sources) if sources else settings.sources_file
    if reprocess:
        check_reprocess(settings, run_date, selected_sources(settings, sources_file))
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
) -> State:
    """Fetch, clean, deduplicate and enrich what the sources offer, and publish it.

    Calling the flow returns the `RunSummary`; a run in which every source failed raises
    `NothingIngested` (its Prefect state is Failed), and one in which some failed ends in a
    Completed state named "Completed with failures".

    Args:
        run_date: logical date of the run (partition key); default today in the configured
            time zone; never after today.
        sources: path of a sources TOML file; default the configured one.
        max_articles: cap on the number of article pages fetched in this run.
    """
    summary = _execute("nightly-ingest", run_date, sources, max_articles)
    return final_state([summary], summary)


@flow(name="backfill", task_runner=_threads())
def backfill(
    start: date, end: date, sources: str | None = None, max_articles: int | None = None
) -> State:
    """Run the ingest for every date from `start` to `end` (inclusive), oldest first.

    Each date takes the discovered items dated on that day (undated items go to the first
    date that sees them) and writes its own partition, exactly as a nightly run would.
    Calling the flow returns the list of `RunSummary`, one per date.
    """
    check_backfill(start, end, load_settings())
    summaries = []
    day = start
    while day <= end:
        summaries.append(_execute("backfill", day, sources, max_articles, window_days=1))
        day += timedelta(days=1)
    return final_state(summaries, summaries)


@flow(name="reprocess", task_runner=_threads())
def reprocess(run_date: date, sources: str | None = None) -> State:
    """Re-extract, deduplicate and enrich a date's raw archive without fetching anything."""
    summary = _execute("reprocess", run_date, sources, None, reprocess=True)
    return final_state([summary], summary)
