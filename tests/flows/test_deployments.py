"""The deployments against a real Prefect server: registered as designed, and runnable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
import requests
from prefectserver import stop

pytestmark = pytest.mark.server


BUSY = 503  # the server's SQLite database was locked by another writer: ask again


def api(env: dict[str, str], method: str, path: str, **kwargs: object) -> object:
    for _ in range(5):
        response = requests.request(method, env["PREFECT_API_URL"] + path, timeout=30, **kwargs)
        if response.status_code != BUSY:
            break
        time.sleep(2)
    response.raise_for_status()
    return response.json()


def prefect_cli(env: dict[str, str], *args: str) -> None:
    """Run Prefect's command line against the test server; a busy server is asked again."""
    prefect = Path(sys.executable).with_name("prefect")
    for _ in range(5):
        done = subprocess.run([str(prefect), *args], env=env, capture_output=True, timeout=120)
        if done.returncode == 0:
            return
        time.sleep(2)
    raise AssertionError(done.stdout.decode() + done.stderr.decode())


def wait_for_deployment(
    env: dict[str, str], name: str, process: subprocess.Popen[bytes], log: Path
) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"newsflow serve exited:\n{log.read_text()[-3000:]}")
        found = api(
            env, "POST", "/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}
        )
        if found:
            return found[0]  # type: ignore[index,return-value]
        time.sleep(1)
    raise TimeoutError(f"deployment {name} not registered:\n{log.read_text()[-3000:]}")


@contextmanager
def serving(env: dict[str, str], cwd: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`newsflow serve` as a process (its output in `serve.log`), stopped at the end."""
    log = cwd / "serve.log"
    newsflow = Path(sys.executable).with_name("newsflow")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(newsflow), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
    try:
        yield process, log
    finally:
        stop(process)
        # The server outlives the test: the next test's `serve` must not find these.
        for deployment in api(env, "POST", "/deployments/filter", json={}):  # type: ignore[union-attr]
            requests.delete(f"{env['PREFECT_API_URL']}/deployments/{deployment['id']}", timeout=30)


def wait_final(env: dict[str, str], run_id: str, log: Path, seconds: float = 400) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = api(env, "GET", f"/flow_runs/{run_id}")
        assert isinstance(run, dict)
        if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            return run
        time.sleep(2)
    raise TimeoutError(f"flow run {run_id} did not finish:\n{log.read_text()[-4000:]}")


def children(env: dict[str, str], parent_id: str) -> list[dict]:
    found = api(
        env,
        "POST",
        "/flow_runs/filter",
        json={"flow_runs": {"parent_flow_run_id": {"any_": [parent_id]}}},
    )
    assert isinstance(found, list)
    return sorted(found, key=lambda run: run["parameters"]["run_date"])


def test_a_backfill_from_its_deployment_runs_each_date_as_a_retryable_deployment_run(
    prefect_server: dict[str, str], tmp_path: Path
) -> None:
    env = {**prefect_server, "NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    with serving(env, tmp_path) as (process, log):
        deployment = wait_for_deployment(env, "backfill", process, log)
        wait_for_deployment(env, "backfill-date", process, log)
        # An id the sources file does not define is refused by the server, before any run.
        refused = requests.post(
            f"{env['PREFECT_API_URL']}/deployments/{deployment['id']}/create_flow_run",
            json={"parameters": {"start": "2023-09-14", "end": "2023-09-15", "sources": ["x"]}},
            timeout=30,
        )
        assert refused.status_code == 409, refused.text
        assert "x" in refused.text
        parameters = {
            "start": "2023-09-14",
            "end": "2023-09-15",
            "sources": ["daily-courier"],
            "max_articles": 3,
        }
        parent = api(
            env,
            "POST",
            f"/deployments/{deployment['id']}/create_flow_run",
            json={"parameters": parameters},
        )
        assert isinstance(parent, dict)
        assert wait_final(env, parent["id"], log)["state"]["type"] == "COMPLETED"
        dates = children(env, parent["id"])
        assert [run["parameters"]["run_date"] for run in dates] == ["2023-09-14", "2023-09-15"]
        assert all(run["deployment_id"] for run in dates)  # what the UI's Retry needs
        assert all(run["parameters"]["sources"] == ["daily-courier"] for run in dates)
        # Retry the second date as the UI's Retry button does: it runs again, alone.
        retried = dates[1]
        api(
            env,
            "POST",
            f"/flow_runs/{retried['id']}/set_state",
            json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True},
        )
        again = wait_final(env, retried["id"], log)
        assert again["state"]["type"] == "COMPLETED"
        assert again["run_count"] == 2
    with duckdb.connect(str(tmp_path / "data" / "newsflow.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT run_date, sources FROM runs ORDER BY run_date").fetchall()
    assert [(str(d), s) for d, s in runs] == [
        ("2023-09-14", ["daily-courier"]),
        ("2023-09-15", ["daily-courier"]),
    ]


def test_served_nightly_deployment_runs_when_triggered_and_its_rows_are_queryable(
    prefect_server: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **prefect_server,
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_TIMEZONE": "Europe/London",
    }
    with serving(env, tmp_path) as (process, log):
        deployment = wait_for_deployment(env, "nightly", process, log)
        schedule = deployment["schedules"][0]["schedule"]
        assert schedule["cron"] == "30 2 * * *"
        assert schedule["timezone"] == "Europe/London"
        assert (
            deployment["concurrency_limit"] == 1
            or (deployment.get("global_concurrency_limit", {}) or {}).get("limit") == 1
        )
        properties = deployment["parameter_openapi_schema"]["properties"]
        assert set(properties) == {"run_date", "sources", "max_articles"}
        assert "date" in str(properties["run_date"])

        # Triggered the way an operator would, with Prefect's own command line.
        prefect_cli(
            env,
            "deployment",
            "run",
            "nightly-ingest/nightly",
            "-p",
            "run_date=2023-10-20",
            "-p",
            "max_articles=6",
        )
        runs = api(
            env,
            "POST",
            "/flow_runs/filter",
            json={"deployments": {"id": {"any_": [deployment["id"]]}}},
        )
        assert isinstance(runs, list)
        # the server's scheduler may also have queued the nightly runs of the coming days
        triggered = [r for r in runs if not r.get("auto_scheduled")]
        assert len(triggered) == 1
        run = triggered[0]
        assert run["parameters"] == {"run_date": "2023-10-20", "max_articles": 6}
        deadline = time.monotonic() + 300
        state = None
        while time.monotonic() < deadline:
            state = api(env, "GET", f"/flow_runs/{run['id']}")["state"]["type"]  # type: ignore[index]
            if state in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
                break
            time.sleep(2)
        assert state == "COMPLETED", log.read_text()[-4000:]
    catalog = tmp_path / "data" / "newsflow.duckdb"
    with duckdb.connect(str(catalog), read_only=True) as con:
        runs = con.execute("SELECT flow, run_date FROM runs").fetchall()
        fetched = con.execute("SELECT count(*) FROM fetch_log WHERE purpose = 'article'").fetchone()
    assert [(flow, str(day)) for flow, day in runs] == [("nightly-ingest", "2023-10-20")]
    assert fetched is not None
    assert fetched[0] == 6
    assert os.path.isabs(str(catalog))
