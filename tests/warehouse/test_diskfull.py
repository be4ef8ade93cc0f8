"""Disk full while publishing (RELIABILITY row 27): a clear error, old data intact, no leftovers.

The publication runs on a 3 MiB tmpfs mounted in a private mount namespace (`unshare -Urm`),
so the disk really fills up: nothing is simulated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from lakedata import HERE, file_size_limit, noise, publish_sample, script_env, tables

from warehouse.lake import StorageError, staging_dir
from warehouse.publish import Publication

DAY = date(2026, 11, 27)
SCOPE = "ingest-3f2a9c1b"


def _fill(tmp_path: Path, where: str) -> dict[str, object]:
    unshare = shutil.which("unshare")
    assert unshare, "util-linux's unshare is needed to mount a small disk without privileges"
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        [unshare, "-Urm", sys.executable, str(HERE / "diskfull.py"), str(mount), where],
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("where", "file_named"), [("raw", ".pending.warc.gz"), ("tables", "articles.parquet")]
)
def test_a_full_disk_names_the_file_keeps_old_data_and_cleans_staging(
    tmp_path: Path, where: str, file_named: str
) -> None:
    result = _fill(tmp_path, where)
    error = str(result["error"])
    assert error.startswith("StorageError: "), error
    assert "No space left on device" in error
    assert file_named in error
    assert f"data dir {result['data_dir']}" in error
    assert result["unchanged"] is True  # the published lake, raw archives and catalog
    assert result["staging"] == []  # no staging area, no lock file left behind


# The same failures in this process, with a file size limit standing in for the full disk.


def _bytes(data_dir: Path) -> dict[str, bytes]:
    """Every file of the data dir but the staging area, byte for byte."""
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and "staging" not in path.relative_to(data_dir).parts
    }


def _big_articles(size: int) -> list[dict[str, object]]:
    rows = tables(DAY, SCOPE, "new")["articles"].to_pylist()
    return [{**row, "body": noise(size, seed=i)} for i, row in enumerate(rows)]


def test_a_batch_that_does_not_fit_names_the_staged_file_and_keeps_old_data(
    tmp_path: Path,
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    before = _bytes(tmp_path)
    publication = Publication(tmp_path, DAY, SCOPE)
    publication.write("mentions", tables(DAY, SCOPE, "new")["mentions"])
    with file_size_limit(publication.staged_path("mentions").stat().st_size):
        with pytest.raises(StorageError) as failure:
            publication.write("articles", _big_articles(20_000))
        publication.abort()  # the mentions file cannot be closed either: it goes anyway

    message = str(failure.value)
    assert message.startswith(f"cannot write {publication.staged_path('articles')} "), message
    assert f"in data dir {tmp_path}: " in message
    assert isinstance(failure.value.__cause__, OSError)
    assert _bytes(tmp_path) == before
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_a_staged_file_that_cannot_be_closed_fails_the_commit_and_keeps_old_data(
    tmp_path: Path,
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    before = _bytes(tmp_path)
    publication = Publication(tmp_path, DAY, SCOPE)
    publication.write("articles", _big_articles(20_000))
    staged = publication.staged_path("articles")
    with file_size_limit(staged.stat().st_size), pytest.raises(StorageError) as failure:
        publication.commit()  # the footer does not fit

    message = str(failure.value)
    assert message.startswith(f"cannot write {staged} in data dir {tmp_path}: "), message
    assert _bytes(tmp_path) == before
    assert list(staging_dir(tmp_path).iterdir()) == []
