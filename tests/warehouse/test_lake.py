"""The lake's layout, what counts as a readable file, staging areas and recovery."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample, tables

from warehouse import verified
from warehouse.lake import (
    CorruptLakeFile,
    PublicationBusy,
    StagingArea,
    catalog_path,
    check_scope,
    check_table,
    data_file,
    lake_dir,
    list_lake,
    make_dirs,
    parquet_problem,
    partition_dir,
    published_files,
    published_in,
    quarantine_dir,
    raw_dir,
    raw_partition,
    recover,
    staging_dir,
    table_dir,
    table_glob,
)
from warehouse.schema import TABLES

DAY = date(2026, 11, 27)
SCOPE = "ingest-1"


def test_every_path_is_the_documented_one_and_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = Path("data")  # relative, as a user may pass it
    root = str(tmp_path / "data")
    assert str(lake_dir(data)) == f"{root}/lake"
    assert str(table_dir(data, "articles")) == f"{root}/lake/articles"
    assert str(partition_dir(data, "articles", DAY)) == f"{root}/lake/articles/run_date=2026-11-27"
    assert (
        str(data_file(data, "articles", DAY, SCOPE))
        == f"{root}/lake/articles/run_date=2026-11-27/ingest-1.parquet"
    )
    assert table_glob(data, "mentions") == f"{root}/lake/mentions/run_date=*/*.parquet"
    assert str(raw_dir(data)) == f"{root}/raw"
    assert str(raw_partition(data, DAY)) == f"{root}/raw/run_date=2026-11-27"
    assert str(staging_dir(data)) == f"{root}/staging"
    assert str(quarantine_dir(data)) == f"{root}/quarantine"
    assert str(catalog_path(data)) == f"{root}/newsflow.duckdb"


def test_an_unknown_table_is_refused_naming_the_known_ones() -> None:
    known = (
        "archive_files, articles, dedup_signatures, entity_runs, fetch_log, keywords,"
        " mentions, quotes, rejected, runs, source_runs, superseded"
    )
    with pytest.raises(ValueError, match=f"^unknown table 'article'; known: {known}$"):
        check_table("article")


@pytest.mark.parametrize("scope", ["../up", "a/b", ".hidden", "", "x" * 129, "a b"])
def test_a_scope_that_is_not_a_plain_file_name_is_refused_saying_so(scope: str) -> None:
    with pytest.raises(ValueError, match=f"^scope must match .*, got '{scope}'$"):
        check_scope(scope)
    assert check_scope("ingest-2026.11_a") == "ingest-2026.11_a"


def _touch(data_dir: Path, day: str, scope: str) -> Path:
    path = data_dir / "lake" / "articles" / f"run_date={day}" / f"{scope}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def test_a_run_sees_earlier_dates_and_its_own_date_without_its_own_file(tmp_path: Path) -> None:
    before = _touch(tmp_path, "2026-11-25", SCOPE)
    other = _touch(tmp_path, "2026-11-26", "backfill-1")
    own = _touch(tmp_path, "2026-11-26", SCOPE)
    later = _touch(tmp_path, "2026-11-27", "backfill-1")
    (tmp_path / "lake" / "articles" / "run_date=2026-11-26" / "notes.txt").touch()

    assert published_files(tmp_path, "articles") == [before, other, own, later]
    seen = published_files(tmp_path, "articles", (date(2026, 11, 26), SCOPE))
    assert seen == [before, other]
    assert published_in(tmp_path / "lake" / "articles", (date(2026, 11, 26), "backfill-1")) == [
        before,
        own,
    ]


def _valid_parquet() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"a": [1, 2, 3]}), sink)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "0 bytes, too short for Parquet"),
        (b"PAR1PAR1PAR", "11 bytes, too short for Parquet"),
        (b"PAR1" + bytes(12), "no Parquet magic bytes at start or end"),
        (bytes(12) + b"PAR1", "no Parquet magic bytes at start or end"),
        (_valid_parquet()[:-40], "no Parquet magic bytes at start or end"),
        (b"PAR1" + bytes(4) + b"PAR1", "unreadable: "),  # the smallest shape, but empty
        # Magic at both ends, and a footer length longer than the file:
        (_valid_parquet()[:-8] + (10_000).to_bytes(4, "little") + b"PAR1", "unreadable: "),
    ],
)
def test_a_file_that_is_not_readable_parquet_says_why(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(content)
    found = parquet_problem(path)
    assert found is not None
    assert found.startswith(problem), found


def test_a_readable_parquet_file_has_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(_valid_parquet())
    assert parquet_problem(path) is None


def test_make_dirs_creates_the_missing_parents_and_accepts_existing_ones(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    make_dirs(deep)
    assert deep.is_dir()
    make_dirs(deep)
    make_dirs(tmp_path / "a" / "d")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b", "d"]


# ------------------------------------------------------------------ staging areas


def test_a_staging_area_is_private_until_released(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, "2026-11-27__ingest-1")
    assert area.active
    assert area.path == tmp_path / "staging" / "2026-11-27__ingest-1"
    assert area.path.is_dir()
    with pytest.raises(
        PublicationBusy,
        match=f"^another process is publishing 2026-11-27__ingest-1 in {tmp_path}/staging$",
    ):
        StagingArea(tmp_path, "2026-11-27__ingest-1")
    (area.path / "x.parquet").write_bytes(b"PAR1")
    area.release()
    area.release()  # safe twice
    assert not area.active
    assert list(staging_dir(tmp_path).iterdir()) == []
    StagingArea(tmp_path, "2026-11-27__ingest-1").release()  # free again


def test_an_area_left_by_a_dead_owner_of_the_same_name_starts_empty(tmp_path: Path) -> None:
    left = staging_dir(tmp_path) / "2026-11-27__ingest-1"
    left.mkdir(parents=True)
    (left / "articles.parquet").write_bytes(b"half")
    area = StagingArea(tmp_path, "2026-11-27__ingest-1")
    assert list(area.path.iterdir()) == []
    area.release()


def test_releasing_an_area_removed_by_hand_still_succeeds(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, "2026-11-27__ingest-1")
    shutil.rmtree(staging_dir(tmp_path))  # the area and its lock file
    area.release()
    assert not area.active
    StagingArea(tmp_path, "2026-11-27__ingest-1").release()  # free again


# ------------------------------------------------------------------ recovery


def test_recovery_removes_what_dead_runs_left_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = StagingArea(tmp_path, "2026-11-27__a")  # sorts before the dead one
    (live.path / "articles.parquet").write_bytes(b"being written")
    dead = staging_dir(tmp_path) / "2026-11-27__b"
    dead.mkdir()
    (dead / "articles.parquet").write_bytes(b"half")
    (staging_dir(tmp_path) / "2026-11-27__b.lock").touch()  # nobody holds it
    temp_catalog = tmp_path / ".newsflow.duckdb.0123abcd.tmp"
    temp_catalog.write_bytes(b"half a database")

    with caplog.at_level(logging.WARNING, logger="warehouse.lake"):
        recover(tmp_path)

    assert sorted(p.name for p in staging_dir(tmp_path).iterdir()) == [
        "2026-11-27__a",
        "2026-11-27__a.lock",
    ]
    assert (live.path / "articles.parquet").read_bytes() == b"being written"
    assert not temp_catalog.exists()
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(dead) in warning
    assert str(temp_catalog) in warning
    live.release()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="warehouse.lake"):
        recover(tmp_path)  # nothing left to remove, nothing to say
    assert caplog.records == []


def test_a_file_broken_again_after_quarantine_is_kept_beside_the_first(tmp_path: Path) -> None:
    broken = data_file(tmp_path, "articles", DAY, SCOPE)
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"first")
    with pytest.raises(CorruptLakeFile) as first:
        recover(tmp_path)
    broken.write_bytes(b"second!")
    with pytest.raises(CorruptLakeFile) as second:
        recover(tmp_path)

    first_place, second_place = first.value.moved[broken], second.value.moved[broken]
    assert first_place == quarantine_dir(tmp_path) / broken.relative_to(tmp_path)
    assert second_place != first_place
    assert second_place.parent == first_place.parent
    assert first_place.read_bytes() == b"first"
    assert second_place.read_bytes() == b"second!"


def test_the_quarantine_error_names_each_file_its_problem_and_where_it_went(
    tmp_path: Path,
) -> None:
    empty = data_file(tmp_path, "articles", DAY, SCOPE)
    footless = data_file(tmp_path, "runs", DAY, SCOPE)
    empty.parent.mkdir(parents=True)
    footless.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    footless.write_bytes(b"PAR1" + bytes(20))
    with pytest.raises(CorruptLakeFile) as failure:
        recover(tmp_path)

    quarantine = quarantine_dir(tmp_path)
    assert str(failure.value) == (
        "corrupt file(s) in the lake were quarantined; check and rerun their dates: "
        f"{empty} (0 bytes, too short for Parquet) -> {quarantine / empty.relative_to(tmp_path)}; "
        f"{footless} (no Parquet magic bytes at start or end) -> "
        f"{quarantine / footless.relative_to(tmp_path)}"
    )


def test_a_file_whose_footer_lies_about_its_length_is_quarantined(tmp_path: Path) -> None:
    rows = tables(DAY, SCOPE, "new")["runs"]
    path = data_file(tmp_path, "runs", DAY, SCOPE)
    path.parent.mkdir(parents=True)
    pq.write_table(rows, path)
    content = path.read_bytes()
    path.write_bytes(content[:-8] + (len(content) * 2).to_bytes(4, "little") + b"PAR1")
    with pytest.raises(CorruptLakeFile, match="unreadable"):
        recover(tmp_path)
    assert not path.exists()
    assert os.listdir(quarantine_dir(tmp_path) / "lake" / "runs" / "run_date=2026-11-27") == [
        "ingest-1.parquet"
    ]


# ------------------------------------------------------------------ the listing


def test_the_listing_holds_each_published_file_with_its_identity_and_nothing_else(
    tmp_path: Path,
) -> None:
    assert list_lake(tmp_path).tables == {}  # no lake yet
    publish_sample(tmp_path, DAY, SCOPE, "new")
    folder = partition_dir(tmp_path, "articles", DAY)
    (folder / ".ingest-2.parquet.0123.tmp").write_bytes(b"being renamed")
    (folder / "notes.txt").write_text("not a table file")
    (folder / "nested.parquet").mkdir()  # a folder named like a file
    expected = sorted(
        str(p.relative_to(tmp_path))
        for p in (tmp_path / "lake").glob("*/run_date=*/*.parquet")
        if p.is_file()
    )

    listing = list_lake(tmp_path)

    keys = [k for files in listing.tables.values() for k in files]
    assert keys == expected
    assert len(keys) == len(TABLES)  # one file per table
    for files in listing.tables.values():
        for key, identity in files.items():
            assert identity == verified.identity(tmp_path / key)
            assert listing.path(key) == str(tmp_path / key)
    assert list(list_lake(tmp_path, ["runs"]).tables) == ["runs"]


def test_recovery_answers_with_the_lake_as_it_left_it(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    broken = data_file(tmp_path, "articles", DAY, "ingest-2")
    broken.write_bytes(b"half")
    with pytest.raises(CorruptLakeFile):
        recover(tmp_path)
    assert recover(tmp_path) == list_lake(tmp_path)
    assert "lake/articles/run_date=2026-11-27/ingest-2.parquet" not in recover(tmp_path).files(
        "articles"
    )


def _settle(*folders: Path) -> None:
    """Put the folders' mtime an hour back, as a folder untouched since yesterday has it."""
    for folder in folders:
        past = folder.stat().st_mtime_ns - 3_600 * 10**9
        os.utime(folder, ns=(past, past))


