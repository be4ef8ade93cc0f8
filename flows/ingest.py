"""The Prefect flows: nightly ingest, backfill and reprocess share one code path.

The flows here are thin: they resolve parameters into a `RunPlan` and hand it to
`flows.pipeline.run_pipeline`, whose steps are Prefect tasks that call the pure stage
functions in `tasks/` in batches.

Task runners: nightly-ingest, backfill-date and reprocess take, as each of their runs starts,
the task runner the settings in force name (`FromSettings`): Prefect's Dask task runner when
they name a Dask cluster (`flows.cluster`), else threads (with `flows.pipeline.cpu_pool`'s
processes for the CPU stages). So a run that `newsflow serve` starts (a process of its own
that loads the flow from its deployment's entrypoint) runs where the serving machine's
settings say, as does a backfill's date started through its deployment. The backfill flow
itself runs no task: it waits for its dates. A caller can still pick a runner with
`with_task_runner(flow, settings)` (the CLI does): a backfill called in process runs its dates
as subflows on the backfill's runner, so they share its cluster.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from prefect import Flow, flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import deployment, flow_run
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import cluster
from flows.archives import run_with_archives
from flows.parameters import (
    BackfillDay,
    EndDate,
    MaxArticles,
    ReprocessDate,
    RunDate,
    SourceIds,
    SourcesFile,
    StartDate,
)
from flows.pipeline import FAILED, RunPlan, RunSummary
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
from flows.sources import referenced_sites
from tasks.records import RunContext, Source
from warehouse import store

COMPLETED_WITH_FAILURES = "Completed with failures"  # the state name of a partly failed run
BACKFILL_DATE_FLOW = "backfill-date"
BACKFILL_DATE_DEPLOYMENT = f"{BACKFILL_DATE_FLOW}/{BACKFILL_DATE_FLOW}"  # flow/deployment
THREADS = 8  # the thread runner's bound (Prefect's default pool is unbounded)
P = ParamSpec("P")
R = TypeVar("R")


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
    return ThreadPoolTaskRunner(max_workers=THREADS)


class FromSettings(ThreadPoolTaskRunner):
    """The task runner the settings in force name, chosen as each flow run starts.

    Prefect starts each run of a flow on `flow.task_runner.duplicate()`; this one's
    duplicate is the runner `load_settings()` asks for then (`flows.cluster.task_runner`),
    else the bounded thread runner. Nothing is read at import, and a run loaded from its
    entrypoint by a served deployment picks its runner in its own process.

    Prefect also duplicates the runner on a Dask worker, where it rebuilds the run's context
    around each task; a task submits nothing from there, so the worker gets threads and its
    own settings (which it needs none of) are not read.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=THREADS)

    def duplicate(self) -> Any:  # a DaskTaskRunner, or threads: not `Self`
        runner = None if _on_dask_worker() else cluster.task_runner(load_settings())
        return runner if runner is not None else _threads()


def _on_dask_worker() -> bool:
    distributed = sys.modules.get("distributed")  # not imported: not on a worker
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:  # "No worker found"
        return False
    return True


def _from_settings():  # untyped, as `_threads`
    return FromSettings()


def with_task_runner(chosen: Flow[P, R], settings: Settings) -> Flow[P, R]:
    """`chosen` (a flow of this module) with the task runner `settings` ask for: Prefect's
    Dask task runner when they name a Dask cluster (`flows.cluster.task_runner`), else as
    it is."""
    runner = cluster.task_runner(settings)
    if runner is None:
        return chosen
    dask: Any = runner  # a TaskRunner of Dask futures, which Prefect's generics refuse here
    return chosen.with_options(task_runner=dask)


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
def serving_sample_site(settings: Settings, sources_file: Path) -> Iterator[Settings]:
    """Serve the bundled sample site while the run works if the sources file refers to it;
    yields the settings with its hosts pinned to its servers' loopback ports.

    The sources were loaded with the outlets' base URLs (`flows.runs.selected_sources`),
    which are the URLs the site is served under, wherever its servers listen.
    """
    outlets = referenced_sites(sources_file)
    if not outlets:
        yield settings
        return
    with serve_sample_site(settings.sample_site_dir, outlets) as site:
        yield settings.model_copy(update={"pinned_hosts": {**settings.pinned_hosts, **site.pins}})


