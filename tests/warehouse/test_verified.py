"""The record of checked lake files: recovery reads only new and changed files."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample

from warehouse import verified
from warehouse.lake import CorruptLakeFile, data_file, quarantine_dir, recover
from warehouse.schema import TABLES

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
    for path in (verified.record_path(tmp_path), verified.journal_path(tmp_path)):
        path.unlink(missing_ok=True)  # a lake from before the record, or a lost one
    checked = _checked_by(monkeypatch)
    recover(tmp_path)
    assert len(checked) == len(TABLES)  # one file per table
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
    assert len(verified.load(tmp_path)) == len(TABLES)


# ------------------------------------------------------------------ the record and its log


def _sample_files(data_dir: Path, names: list[str]) -> list[Path]:
    """Empty `runs` files of one date, one per name (readable Parquet of the schema)."""
    paths = [data_file(data_dir, "runs", DAY, name) for name in names]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    for path in paths:
        pq.write_table(TABLES["runs"].empty_table(), path)
    return paths


def _keys(data_dir: Path, paths: list[Path]) -> set[str]:
    return {str(p.relative_to(data_dir)) for p in paths}


def test_recording_files_appends_them_and_leaves_the_record_as_it_was(tmp_path: Path) -> None:
    first = _sample_files(tmp_path, ["a", "b"])
    verified.add(tmp_path, first)  # no record yet: the log is folded into a new one
    record = verified.record_path(tmp_path)
    before = verified.identity(record)
    assert set(verified.load(tmp_path)) == _keys(tmp_path, first)

    later = _sample_files(tmp_path, ["c"])
    verified.add(tmp_path, later)

    assert verified.identity(record) == before  # not rewritten for one more file
    assert set(verified.load(tmp_path)) == _keys(tmp_path, first + later)
    assert "run_date=2026-11-27/c.parquet" in verified.journal_path(tmp_path).read_text()


def test_the_log_is_folded_into_the_record_once_it_has_grown_without_files_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _sample_files(tmp_path, ["a", "b", "c"])
    verified.add(tmp_path, paths[:1])
    monkeypatch.setattr(verified, "FOLD_MIN_BYTES", 0)
    paths[0].unlink()  # left the lake since it was recorded
    verified.add(tmp_path, paths[1:2])  # the log holds more than a quarter of the record: fold
    assert verified.journal_path(tmp_path).read_bytes() == b""
    assert set(json.loads(verified.record_path(tmp_path).read_text())) == _keys(
        tmp_path, paths[1:2]
    )
    verified.add(tmp_path, paths[2:])
    assert set(verified.load(tmp_path)) == _keys(tmp_path, paths[1:])


class _Killed(BaseException):
    """The process dies here."""


def _dies(*args: object, **kw: object) -> None:
    raise _Killed


def test_a_crash_while_the_record_is_rewritten_loses_no_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _sample_files(tmp_path, ["a", "b"])
    verified.add(tmp_path, paths[:1])
    monkeypatch.setattr(verified, "FOLD_MIN_BYTES", 0)
    monkeypatch.setattr(verified.os, "replace", _dies)  # before the new record is renamed
    with pytest.raises(_Killed):
        verified.add(tmp_path, paths[1:])
    monkeypatch.undo()
    assert set(verified.load(tmp_path)) == _keys(tmp_path, paths)


def test_a_crash_between_the_record_and_the_emptied_log_changes_no_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _sample_files(tmp_path, ["a", "b"])
    verified.add(tmp_path, paths[:1])
    monkeypatch.setattr(verified, "FOLD_MIN_BYTES", 0)
    monkeypatch.setattr(verified, "open", _dies, raising=False)  # record renamed, log not emptied
    with pytest.raises(_Killed):
        verified.add(tmp_path, paths[1:])
    monkeypatch.undo()
    assert verified.journal_path(tmp_path).read_bytes() != b""  # the log survived the fold
    assert set(json.loads(verified.record_path(tmp_path).read_text())) == _keys(tmp_path, paths)
    record = verified.load(tmp_path)
    assert {k: e.identity for k, e in record.items()} == {
        str(p.relative_to(tmp_path)): verified.identity(p) for p in paths
    }
    with paths[0].open("ab") as handle:  # changed since: not verified, whatever the log says
        handle.write(b"x")
    assert not verified.is_verified(verified.load(tmp_path), tmp_path, paths[0])
    assert verified.is_verified(verified.load(tmp_path), tmp_path, paths[1])


def test_a_log_line_cut_short_by_a_crash_is_skipped_and_the_next_one_is_read(
    tmp_path: Path,
) -> None:
    paths = _sample_files(tmp_path, ["a", "b", "c"])
    verified.add(tmp_path, paths[:1])
    verified.add(tmp_path, paths[1:2])
    log = verified.journal_path(tmp_path)
    text = log.read_bytes()
    log.write_bytes(text[:-9])  # the last append died halfway through its line
    assert set(verified.load(tmp_path)) == _keys(tmp_path, paths[:1])
    verified.add(tmp_path, paths[2:])
    assert set(verified.load(tmp_path)) == _keys(tmp_path, paths[:1] + paths[2:])
