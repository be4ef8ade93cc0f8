"""Deployments of the flows, served by `newsflow serve` on a running Prefect server.

Each deployment carries a description a person can act on (what it does, when it runs, how
to read what it did) and a run form built from the serving machine's sources file
(`flows.parameters.fill_schema`): sources are picked by id from the ones it defines.
"""

from __future__ import annotations

from typing import Any, cast

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.ingest import BACKFILL_DATE_FLOW, backfill, backfill_date, nightly_ingest, reprocess
from flows.parameters import fill_schema
from flows.runs import configured_sources
from flows.settings import Settings, load_settings

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


def descriptions(settings: Settings) -> dict[str, str]:
    """The deployments' descriptions, as the UI shows them on each deployment's page."""
    results = _RESULTS.format(data_dir=settings.data_dir)
    sources = f"Sources are the entries of `{settings.sources_file}`."
    return {
        "nightly": (
            "Fetches what every enabled source (feeds, sitemaps, section pages, sites, URL "
            "lists) published, cleans and deduplicates it, extracts entities and quotes, and "
            "publishes the date's Parquet tables and DuckDB catalog.\n\n"
            f"**When:** every night, {schedule_text(settings)} (the schedule's time zone; run "
            "dates are dates in that zone). A *Custom run* can pick sources and a date.\n\n"
            f"{sources}\n\n{results}"
        ),
        "backfill": (
            "Collects a range of past dates: one `backfill-date` flow run per date, oldest "
            "first, each taking the items its sources date on that day. A failed date does "
            "not stop the others; retry it from its own flow run.\n\n**When:** on demand.\n\n"
            f"{sources}\n\n{results}"
        ),
        BACKFILL_DATE_FLOW: (
            "One date of a backfill (started by the `backfill` deployment, one run per date). "
            "Retry a failed date here, or start one date by hand.\n\n**When:** on demand.\n\n"
            f"{results}"
        ),
        "reprocess": (
            "Rebuilds a published date from its raw archive without fetching anything: "
            "extraction, deduplication and enrichment run again (after an upgrade, say). Pick "
            "the same sources as the run being rebuilt.\n\n**When:** on demand.\n\n"
            f"{sources}\n\n{results}"
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
            tags=["newsflow", "nightly", f"tz:{settings.timezone}"],
        ),
        backfill.to_deployment(
            name="backfill",
            concurrency_limit=ONE_AT_A_TIME,
            description=about["backfill"],
            tags=["newsflow"],
        ),
        backfill_date.to_deployment(
            name=BACKFILL_DATE_FLOW,
            concurrency_limit=ONE_AT_A_TIME,
            description=about[BACKFILL_DATE_FLOW],
            tags=["newsflow"],
        ),
        reprocess.to_deployment(
            name="reprocess",
            concurrency_limit=ONE_AT_A_TIME,
            description=about["reprocess"],
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
