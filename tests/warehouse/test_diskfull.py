"""Disk full while publishing (RELIABILITY row 27): a clear error, old data intact, no leftovers.

The publication runs on a 3 MiB tmpfs mounted in a private mount namespace (`unshare -Urm`),
so the disk really fills up: nothing is simulated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lakedata import HERE, script_env


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
