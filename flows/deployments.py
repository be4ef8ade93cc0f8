"""Deployments of the flows, served by `newsflow serve` on a running Prefect server.

Each deployment carries a description a person can act on (what it does, when it runs, where
its work runs, how to read what it did) and a run form built from the serving machine's
sources file (`flows.parameters.fill_schema`): sources are picked by id from the ones it
defines.

A served run is a process of its own that loads its flow from the deployment's entrypoint; the
flows pick their task runner from the settings as each run starts (`flows.ingest.FromSettings`),
so a serving machine whose settings name a Dask cluster runs the CPU stages of every run it
serves there, scheduled, triggered from the UI, or a backfill's dates (`run_deployment`).
"""

from __future__ import annotations

from typing import Any, cast

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from flows.ingest import BACKFILL_DATE_FLOW, backfill, backfill_date, nightly_ingest, reprocess
from flows.parameters import fill_schema
from flows.runs import configured_sources
from flows.settings import Settings, load_settings

# A served run imports its flow from the installed package (`flows.ingest.nightly_ingest`), not
# from a file path under the serving directory: loaded from a file, the flow's module is a copy
# named `ingest`, which Dask workers cannot import when the run's tasks are sent to them.
IMPORTED = EntrypointType.MODULE_PATH
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)

_RESULTS = """\
**Reading a run.** Its state: *Completed* when every source worked, *Completed with failures*
(the state message names each failed source) when some failed, *Failed* when nothing could be
ingested. Its artifacts: `run-report` (per-source counts, rejections by reason, duplicates,
failures, and the SQL that shows the rows), `per-source-counts`, and the progress of each stage
while it works. The rows: `newsflow sql "SELECT * FROM runs ORDER BY finished_at DESC LIMIT 5"`
on the serving machine (warehouse: `{data_dir}`)."""


def schedule_text(settings: Settings) -> str:
    """When the nightly run starts, with its time zone: "cron `30 2 * * *` in Europe/Berlin"."""
    return f"cron `{settings.nightly_cron}` in {settings.timezone}"


def where_text(settings: Settings) -> str:
    """Where a served run's CPU stages run, as the serving machine's settings say."""
    if settings.dask_address:
        cpu = f"on the Dask cluster at `{settings.dask_address}` (`NEWSFLOW_DASK_ADDRESS`)"
    elif settings.dask_workers:
        cpu = (
            f"on a local Dask cluster of {settings.dask_workers} worker processes that each "
            "run starts on the serving machine (`NEWSFLOW_DASK_WORKERS`)"
        )
    else:
        cpu = (
            f"on the serving machine, in {settings.cpu_workers} processes "
            "(`NEWSFLOW_CPU_WORKERS`; `NEWSFLOW_DASK_ADDRESS` moves them to a Dask cluster)"
        )
    return (
        f"**Where:** the CPU stages (extract, clean, enrich) run {cpu}; the rest (discovery, "
        "fetching, deduplication, publishing) runs on the serving machine."
    )


def descriptions(settings: Settings) -> dict[str, str]:
    """The deployments' descriptions, as the UI shows them on each deployment's page."""
    results = _RESULTS.format(data_dir=settings.data_dir)
    sources = f"Sources are the entries of `{settings.sources_file}`."
    where = where_text(settings)
    return {
        "nightly": (
            "Fetches what every enabled source (feeds, sitemaps, section pages, sites, URL "
            "lists) published, cleans and deduplicates it, extracts entities and quotes, and "
            "publishes the date's Parquet tables and DuckDB catalog.\n\n"
            f"**When:** every night, {schedule_text(settings)} (the schedule's time zone; run "
            "dates are dates in that zone). A *Custom run* can pick sources and a date.\n\n"
            f"{sources}\n\n{where}\n\n{results}"
        ),
        "backfill": (
            "Collects a range of past dates: one `backfill-date` flow run per date, oldest "
            "first, each taking the items its sources date on that day. A failed date does "
            "not stop the others; retry it from its own flow run.\n\n**When:** on demand.\n\n"
            f"{sources}\n\n{where}\n\n{results}"
        ),
        BACKFILL_DATE_FLOW: (
            "One date of a backfill (started by the `backfill` deployment, one run per date). "
            "Retry a failed date here, or start one date by hand.\n\n**When:** on demand.\n\n"
            f"{where}\n\n{results}"
        ),
        "reprocess": (
            "Rebuilds a published date from its raw archive without fetching anything: "
            "extraction, deduplication and enrichment run again (after an upgrade, say). Pick "
            "the same sources as the run being rebuilt.\n\n**When:** on demand.\n\n"
            f"{sources}\n\n{where}\n\n{results}"
        ),
    }


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """The nightly schedule plus on-demand backfill (and its dates) and reprocess.

    One run at a time per deployment; runs of different deployments that share the
    warehouse take turns on its lock (`warehouse.lake.warehouse_run`).
    """
    about = descriptions(settings)
    slug = "nightly-" + settings.timezone.lower().replace("/", "-")
    deployments = [
        nightly_ingest.to_deployment(
            name="nightly",
            schedules=[Cron(settings.nightly_cron, timezone=settings.timezone, slug=slug)],
            concurrency_limit=ONE_AT_A_TIME,
            description=about["nightly"],
            entrypoint_type=IMPORTED,
            tags=["newsflow", "nightly", f"tz:{settings.timezone}"],
        ),
        backfill.to_deployment(
            name="backfill",
            concurrency_limit=ONE_AT_A_TIME,
            description=about["backfill"],
            entrypoint_type=IMPORTED,
            tags=["newsflow"],
        ),
        backfill_date.to_deployment(
            name=BACKFILL_DATE_FLOW,
            concurrency_limit=ONE_AT_A_TIME,
            description=about[BACKFILL_DATE_FLOW],
            entrypoint_type=IMPORTED,
            tags=["newsflow"],
        ),
        reprocess.to_deployment(
            name="reprocess",
            concurrency_limit=ONE_AT_A_TIME,
            description=about["reprocess"],
            entrypoint_type=IMPORTED,
            tags=["newsflow"],
        ),
    ]
    # `to_deployment` is sync or async depending on the caller; here it is always sync.
    assert all(isinstance(d, RunnerDeployment) for d in deployments)
    built = cast(list[RunnerDeployment], deployments)
    configured = configured_sources(settings, settings.sources_file)  # bad file: fails here
    for deployment in built:
        fill_schema(_properties(deployment), configured, settings.max_articles)
    return built


def _properties(deployment: RunnerDeployment) -> dict[str, Any]:
    # The schema Prefect derived from the flow's signature; Prefect itself edits this private
    # attribute for the same purpose (parameters a deployment fixes become read-only enums).
    return deployment._parameter_openapi_schema.properties


def serve_deployments(settings: Settings | None = None) -> None:
    """Register the deployments and run them as they are scheduled or triggered.

    `pause_on_shutdown=False`: stopping this process must not pause the nightly schedule.
    A backfill waits on its dates' runs while they run, so this process runs one run of
    each deployment at once.
    """
    settings = settings or load_settings()
    deployments = build_deployments(settings)
    serve(*deployments, pause_on_shutdown=False, limit=len(deployments))
