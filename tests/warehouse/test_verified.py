"""The record of checked lake files: recovery reads only new and changed files."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample

from warehouse import verified
from warehouse.lake import CorruptLakeFile, data_file, quarantine_dir, recover

DAY = date(2026, 11, 27)
SCOPE = "ingest-1"


def _checked_by(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files that recovery reads from now on (it checks each with `parquet_problem`)."""
    import warehouse.lake as lake

    seen: list[Path] = []
    real = lake.parquet_problem

    def spy(path: Path) -> str | None:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(lake, "parquet_problem", spy)
    return seen


def test_published_files_are_not_read_again_by_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    checked = _checked_by(monkeypatch)
    recover(tmp_path)
    assert checked == []


def test_a_file_changed_after_it_was_verified_is_checked_again_and_quarantined(
    tmp_path: Path,
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    recover(tmp_path)  # everything verified
    path = data_file(tmp_path, "articles", DAY, SCOPE)
    content = path.read_bytes()
    stat = path.stat()
    with path.open("r+b") as handle:  # the same size, the footer broken, mtime put back
        handle.seek(len(content) - 6)
        handle.write(b"\xff\xff")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    with pytest.raises(CorruptLakeFile) as failure:
        recover(tmp_path)
    assert failure.value.moved[path] == quarantine_dir(tmp_path) / path.relative_to(tmp_path)


def test_files_found_without_a_record_are_checked_once_then_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    verified.record_path(tmp_path).unlink()  # a lake from before the record, or a lost one
    checked = _checked_by(monkeypatch)
    recover(tmp_path)
    assert len(checked) == 11  # one file per table
    checked.clear()
    recover(tmp_path)
    assert checked == []


def test_a_rerun_replaces_the_entries_of_its_files(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    path = data_file(tmp_path, "articles", DAY, SCOPE)
    before = verified.load(tmp_path)["lake/articles/run_date=2026-11-27/ingest-1.parquet"]
    publish_sample(tmp_path, DAY, SCOPE, "old")
    after = verified.load(tmp_path)["lake/articles/run_date=2026-11-27/ingest-1.parquet"]
    assert after.identity != before.identity
    assert after.identity[0] == path.stat().st_size


def test_a_file_with_other_columns_than_the_schema_does_not_conform(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    record = verified.load(tmp_path)
    assert all(entry.conforms for entry in record.values())
    old = data_file(tmp_path, "runs", date(2026, 11, 26), SCOPE)
    old.parent.mkdir(parents=True)
    pq.write_table(pa.table({"run_id": ["r"], "flow": ["nightly-ingest"]}), old)
    recover(tmp_path)
    key = "lake/runs/run_date=2026-11-26/ingest-1.parquet"
    assert verified.load(tmp_path)[key].conforms is False


def test_an_unreadable_record_means_checking_again_not_failing(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    verified.record_path(tmp_path).write_text("{not json", encoding="utf-8")
    recover(tmp_path)
    assert len(verified.load(tmp_path)) == 11