def _context(settings: Settings, run_date: date, sources: tuple[Source, ...]) -> RunContext:
    scope = run_scope(sources)
    return RunContext(
        run_id=f"{scope}@{run_date.isoformat()}",
        run_date=run_date,
        started_at=datetime.now(settings.zone),
        scope=scope,
    )


_FROZEN = False  # whether this process froze what it had loaded (`freeze_loaded_objects`)


def freeze_loaded_objects() -> None:
    """Take what the process holds before its first run (the imported modules, Prefect's and
    pyarrow's objects: hundreds of thousands) out of the garbage collector's full passes, once.

    A run over a year of history allocates enough (the verified record, the folder record, the
    lake's listing) to set off a full pass now and then, and a full pass over everything
    loaded took 0.2 s here, a seventh of a run in which nothing is new. Frozen objects are
    still freed when nothing refers to them; only a cycle among them that turns to garbage is
    never collected. Later runs of the same process (a served deployment) do not freeze again,
    so what a run leaves behind is collected as before.
    """
    global _FROZEN
    if not _FROZEN:
        gc.freeze()
        _FROZEN = True


def _execute(
    flow_name: str,
    run_date: date | None,
    ids: Sequence[str] | None,
    max_articles: int | None,
    sources_file: str | None,
    *,
    reprocess: bool = False,
    window_days: int | None = None,
) -> RunSummary:
    freeze_loaded_objects()
    settings = load_settings()
    check_data_dir(settings)
    run_date = check_run_date(run_date or today(settings), settings)
    # An s3:// warehouse: the run works in its local working copy, brought up to the store's
    # state first, and the date is published to the store once the copy holds it.
    wait_s = settings.run_lock_wait_s
    with store.working_copy(settings.store_url, settings.data_dir, wait_s) as copy:
        copy.pull()
        summary = _execute_here(
            flow_name, settings, run_date, ids, max_articles, sources_file, reprocess, window_days
        )
        copy.push(run_date, store.STEP_HOOK)
    return summary


def _execute_here(
    flow_name: str,
    settings: Settings,
    run_date: date,
    ids: Sequence[str] | None,
    max_articles: int | None,
    sources_file: str | None,
    reprocess: bool,
    window_days: int | None,
) -> RunSummary:
    path = Path(sources_file) if sources_file else settings.sources_file
    selected = selected_sources(settings, path, ids)  # a bad id or file fails before any work
    if reprocess:
        check_reprocess(settings, run_date, selected)
    with serving_sample_site(settings, path) as run_settings:
        context = _context(run_settings, run_date, selected)
        window = None
        if window_days is not None:
            start = datetime.combine(run_date, datetime.min.time(), run_settings.zone)
            window = (start, start + timedelta(days=window_days))
        plan = RunPlan(
            flow=flow_name,
            context=context,
            sources=selected,
            sources_file=str(path),
            max_articles=max_articles if max_articles is not None else run_settings.max_articles,
            window=window,
            reprocess=reprocess,
            prefect_flow_run_id=str(flow_run.get_id() or ""),
        )
        get_run_logger().info(
            "Run %s: %d sources from %s: %s",
            context.run_id,
            len(selected),
            path,
            ", ".join(s.id for s in selected),
        )
        return run_with_archives(run_settings, plan)


@flow(name="nightly-ingest", task_runner=_from_settings())
def nightly_ingest(
    run_date: RunDate = None,
    sources: SourceIds = None,
    max_articles: MaxArticles = None,
    sources_file: SourcesFile = None,
) -> State:
    """Fetch, clean, deduplicate and enrich what the sources offer, and publish it.

    Calling the flow returns the `RunSummary`; a run in which every source failed raises
    `NothingIngested` (its Prefect state is Failed), and one in which some failed ends in a
    Completed state named "Completed with failures". The parameters are described where
    their form is defined, in `flows.parameters`.
    """
    summary = _execute("nightly-ingest", run_date, sources, max_articles, sources_file)
    return final_state([summary], summary)


@flow(name=BACKFILL_DATE_FLOW, task_runner=_from_settings(), flow_run_name="backfill-{run_date}")
def backfill_date(
    run_date: BackfillDay,
    sources: SourceIds = None,
    max_articles: MaxArticles = None,
    sources_file: SourcesFile = None,
) -> State:
    """One date of a backfill: what the sources list as published on `run_date`.

    Undated items go to the first date that sees them. The date's partition is written
    exactly as a nightly run would write it, so running a date again gives the same rows.
    """
    summary = _execute(
        "backfill", run_date, sources, max_articles, sources_file, window_days=1
    )
    return final_state([summary], summary)


