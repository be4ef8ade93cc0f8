"""RELIABILITY rows 1 and 22: kill -9 the publisher at each step of a publication."""

from __future__ import annotations

import shutil
import signal
from datetime import date
from pathlib import Path

import duckdb
import pytest
from lakedata import publish_sample, run_script, snapshot

from warehouse.catalog import build_catalog
from warehouse.lake import catalog_path, parquet_problem, staging_dir
from warehouse.raw import read_record
from warehouse.views import analytic_views

DAY = date(2026, 11, 27)
OTHER_DAY = date(2026, 11, 26)
SCOPE = "ingest-3f2a9c1b"

# Written out, not taken from the publisher: the state that advances (feed validators in
# fetch_log, the run record) is renamed after every table it covers.
ORDER = [
    "rejected",
    "articles",
    "superseded",  # the decisions about which articles rows are latest, right after them
    "mentions",
    "quotes",
    "entity_runs",
    "keywords",
    "dedup_signatures",
    "source_runs",
    "archive_files",
    "fetch_log",
    "runs",
]
STEPS = [
    "staged",  # every batch written, before the files are closed and fsynced
    "fsynced",
    "validated",  # before the first rename
    "rename:raw",
    *(f"rename:{table}" for table in ORDER),  # between files; runs is the last
    "verified",  # every table renamed, not yet recorded as checked
    "spread",  # the story_spread summary not yet rewritten for the new rows
    "prune:raw",  # every table renamed, the archive they no longer name still there
    "catalog",
    "done",
]


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """A data dir after the old run, and what the lake holds after the old run only and after
    old then new, uninterrupted."""
    old_dir = tmp_path_factory.mktemp("old")
    publish_sample(old_dir, OTHER_DAY, SCOPE, "new")
    publish_sample(old_dir, DAY, SCOPE, "old")
    new_dir = tmp_path_factory.mktemp("new")
    _copy_published(old_dir, new_dir)
    publish_sample(new_dir, DAY, SCOPE, "new")
    return old_dir, snapshot(old_dir), snapshot(new_dir)


def _copy_published(source: Path, data_dir: Path) -> None:
    """The published files of `source` copied into `data_dir`, with a catalog of its own: the
    lake that publishing the same runs into `data_dir` gives, in a fraction of the time."""
    for part in ("lake", "raw"):
        shutil.copytree(source / part, data_dir / part)
    build_catalog(data_dir)


def _views_answer(data_dir: Path) -> None:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        for name, _ in analytic_views():
            con.table(name).aggregate("count(*)").fetchall()
    finally:
        con.close()


def _links_resolve(data_dir: Path) -> int:
    """Follow every published `raw_record_id`: each must lead to the page of its own row."""
    followed = 0
    con = duckdb.connect()
    try:
        for table in ("articles", "fetch_log", "rejected"):
            glob = str(data_dir / "lake" / table / "*" / "*.parquet")
            rows = con.execute(
                f"SELECT url, raw_record_id FROM read_parquet('{glob}') "
                "WHERE raw_record_id IS NOT NULL"
            ).fetchall()
            for url, raw_record_id in rows:
                assert read_record(data_dir, raw_record_id).url == url, (table, raw_record_id)
                followed += 1
    finally:
        con.close()
    return followed


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_each_step_leaves_old_or_new_and_rerun_matches(
    tmp_path: Path, step: str, references: tuple[Path, dict, dict]
) -> None:
    old_dir, old, new = references
    _copy_published(old_dir, tmp_path)
    assert snapshot(tmp_path) == old

    killed = run_script("publisher.py", str(tmp_path), DAY.isoformat(), SCOPE, "new", step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    for path in (tmp_path / "lake").rglob("*.parquet"):
        assert parquet_problem(path) is None, path
    _views_answer(tmp_path)
    assert _links_resolve(tmp_path) >= 16  # articles and fetch log rows of both dates
    after_kill = snapshot(tmp_path)
    lake = {key: content for key, content in after_kill.items() if key.startswith("lake/")}
    assert lake.keys() == {k for k in new if k.startswith("lake/")}  # none extra or missing
    for key, content in lake.items():
        assert content in (old[key], new[key]), f"{key} is neither the old nor the new version"
    # Raw archives are never replaced in place: a new one sits beside the old one until no
    # published row names the old one any more.
    archives = {key: content for key, content in after_kill.items() if key.startswith("raw/")}
    for key, content in archives.items():
        assert content in (old.get(key), new.get(key)), f"{key} is no archive of either run"
    if step in ("staged", "fsynced", "validated"):
        assert after_kill == old
    if step in ("catalog", "done"):
        assert after_kill == new
    if step.startswith("rename:") and step != "rename:raw":
        renamed = set(ORDER[: ORDER.index(step.removeprefix("rename:"))])
        for key, content in lake.items():
            expected = new if Path(key).parts[1] in renamed else old
            assert content == expected[key], key
    if step in ("verified", "spread", "prune:raw"):
        assert lake == {k: v for k, v in new.items() if k.startswith("lake/")}
        assert archives.keys() == {k for k in {**old, **new} if k.startswith("raw/")}

    publish_sample(tmp_path, DAY, SCOPE, "new")
    assert snapshot(tmp_path) == new
    assert list(staging_dir(tmp_path).iterdir()) == []
    _views_answer(tmp_path)
