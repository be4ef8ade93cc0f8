"""A run takes what its process had loaded out of the garbage collector's full passes, once
(`flows.ingest.freeze_loaded_objects`): a full pass over Prefect's and pyarrow's objects cost a
seventh of a run in which nothing is new, more often the more history the warehouse holds."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from flowenv import environment

from flows import ingest


def _failing_run(tmp_path: Path) -> None:
    """A run that stops at its sources file (missing), past the point where it freezes."""
    settings = {"NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    with environment(settings), pytest.raises(Exception, match="sources"):
        ingest.nightly_ingest(sources_file=str(tmp_path / "missing.toml"))


def test_the_first_run_of_a_process_freezes_what_it_had_loaded_and_later_runs_do_not(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.unfreeze()
    monkeypatch.setattr(ingest, "_FROZEN", False)
    loaded = len(gc.get_objects())
    _failing_run(tmp_path)
    frozen = gc.get_freeze_count()
    assert frozen >= loaded // 2  # the modules and Prefect's objects, not a handful
    # Objects the collector tracks, made after the first run, stay in its sight.
    made_since: list[list[int]] = [[] for _ in range(20_000)]
    _failing_run(tmp_path)
    assert gc.get_freeze_count() <= frozen
    assert len(made_since) == 20_000
