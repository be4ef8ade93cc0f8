"""The deployments against a real Prefect server: registered as designed, and runnable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def test_served_nightly_deployment_runs_when_triggered_and_its_rows_are_queryable(
    prefect_server: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **prefect_server,
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_TIMEZONE": "Europe/London",
    }
    log = tmp_path / "serve.log"
    newsflow = Path(sys.executable).with_name("newsflow")
    with log.open("wb") as out:
        serving = subprocess.Popen(
            [str(newsflow), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path
        )
    try:
        deployment = wait_for_deployment(env, "nightly", serving, log)
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
    finally:
        stop(serving)
    catalog = tmp_path / "data" / "newsflow.duckdb"
    with duckdb.connect(str(catalog), read_only=True) as con:
        runs = con.execute("SELECT flow, run_date FROM runs").fetchall()
        fetched = con.execute("SELECT count(*) FROM fetch_log WHERE purpose = 'article'").fetchone()
    assert [(flow, str(day)) for flow, day in runs] == [("nightly-ingest", "2023-10-20")]
    assert fetched is not None
    assert fetched[0] == 6
    assert os.path.isabs(str(catalog))
