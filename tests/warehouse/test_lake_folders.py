"""The record of the lake's folder names: a new process lists only the folders that changed
since a process recorded them, and the record never hides a file from recovery."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import warehouse.lake as lake
from warehouse.lake import (
    CorruptLakeFile,
    data_file,
    folders_path,
    list_lake,
    make_dirs,
    recover,
)
from warehouse.schema import TABLES

DAYS = [date(2026, 1, d) for d in range(1, 6)]


@pytest.fixture(autouse=True)
def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake, "SETTLED_NS", -(10**18))  # every folder counts as settled
    monkeypatch.setattr(lake, "_scanned", {})
    monkeypatch.setattr(lake, "_loaded", {})


def _lake(data_dir: Path) -> list[Path]:
    """Five dates of two tables, one empty file each."""
    paths = []
    for table in ("articles", "runs"):
        for day in DAYS:
            path = data_file(data_dir, table, day, "a")
            make_dirs(path.parent)
            pq.write_table(TABLES[table].empty_table(), path)
            paths.append(path)
    return paths


def _new_process() -> None:
    """Forget what this process listed, as a new one starts."""
    lake._scanned.clear()
    lake._loaded.clear()


def _listed(data_dir: Path) -> tuple[int, lake.Listing]:
    """How many folders a recovery listed (rather than took from a record), and its answer,
    recorded as a publication records it once committed."""
    before = lake.folders_listed()
    listing = recover(data_dir)
    listed = lake.folders_listed() - before
    lake.record_folders(data_dir, listing, listed)
    return listed, listing


def test_a_new_process_lists_only_the_folders_that_changed_since_the_record(
    tmp_path: Path,
) -> None:
    _lake(tmp_path)
    listed, first = _listed(tmp_path)
    folders = 1 + 2 + 2 * len(DAYS)  # the lake, its tables, their partitions
    assert listed == folders
    assert folders_path(tmp_path).is_file()

    _new_process()
    listed, again = _listed(tmp_path)
    assert listed == 0
    assert again == first

    _new_process()
    added = data_file(tmp_path, "articles", DAYS[2], "b")  # renamed into a recorded partition
    pq.write_table(TABLES["articles"].empty_table(), tmp_path / "b.tmp")
    (tmp_path / "b.tmp").replace(added)
    listed, after = _listed(tmp_path)
    assert listed == 1  # that partition alone
    assert str(added.relative_to(tmp_path)) in after.files("articles")
    assert after == list_lake(tmp_path)


def test_a_file_a_crash_left_in_a_recorded_folder_is_still_checked(tmp_path: Path) -> None:
    _lake(tmp_path)
    _listed(tmp_path)
    _new_process()
    left = data_file(tmp_path, "runs", DAYS[0], "crashed")  # renamed in, then the process died
    left.write_bytes(b"PAR1 half a file")

    with pytest.raises(CorruptLakeFile) as failure:
        recover(tmp_path)
    assert list(failure.value.moved) == [left]


def test_a_folder_replaced_with_other_files_is_listed_again(tmp_path: Path) -> None:
    paths = _lake(tmp_path)
    _listed(tmp_path)
    _new_process()
    folder = paths[0].parent
    paths[0].unlink()  # a restore puts back another set of files
    other = folder / "b.parquet"
    pq.write_table(TABLES["articles"].empty_table(), other)

    listing = recover(tmp_path)
    keys = list(listing.files("articles"))
    assert str(other.relative_to(tmp_path)) in keys
    assert str(paths[0].relative_to(tmp_path)) not in keys


@pytest.mark.parametrize("text", ["", "{not json", '{"lake": [1, 2]}', "[]"])
def test_an_unreadable_record_means_listing_every_folder(tmp_path: Path, text: str) -> None:
    _lake(tmp_path)
    _, first = _listed(tmp_path)
    folders_path(tmp_path).write_text(text)
    _new_process()

    listed, listing = _listed(tmp_path)
    assert listed == 1 + 2 + 2 * len(DAYS)
    assert listing == first


def test_the_record_is_rewritten_once_enough_folders_were_listed_again(tmp_path: Path) -> None:
    paths = _lake(tmp_path)
    _listed(tmp_path)
    written = folders_path(tmp_path).stat().st_mtime_ns
    _new_process()
    for path in paths[:3]:  # three partitions of ten change: more than a sixteenth
        path.with_name("b.parquet").write_bytes(path.read_bytes())
    _listed(tmp_path)
    assert folders_path(tmp_path).stat().st_mtime_ns != written

    _new_process()
    listed, _ = _listed(tmp_path)
    assert listed == 0  # the record names them as they are now


def test_a_committed_publication_records_the_folders_for_the_next_process(
    tmp_path: Path,
) -> None:
    from lakedata import publish_sample

    publish_sample(tmp_path, DAYS[0], "ingest-1", "new")
    assert folders_path(tmp_path).is_file()
    _new_process()
    listed, listing = _listed(tmp_path)
    assert listed == 0
    assert listing == list_lake(tmp_path)
