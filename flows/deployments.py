"""Deployments of the flows, served by `newsflow serve` on a running Prefect server."""

from __future__ import annotations

from typing import cast

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from flows.ingest import backfill, nightly_ingest, reprocess
from flows.settings import Settings, load_settings

ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def build_deployments(settings: Settings) -> list[RunnerDeployment]:
    """The nightly schedule plus on-demand backfill and reprocess, one run at a time each."""
    deployments = [
        nightly_ingest.to_deployment(
            name="nightly",
            schedules=[Cron(settings.nightly_cron, timezone=settings.timezone)],
            concurrency_limit=ONE_AT_A_TIME,
            description="Nightly ingestion of every enabled source into the warehouse.",
            tags=["newsflow", "nightly"],
        ),
        backfill.to_deployment(
            name="backfill",
            concurrency_limit=ONE_AT_A_TIME,
            description="Run the ingest for each date of a range.",
            tags=["newsflow"],
        ),
        reprocess.to_deployment(
            name="reprocess",
            concurrency_limit=ONE_AT_A_TIME,
            description="Re-extract one date from the raw archive without fetching.",
            tags=["newsflow"],
        ),
    ]
    # `to_deployment` is sync or async depending on the caller; here it is always sync.
    assert all(isinstance(d, RunnerDeployment) for d in deployments)
    return cast(list[RunnerDeployment], deployments)


def serve_deployments(settings: Settings | None = None) -> None:
    """Register the deployments and run them as they are scheduled or triggered.

    `pause_on_shutdown=False`: stopping this process must not pause the nightly schedule.
    """
    settings = settings or load_settings()
    serve(*build_deployments(settings), pause_on_shutdown=False, limit=1)
