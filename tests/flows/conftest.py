"""Fixtures for flow tests: Prefect's test harness, a sample-site run, a real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefectserver import free_port, stop, wait_for


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's temporary server for the session (PREFECT_HOME is a temp dir: tests/conftest)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Prefect server on a free loopback port, started with `newsflow server --port`;
    yields the environment that targets it."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    log = home / "server.log"
    newsflow = Path(sys.executable).with_name("newsflow")  # `newsflow server` as users start it
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(newsflow), "server", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"{api}/health", 180, process, log)
        yield env
    finally:
        stop(process)