def test_a_listed_folder_that_changed_since_is_listed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warehouse.lake as lake

    monkeypatch.setattr(lake, "SETTLED_NS", -(10**18))  # every folder counts as settled
    table = table_dir(tmp_path, "articles")
    old, new = date(2026, 1, 5), date(2026, 1, 6)
    first = data_file(tmp_path, "articles", old, "a")
    make_dirs(first.parent)
    pq.write_table(TABLES["articles"].empty_table(), first)
    _settle(first.parent, table)
    assert list(list_lake(tmp_path).files("articles")) == [str(first.relative_to(tmp_path))]
    assert published_in(table) == [first]

    second = data_file(tmp_path, "articles", old, "b")  # a file renamed into a listed partition
    pq.write_table(TABLES["articles"].empty_table(), tmp_path / "b.tmp")
    os.replace(tmp_path / "b.tmp", second)
    third = data_file(tmp_path, "articles", new, "a")  # and a partition new to the table
    make_dirs(third.parent)
    pq.write_table(TABLES["articles"].empty_table(), third)
    with first.open("ab") as handle:  # grown in place: the same names, another identity
        handle.write(b"x")

    listing = list_lake(tmp_path)
    assert list(listing.files("articles")) == [
        str(p.relative_to(tmp_path)) for p in (first, second, third)
    ]
    assert listing.files("articles")[str(first.relative_to(tmp_path))] == verified.identity(first)
    assert published_in(table) == [first, second, third]

    second.unlink()
    shutil.rmtree(third.parent)
    assert published_in(table) == [first]
    assert list(list_lake(tmp_path).files("articles")) == [str(first.relative_to(tmp_path))]


