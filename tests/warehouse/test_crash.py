"""RELIABILITY row 1: kill -9 the publisher at each step of a publication."""

from __future__ import annotations

import signal
from datetime import date
from pathlib import Path

import duckdb
import pytest
from lakedata import publish_sample, run_script, snapshot

from warehouse.lake import catalog_path, parquet_problem, staging_dir
from warehouse.publish import PUBLISH_ORDER
from warehouse.views import ANALYTIC_VIEWS

DAY = date(2026, 11, 27)
OTHER_DAY = date(2026, 11, 26)
SCOPE = "ingest-3f2a9c1b"

STEPS = [
    "staged",  # staging files closed, before fsync
    "fsynced",
    "validated",  # before the first rename
    "rename:raw",
    *(f"rename:{table}" for table in PUBLISH_ORDER),  # between files; runs is the last
    "catalog",
    "done",
]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """What the lake holds after the old run only, and after old then new, uninterrupted."""
    old_dir = tmp_path_factory.mktemp("old")
    publish_sample(old_dir, OTHER_DAY, SCOPE, "new")
    publish_sample(old_dir, DAY, SCOPE, "old")
    new_dir = tmp_path_factory.mktemp("new")
    publish_sample(new_dir, OTHER_DAY, SCOPE, "new")
    publish_sample(new_dir, DAY, SCOPE, "old")
    publish_sample(new_dir, DAY, SCOPE, "new")
    return snapshot(old_dir), snapshot(new_dir)


def _views_answer(data_dir: Path) -> None:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        for name, _ in ANALYTIC_VIEWS:
            con.table(name).aggregate("count(*)").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_each_step_leaves_old_or_new_and_rerun_matches(
    tmp_path: Path, step: str, references: tuple[dict, dict]
) -> None:
    old, new = references
    publish_sample(tmp_path, OTHER_DAY, SCOPE, "new")
    publish_sample(tmp_path, DAY, SCOPE, "old")

    killed = run_script("publisher.py", str(tmp_path), DAY.isoformat(), SCOPE, "new", step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    for path in (tmp_path / "lake").rglob("*.parquet"):
        assert parquet_problem(path) is None, path
    _views_answer(tmp_path)
    after_kill = snapshot(tmp_path)
    assert after_kill.keys() == new.keys()  # no extra and no missing files
    for key, content in after_kill.items():
        assert content in (old[key], new[key]), f"{key} is neither the old nor the new version"
    if step == "validated":
        assert after_kill == old
    if step in ("catalog", "done"):
        assert after_kill == new
    if step.startswith("rename:") and step != "rename:raw":
        # Tables are renamed in PUBLISH_ORDER, so fetch_log (validators) and runs come last.
        renamed = set(PUBLISH_ORDER[: PUBLISH_ORDER.index(step.removeprefix("rename:"))])
        for key, content in after_kill.items():
            parts = Path(key).parts
            if parts[0] == "lake":
                expected = new if parts[1] in renamed else old
                assert content == expected[key], key
            else:
                assert content == new[key], key  # the raw archive goes first

    publish_sample(tmp_path, DAY, SCOPE, "new")
    assert snapshot(tmp_path) == new
    assert list(staging_dir(tmp_path).iterdir()) == []
    _views_answer(tmp_path)
