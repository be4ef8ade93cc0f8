"""The flows on a Dask cluster, through Prefect's Dask task runner (`prefect-dask`).

Contract:
- `task_runner(settings)` is the task runner a flow is called with
  (`flows.ingest.with_task_runner`): a `DaskTaskRunner` connected to `settings.dask_address`,
  or one that starts a local cluster of `settings.dask_workers` single-threaded worker
  processes for the run (`local_cluster`, without Dask's statistical profiler); None when
  neither is set, and the flow keeps its thread runner and `flows.pipeline.cpu_pool`'s
  processes.
- Under a Dask runner the tasks a run submits run on the workers: prepare-batch (extract and
  clean in one task) and enrich-batch (`flows.stages`). Each is a pure function of its
  arguments, so when the scheduler runs one again after losing a worker the result is the
  same, and the flow takes each batch's result once. Discovery, fetching, deduplication and
  publishing stay in the flow's process: workers need no data dir, no lake access and no way
  to the sources, and the run's one fetcher fetches each host one request at a time with its
  crawl delay, however many workers there are.
- `dask_runner()` is the Dask task runner of the flow run in progress, or None.
- `warm_workers(runner, model)` makes every worker process of the cluster, present or joining
  later, load the spaCy `model` once (`flows.cluster_worker.WarmUp`), not once per task.
- `whole(items)` is a batch (pages, stories) as a task's argument that Prefect hands to the
  worker as it is, without walking it item by item looking for futures (it holds none).
- `prefect-dask` and `distributed` come with the `cluster` extra: this module imports them
  only when the settings ask for a cluster, so a single-machine install runs without them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from prefect.context import FlowRunContext
from prefect.utilities.annotations import opaque

from flows.settings import Settings

if TYPE_CHECKING:
    from prefect_dask import DaskTaskRunner

log = logging.getLogger(__name__)
T = TypeVar("T")
# The Dask configuration of the workers newsflow starts (`local_cluster`; for workers started
# with `dask worker`, DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False). No statistical
# profiler: it samples a busy worker's stack every 10 ms, and on spaCy's deep stacks that
# cost the worker about a quarter as much CPU again as its task (issue 14), on the cores the
# tasks need.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}  # set over the defaults
MISSING = "the Dask settings need the cluster extra: pip install 'newsflow[cluster]' ({error})"


def task_runner(settings: Settings) -> DaskTaskRunner | None:
    """The Dask task runner `settings` ask for, or None for the single-machine runner."""
    if not (settings.dask_address or settings.dask_workers):
        return None
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as error:
        raise RuntimeError(MISSING.format(error=error)) from None
    if settings.dask_address or not settings.dask_workers:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs=local_cluster(settings.dask_workers),
    )


def local_cluster(workers: int) -> dict[str, Any]:
    """The `distributed.LocalCluster` arguments of a local cluster of `workers` processes."""
    return {
        "n_workers": workers,
        "threads_per_worker": 1,  # spaCy and the parsers hold the GIL: processes scale
        "processes": True,
        "dashboard_address": None,
        "config": WORKER_CONFIG,  # each worker process's Dask configuration
    }


def dask_runner() -> DaskTaskRunner | None:
    """The task runner of the flow run in progress when it is a Dask one."""
    dask = sys.modules.get("prefect_dask")  # not imported: no flow can be running on Dask
    context = FlowRunContext.get()
    if dask is None or context is None:
        return None
    runner: Any = context.task_runner
    return runner if isinstance(runner, dask.DaskTaskRunner) else None


def worker_slots(runner: DaskTaskRunner) -> int:
    """How many tasks the cluster runs at once now (its workers' threads), at least one."""
    return max(1, sum(runner.client.nthreads().values()))


def warm_workers(runner: DaskTaskRunner, model: str | None) -> None:
    """Have each worker of `runner`'s cluster load `model` once (none: nothing to load)."""
    if model is None:
        return
    from flows.cluster_worker import WarmUp

    client: Any = runner.client
    client.register_plugin(WarmUp(model), name=f"newsflow-warm-up-{model}")
    log.info("Dask workers load the spaCy model %s once each", model)


class Whole(opaque):
    """Prefect's `opaque` (resolved, not walked into) that arrives on a Dask worker as it was
    sent: `opaque` itself unpickles as its value wrapped in a tuple."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return type(self), (self.unwrap(),)


def whole(items: Sequence[T]) -> Sequence[T]:
    """`items` as a task argument Prefect passes on without walking each item, in the flow's
    process as it submits and on the worker as it runs: for a batch of pages or articles,
    tens of ms of the flow's and the worker's CPU per task. The task receives `items`."""
    return cast(Sequence[T], Whole(items))