def test_a_folder_changed_moments_ago_is_not_taken_from_an_earlier_listing(
    tmp_path: Path,
) -> None:
    """Within one tick of the clock a folder's mtime may not move, so a folder changed lately
    is listed again each time."""
    import warehouse.lake as lake

    path = data_file(tmp_path, "articles", DAY, SCOPE)
    make_dirs(path.parent)
    pq.write_table(TABLES["articles"].empty_table(), path)
    assert published_in(table_dir(tmp_path, "articles")) == [path]
    assert str(path.parent) not in lake._scanned  # so the next listing scans it again


def test_a_walk_since_another_stats_the_files_of_the_partitions_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warehouse.lake as lake

    monkeypatch.setattr(lake, "SETTLED_NS", -(10**18))  # every folder counts as settled
    kept = data_file(tmp_path, "articles", date(2026, 1, 5), "a")
    rerun = data_file(tmp_path, "articles", date(2026, 1, 6), "a")
    for path in (kept, rerun):
        make_dirs(path.parent)
        pq.write_table(TABLES["articles"].empty_table(), path)
    _settle(kept.parent, rerun.parent, table_dir(tmp_path, "articles"))
    first = list_lake(tmp_path)

    pq.write_table(TABLES["articles"].empty_table(), tmp_path / "new.tmp")
    os.replace(tmp_path / "new.tmp", rerun)  # a rerun renames its file over the old one
    with kept.open("ab") as handle:  # written in place: no walk `since` another sees it
        handle.write(b"x")
    second = list_lake(tmp_path, since=first)

    key = str(rerun.relative_to(tmp_path))
    assert second.files("articles")[key] == verified.identity(rerun) != first.files("articles")[key]
    old = str(kept.relative_to(tmp_path))
    assert second.files("articles")[old] == first.files("articles")[old]
    assert list_lake(tmp_path).files("articles")[old] == verified.identity(kept)