@flow(name="backfill", task_runner=_threads())
def backfill(
    start: StartDate,
    end: EndDate,
    sources: SourceIds = None,
    max_articles: MaxArticles = None,
    sources_file: SourcesFile = None,
) -> State:
    """Run one `backfill-date` child flow run per date from `start` to `end`, oldest first.

    Each date is a flow run of its own: it can fail, be seen and be retried alone. Started
    from its deployment, the backfill creates runs of the `backfill-date` deployment (which
    the Prefect UI can retry); called directly (the CLI), it runs them as subflows. A failed
    date does not stop the later ones. Calling the flow returns the list of `RunSummary`;
    when a date failed it raises `DatesFailed`, which holds the summaries of the others.
    """
    check_backfill(start, end, load_settings())
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    if deployment.get_id():  # started from its deployment: dates as deployment runs
        states = [_backfill_date_by_deployment(day, sources, max_articles) for day in days]
    else:
        runner = cluster.dask_runner()  # a date runs on the backfill's cluster too
        date_flow = (
            backfill_date
            if runner is None
            else backfill_date.with_options(task_runner=runner.duplicate())
        )
        states = [
            date_flow(day, sources, max_articles, sources_file, return_state=True)
            for day in days
        ]
    return backfill_state(days, states)


def _backfill_date_by_deployment(
    day: date, sources: Sequence[str] | None, max_articles: int | None
) -> State:
    parameters: dict[str, object] = {"run_date": day.isoformat()}
    if sources:
        parameters["sources"] = list(sources)
    if max_articles is not None:
        parameters["max_articles"] = max_articles
    child = run_deployment(BACKFILL_DATE_DEPLOYMENT, parameters=parameters, timeout=None)
    # Called from a sync flow, `run_deployment` returns the run (not a coroutine), and with
    # `timeout=None` only once the run is in a final state.
    assert isinstance(child, FlowRun)
    assert child.state is not None
    return child.state


class DatesFailed(RuntimeError):
    """Some dates of a backfill failed; `summaries` are the runs of the dates that worked."""

    def __init__(self, failed: Sequence[str], summaries: Sequence[RunSummary]) -> None:
        super().__init__(
            f"{len(failed)} date(s) failed: " + "; ".join(failed)
            + " (retry each from its own flow run, or backfill that date again)"
        )
        self.summaries = list(summaries)


def backfill_state(days: Sequence[date], states: Sequence[State]) -> State:
    """A backfill's state from its dates' states: Failed when a date failed (its message
    names each failed date), else as `final_state` says of the dates' summaries.

    A date's summary is known when the date ran in this process (a subflow); a date run
    by a deployment reports its state only.
    """
    summaries: list[RunSummary] = []
    failed: list[str] = []
    partly: list[str] = []
    for day, state in zip(days, states, strict=True):
        result = state.result(raise_on_failure=False) if state.data is not None else None
        if isinstance(result, NothingIngested):
            result = result.summary
        if isinstance(result, RunSummary):
            summaries.append(result)
        if not state.is_completed():
            failed.append(f"{day}: {state.name}: {_first_line(state.message)}")
        elif state.name == COMPLETED_WITH_FAILURES:
            partly.append(f"{day} {state.message}")
    if failed:
        error = DatesFailed(failed, summaries)
        return Failed(message=str(error), data=error)
    if partly and not summaries:
        return Completed(name=COMPLETED_WITH_FAILURES, message="; ".join(partly), data=[])
    return final_state(summaries, summaries)


def _first_line(text: str | None) -> str:
    return next((line for line in (text or "").splitlines() if line.strip()), "")


@flow(name="reprocess", task_runner=_from_settings())
def reprocess(
    run_date: ReprocessDate,
    sources: SourceIds = None,
    sources_file: SourcesFile = None,
) -> State:
    """Re-extract, deduplicate and enrich a date's raw archive without fetching anything.

    The sources must be those of the run being rebuilt (the same ids): the run's files are
    named after them.
    """
    summary = _execute("reprocess", run_date, sources, None, sources_file, reprocess=True)
    return final_state([summary], summary)
