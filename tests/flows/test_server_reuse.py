"""A command without PREFECT_API_URL reports to the server `newsflow server` started on
this machine, instead of starting a temporary one (flows.prefect_session)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prefectserver import free_port

from flows.prefect_session import SERVER_RECORD, running_server

PROBE = """
from flows.prefect_session import prefect_session
with prefect_session(5, lambda line: print("SAID", line)) as url:
    print("URL", url)
"""


def test_a_command_reports_to_the_running_newsflow_server(
    prefect_server: dict[str, str],
) -> None:
    api = prefect_server["PREFECT_API_URL"]
    home = Path(prefect_server["PREFECT_HOME"])
    assert (home / SERVER_RECORD).read_text(encoding="utf-8") == api
    env = {k: v for k, v in prefect_server.items() if k != "PREFECT_API_URL"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert f"URL {api}" in done.stdout
    assert "temporary server" not in done.stdout


def test_a_record_of_a_server_that_is_gone_is_ignored(tmp_path: Path) -> None:
    record = tmp_path / SERVER_RECORD
    assert running_server(record) is None  # no record
    record.write_text(f"http://127.0.0.1:{free_port()}/api", encoding="utf-8")
    assert running_server(record) is None  # nothing listens there
    for garbage in ("", "not a url", "http://x\x00y/api", "\udcff"):
        record.write_text(garbage, encoding="utf-8", errors="surrogateescape")
        assert running_server(record) is None


def test_a_configured_server_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_API_URL": dead}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert f"the Prefect server at PREFECT_API_URL={dead} does not answer" in done.stderr
    assert "URL " not in done.stdout
