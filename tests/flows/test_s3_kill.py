"""kill -9 the flow process in the middle of publishing a date to S3 (moto's server on
loopback): a reader on another machine sees the date as it was or as the killed run published
it, every file of one or the other, never a mix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flowenv import environment
from s3store import S3Server, make_bucket, s3_server

from flows.ingest import nightly_ingest
from warehouse.store import WorkingCopy, date_files, sha256_of

pytestmark = [pytest.mark.server, pytest.mark.slow]

RUN_DATE = date(2023, 10, 15)
URL = "s3://newsflow-s3-kill/nightly"

KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from warehouse import store

    at = sys.argv[1]

    def step(name: str) -> None:
        if name == at or (at == "upload" and name.startswith("upload:")):
            os.kill(os.getpid(), signal.SIGKILL)

    store.STEP_HOOK = step
    from flows.ingest import nightly_ingest
    nightly_ingest(run_date=date(2023, 10, 15))
    """
)


def machine(folder: Path) -> dict[str, str]:
    return {
        "NEWSFLOW_DATA_DIR": URL,
        "NEWSFLOW_STORE_CACHE_DIR": str(folder),
        "NEWSFLOW_PER_HOST_DELAY_S": "0.05",
        "NEWSFLOW_CPU_WORKERS": "1",
    }


@pytest.fixture(scope="module")
def published(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    """The store, holding one run of the date."""
    with s3_server() as server:
        make_bucket(URL.removeprefix("s3://").split("/")[0])
        with environment(machine(tmp_path_factory.mktemp("first"))):
            assert nightly_ingest(run_date=RUN_DATE).status == "completed"
        yield server


def in_the_store() -> dict[str, str]:
    """The date's files as its manifest in the store lists them: path -> sha256."""
    manifest = WorkingCopy(URL, Path("unused")).read_manifest(RUN_DATE)  # reads the store only
    assert manifest is not None
    return {path: item["sha256"] for path, item in manifest["files"].items()}


def read_by_another_machine(folder: Path) -> dict[str, str]:
    """What a reader's working copy holds of the date after a pull: path -> sha256."""
    with WorkingCopy(URL, folder) as copy:
        copy.pull()
    return {path: sha256_of(file) for path, file in date_files(folder, RUN_DATE).items()}


# Before the manifest's PUT the store still shows the old date; from it on, the new one.
KILL_POINTS = [("upload", "old"), ("manifest", "old"), ("prune", "new")]


@pytest.mark.parametrize(("at", "seen"), KILL_POINTS)
def test_a_run_killed_while_publishing_to_s3_leaves_the_old_date_or_the_new(
    published: S3Server,
    prefect_server: dict[str, str],
    tmp_path: Path,
    at: str,
    seen: str,
) -> None:
    old = in_the_store()
    killer = tmp_path / "killer"
    env = {k: v for k, v in prefect_server.items() if not k.startswith("NEWSFLOW_")}
    env.update({**published.env, **machine(killer)})
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2])])
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, at],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    new = {path: sha256_of(file) for path, file in date_files(killer, RUN_DATE).items()}
    assert new != old  # the killed run's runs row, at least, is its own

    assert read_by_another_machine(tmp_path / "reader") == {"old": old, "new": new}[seen]


def test_newsflow_reprocess_on_a_fresh_machine_finds_the_run_in_the_store(
    published: S3Server, prefect_server: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in prefect_server.items() if not k.startswith("NEWSFLOW_")}
    env.update({**published.env, **machine(tmp_path / "fresh")})
    newsflow = Path(sys.executable).with_name("newsflow")
    done = subprocess.run(
        [str(newsflow), "reprocess", "--date", RUN_DATE.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
