"""The lake on object storage (`warehouse.store`) against moto's S3 server on loopback:
push and pull round trips, what readers see when the pusher is killed at each step, and a
store that goes away in the middle of an upload."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import pytest
from lakedata import publish_sample, script_env, snapshot
from s3store import S3Server, held

from warehouse.lake import WarehouseBusy
from warehouse.store import StoreError, WorkingCopy, filesystem

DAY = date(2026, 11, 27)
OTHER_DAY = date(2026, 11, 26)
SCOPE = "ingest-3f2a9c1b"


def push(url: str, data_dir: Path, day: date = DAY) -> list[str]:
    steps: list[str] = []
    with WorkingCopy(url, data_dir) as copy:
        copy.push(day, steps.append)
    return steps


def pull(url: str, data_dir: Path) -> list[date]:
    with WorkingCopy(url, data_dir) as copy:
        return copy.pull()


def rows(data_dir: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT run_date, url, article_id, version FROM article_versions ORDER BY ALL"
        ).fetchall()


def test_a_pushed_date_pulls_into_another_copy_byte_for_byte(url: str, tmp_path: Path) -> None:
    writer, reader = tmp_path / "writer", tmp_path / "reader"
    publish_sample(writer, OTHER_DAY, SCOPE, "new")
    publish_sample(writer, DAY, SCOPE, "old")
    push(url, writer, OTHER_DAY)
    push(url, writer, DAY)

    assert pull(url, reader) == [OTHER_DAY, DAY]
    assert snapshot(reader) == snapshot(writer)
    assert rows(reader) == rows(writer) != []
    assert pull(url, reader) == []  # nothing changed in the store: nothing to do
    assert pull(url, writer) == []  # the writer's copy is what it pushed


def test_a_second_push_of_the_same_files_uploads_nothing(url: str, tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    first = push(url, tmp_path)
    assert [s for s in first if s.startswith("upload:")]
    assert push(url, tmp_path) == ["manifest", "prune"]


def test_a_rerun_replaces_the_date_and_its_old_objects_go(url: str, tmp_path: Path) -> None:
    writer, reader = tmp_path / "writer", tmp_path / "reader"
    publish_sample(writer, DAY, SCOPE, "old")
    push(url, writer)
    pull(url, reader)
    old_keys = set(_objects(url))

    publish_sample(writer, DAY, SCOPE, "new")
    push(url, writer)
    with WorkingCopy(url, writer) as copy:
        manifest = copy.read_manifest(DAY)
    assert manifest is not None
    listed = {f"{url.removeprefix('s3://')}/{item['key']}" for item in manifest["files"].values()}
    assert set(_objects(url)) == listed  # exactly what the manifest lists; the rest deleted
    assert old_keys - listed  # the rerun did change files

    assert pull(url, reader) == [DAY]
    assert snapshot(reader) == snapshot(writer)  # replaced files too: no old archive left


def test_a_publication_that_never_reached_the_store_is_dropped_by_the_next_pull(
    url: str, tmp_path: Path
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    push(url, tmp_path)
    pushed = snapshot(tmp_path)
    publish_sample(tmp_path, DAY, SCOPE, "new")  # its run died before pushing
    publish_sample(tmp_path, OTHER_DAY, SCOPE, "new")  # a date the store never had
    assert pull(url, tmp_path) == [OTHER_DAY, DAY]
    assert snapshot(tmp_path) == pushed


def _objects(url: str) -> list[str]:
    return sorted(filesystem().find(f"{url.removeprefix('s3://')}/objects"))


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from pathlib import Path
    from lakedata import publish_sample
    from warehouse.store import WorkingCopy

    url, data_dir, at = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    publish_sample(data_dir, date(2026, 11, 27), "ingest-3f2a9c1b", "new")

    def step(name: str) -> None:
        if name == at or (at == "upload:last" and name.endswith("ingest-3f2a9c1b.parquet")
                          and "/runs/" in name):
            os.kill(os.getpid(), signal.SIGKILL)

    with WorkingCopy(url, data_dir) as copy:
        copy.push(date(2026, 11, 27), step)
    """
)

# Before the manifest's PUT readers see the old date; from it on, the new one.
KILL_POINTS = [
    ("upload:lake/archive_files/run_date=2026-11-27/ingest-3f2a9c1b.parquet", "old"),
    ("upload:last", "old"),  # every file uploaded but runs, the last
    ("manifest", "old"),  # every file uploaded, the manifest not written
    ("prune", "new"),  # the manifest written, the replaced objects still there
]


@pytest.mark.parametrize(("at", "seen"), KILL_POINTS)
def test_a_pusher_killed_at_any_step_leaves_readers_the_old_date_or_the_new(
    url: str, tmp_path: Path, at: str, seen: str
) -> None:
    writer = tmp_path / "writer"
    publish_sample(writer, OTHER_DAY, SCOPE, "new")
    publish_sample(writer, DAY, SCOPE, "old")
    push(url, writer, OTHER_DAY)
    push(url, writer)
    expected = {"old": snapshot(writer)}

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, url, str(writer), at],
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    expected["new"] = snapshot(writer)  # the local publication completed before the push
    assert expected["new"] != expected["old"]

    reader = tmp_path / "reader"
    pull(url, reader)
    assert snapshot(reader) == expected[seen]

    # The next push of the date completes it, and leaves no object the manifest does not list.
    push(url, writer)
    shutil.rmtree(reader)
    pull(url, reader)
    assert snapshot(reader) == expected["new"]
    with WorkingCopy(url, writer) as copy:
        manifest = copy.read_manifest(DAY)
    assert manifest is not None
    assert len(_objects(url)) == len(manifest["files"]) + len(
        (copy.read_manifest(OTHER_DAY) or {})["files"]
    )


def test_a_store_that_stops_mid_upload_fails_the_push_and_keeps_the_old_date(
    server: S3Server, url: str, tmp_path: Path
) -> None:
    writer, reader = tmp_path / "writer", tmp_path / "reader"
    publish_sample(writer, DAY, SCOPE, "old")
    push(url, writer)
    old = snapshot(writer)
    publish_sample(writer, DAY, SCOPE, "new")

    def stop_the_server(step: str) -> None:
        if step.startswith("upload:"):
            server.stop()

    try:
        with (
            pytest.raises(StoreError, match=r"cannot upload lake/.* to s3://"),
            WorkingCopy(url, writer) as copy,
        ):
            copy.push(DAY, stop_the_server)
    finally:
        server.start()  # the same buckets: moto keeps them in this process
    pull(url, reader)
    assert snapshot(reader) == old


def test_pull_from_a_store_that_cannot_be_reached_names_it(tmp_path: Path) -> None:
    down = S3Server()  # never started: nothing listens on its port
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", down.endpoint)
        with pytest.raises(StoreError, match=r"cannot list the manifests of s3://nowhere/lake"):
            pull("s3://nowhere/lake", tmp_path)


def test_a_working_copy_held_by_another_process_is_waited_for_then_refused(
    url: str, tmp_path: Path
) -> None:
    with held(url, tmp_path), pytest.raises(WarehouseBusy, match="is in use by another process"):
        WorkingCopy(url, tmp_path, wait_s=0.3).__enter__()
    with WorkingCopy(url, tmp_path, wait_s=0.3) as copy:  # released with its holder
        assert copy.pull() == []
