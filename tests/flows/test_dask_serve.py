"""Served deployments on a Dask cluster (issue 14): `newsflow serve` on a machine whose
settings name a Dask scheduler runs the CPU stages of the runs it serves on that cluster's
workers, and without the setting runs them on the serving machine.

A real Prefect server, `newsflow serve` as a process of its own, runs triggered through the
API as the UI triggers them, and a Dask scheduler with two worker processes (`test_dask`'s
fixture). Where the tasks ran is read from the scheduler's task stream (which worker ran
which task) or from the processes' ids, not from anything newsflow logs. Without a server: a
flow on `FromSettings` runs where the settings say as each run starts, and the deployments'
descriptions say where the CPU stages run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import test_dask
from distributed import Client, get_task_stream
from flowenv import environment
from prefect import flow, task
from test_deployments import api, children, serving, wait_final, wait_for_deployment

from flows.deployments import descriptions
from flows.ingest import FromSettings
from flows.settings import load_settings

pytestmark = pytest.mark.timeout(900)

start_cluster = test_dask.start_cluster  # a scheduler and two workers, separate processes
CPU_STAGES = {"prepare_task", "enrich_task"}
FAST = {"NEWSFLOW_PER_HOST_DELAY_S": "0.05"}


def trigger(env: dict[str, str], deployment: dict, parameters: dict[str, Any]) -> dict:
    """A run of `deployment` created through the API, as the UI's Run button creates it."""
    run = api(
        env,
        "POST",
        f"/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": parameters},
    )
    assert isinstance(run, dict)
    return run


def workers_of(client: Client) -> set[str]:
    return set(client.scheduler_info()["workers"])


@pytest.mark.server
def test_served_runs_and_a_backfills_dates_run_their_cpu_stages_on_the_dask_workers(
    prefect_server: dict[str, str], start_cluster: Any, tmp_path: Path
) -> None:
    # The workers' own settings play no part: not even a value the settings refuse.
    with environment({"NEWSFLOW_BATCH_SIZE": "0"}):
        dask: test_dask.DaskCluster = start_cluster()
    env = {
        **prefect_server,
        **FAST,
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_DASK_ADDRESS": dask.address,
    }
    with serving(env, tmp_path) as (process, log), Client(dask.address) as client:
        workers = workers_of(client)
        nightly = wait_for_deployment(env, "nightly", process, log)
        backfill = wait_for_deployment(env, "backfill", process, log)
        dates = wait_for_deployment(env, "backfill-date", process, log)
        for deployment in (nightly, backfill, dates):  # the UI says where the work goes
            assert f"Dask cluster at `{dask.address}`" in deployment["description"]

        with get_task_stream(client) as served:
            run = trigger(env, nightly, {"run_date": "2023-10-20", "max_articles": 6})
            assert wait_final(env, run["id"], log)["state"]["type"] == "COMPLETED"
        # A backfill started from the UI runs each date as a run of `backfill-date`
        # (`run_deployment`): the served date's run goes to the cluster too.
        with get_task_stream(client) as backfilled:
            run = trigger(
                env, backfill, {"start": "2023-09-14", "end": "2023-09-14", "max_articles": 4}
            )
            assert wait_final(env, run["id"], log)["state"]["type"] == "COMPLETED"
            [date_run] = children(env, run["id"])
            assert date_run["deployment_id"] == dates["id"]

    for stream in (served, backfilled):
        ran = test_dask.ran_on(stream)
        assert set(ran) == CPU_STAGES, ran
        assert set().union(*ran.values()) <= workers
    runs = test_dask.sql(tmp_path / "data", "SELECT flow, run_date FROM runs ORDER BY run_date")
    assert [(flow, str(day)) for flow, day in runs] == [
        ("backfill", "2023-09-14"),
        ("nightly-ingest", "2023-10-20"),
    ]


@pytest.mark.server
def test_a_served_run_without_a_dask_setting_runs_on_the_serving_machine(
    prefect_server: dict[str, str], start_cluster: Any, tmp_path: Path
) -> None:
    dask: test_dask.DaskCluster = start_cluster()  # up, but not named by the settings
    env = {**prefect_server, **FAST, "NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    with serving(env, tmp_path) as (process, log), Client(dask.address) as client:
        nightly = wait_for_deployment(env, "nightly", process, log)
        assert "CPU stages (extract, clean, enrich) run on the serving machine" in (
            nightly["description"]
        )
        with get_task_stream(client) as stream:
            run = trigger(env, nightly, {"run_date": "2023-10-20", "max_articles": 6})
            assert wait_final(env, run["id"], log)["state"]["type"] == "COMPLETED"
    assert stream.data == []
    runs = test_dask.sql(tmp_path / "data", "SELECT flow, run_date FROM runs")
    assert [(flow, str(day)) for flow, day in runs] == [("nightly-ingest", "2023-10-20")]


@task
def pid() -> int:
    return os.getpid()


@flow(task_runner=FromSettings())
def pids() -> set[int]:
    """The processes four tasks of the run ran in."""
    return {future.result() for future in [pid.submit() for _ in range(4)]}


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


def test_a_flow_run_takes_the_runner_the_settings_name_as_it_starts(
    prefect_harness: None, start_cluster: Any
) -> None:
    dask: test_dask.DaskCluster = start_cluster()
    with Client(dask.address) as client:
        workers = set(client.run(os.getpid).values())
    with environment({"NEWSFLOW_DASK_ADDRESS": dask.address}):
        on_cluster = pids()
    assert on_cluster <= workers
    assert pids() == {os.getpid()}  # the setting gone, the next run is back on threads


def test_a_deployment_description_names_the_local_dask_cluster_the_settings_ask_for() -> None:
    about = descriptions(load_settings(dask_workers=3))
    assert all(
        "run on a local Dask cluster of 3 worker processes that each run starts" in text
        for text in about.values()
    )
