"""One run at a time per data dir: a second run waits with a message, then refuses clearly."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from lakedata import script_env

from warehouse.lake import WarehouseBusy, warehouse_run

HOLD = """
import sys
from pathlib import Path
from warehouse.lake import warehouse_run
with warehouse_run(Path(sys.argv[1]), "ingest-a@2026-11-27", wait_s=0):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the warehouse until it reads a line (or is killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=script_env(),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_second_run_is_refused_after_its_wait_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    told: list[str] = []
    with (
        pytest.raises(WarehouseBusy, match=rf"ingest-a@2026-11-27 \(pid {holder.pid}\)"),
        warehouse_run(tmp_path, "ingest-b@2026-11-28", wait_s=0.3, on_wait=told.append),
    ):
        pytest.fail("the warehouse was entered while another run held it")
    assert len(told) == 1
    assert "ingest-a@2026-11-27" in told[0]


def test_a_second_run_waits_and_goes_on_when_the_first_is_done(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    told: list[str] = []
    assert holder.stdin is not None
    stdin = holder.stdin
    release = threading.Timer(1.0, lambda: (stdin.write("done\n"), stdin.flush()))
    release.start()
    try:
        with warehouse_run(tmp_path, "ingest-b@2026-11-28", wait_s=60, on_wait=told.append):
            assert holder.wait(timeout=10) == 0  # entered only once the holder had finished
    finally:
        release.cancel()
    assert len(told) == 1


def test_a_killed_holder_frees_the_warehouse(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.kill()
    holder.wait()
    with warehouse_run(tmp_path, "ingest-b@2026-11-28", wait_s=0):
        pass


def test_one_process_may_enter_again_after_leaving(tmp_path: Path) -> None:
    for _ in range(2):
        with warehouse_run(tmp_path, "ingest-a@2026-11-27", wait_s=0):
            pass


SILENT = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_holder_that_has_not_said_who_it_is_is_called_another_run(tmp_path: Path) -> None:
    """The moment between taking the lock and writing one's name into it."""
    process = subprocess.Popen(
        [sys.executable, "-c", SILENT, str(tmp_path / ".run.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        with (
            pytest.raises(WarehouseBusy, match=r"is in use by another run and stayed busy for 0 s"),
            warehouse_run(tmp_path, "ingest-b@2026-11-28", wait_s=0),
        ):
            pytest.fail("the warehouse was entered while another process held it")
    finally:
        process.kill()
        process.wait()
