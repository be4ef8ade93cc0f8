"""Closed months are copied into one file per table (`warehouse.compact`): the views answer
exactly as they do from the daily files, before and after a rerun inside a copied month, and
a compaction killed midway leaves a warehouse that answers as the daily files do."""

from __future__ import annotations

import shutil
import signal
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample, run_script
from versions import publish_rows

from warehouse import compact
from warehouse.catalog import HORIZON_DAYS, build_catalog
from warehouse.lake import catalog_path, data_file, list_lake
from warehouse.schema import TABLES
from warehouse.views import analytic_views

SCOPE = "ingest-1"
OCT_1, OCT_2, NOV_1, NOV_2, DEC_1 = (
    date(2026, 10, 1),
    date(2026, 10, 2),
    date(2026, 11, 1),
    date(2026, 11, 2),
    date(2026, 12, 1),
)
A = "https://a.test/story"
A_COPY = "https://b.test/story-copy"


def _answers(data_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every view, sorted."""
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        names = [f"stg_{t}" for t in TABLES] + [name for name, _ in analytic_views()]
        return {
            name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in names
        }
    finally:
        con.close()


def _from_daily_files(data_dir: Path, elsewhere: Path) -> dict[str, list[tuple[object, ...]]]:
    """The answers of the same lake without its copies (a copy of the data dir)."""
    shutil.copytree(data_dir / "lake", elsewhere / "lake")
    build_catalog(elsewhere)
    return _answers(elsewhere)


def _stg_sql(data_dir: Path, table: str) -> str:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        rows = con.execute(
            "SELECT sql FROM duckdb_views() WHERE view_name = ?", [f"stg_{table}"]
        ).fetchall()
    finally:
        con.close()
    return str(rows[0][0])


def _copies(data_dir: Path, table: str = "articles") -> list[str]:
    """The months each copy file holds, as `first--last`."""
    folder = compact.copies_dir(data_dir, table)
    return sorted(p.name.split(".")[0] for p in folder.glob("*.parquet")) if folder.is_dir() else []


def _history(data_dir: Path, days: list[date]) -> None:
    """Sample runs of every table, and versions of one story (and a copy) across months: the
    third version is a backfill into October once it is copied."""
    versions = {
        OCT_1: [(OCT_1, [("A", A, 1, None)])],
        NOV_1: [
            (NOV_1, [("A", A, 2, None), ("A", A_COPY, 1, "A")]),
            (OCT_2, [("A", A, 3, None)]),
        ],
    }
    for day in days:
        publish_sample(data_dir, day, SCOPE, "new")
        for when, rows in versions.get(day, []):
            publish_rows(data_dir, when, rows, scope="backfill-1")


def test_views_answer_the_same_from_the_copies_as_from_the_daily_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _history(data_dir, [OCT_1, OCT_2, NOV_1, NOV_2, DEC_1])
    assert _copies(data_dir) == ["2026-10--2026-11"]  # two months merged; December is open
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        listed = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'stg_articles'")
        assert "/compacted/articles/2026-10--2026-11." in listed.fetchall()[0][0]
    finally:
        con.close()
    answers = _answers(data_dir)
    assert answers == _from_daily_files(data_dir, tmp_path / "daily")
    assert answers["articles"]
    assert answers["stg_runs"]


def _current(data_dir: Path, table: str = "articles") -> list[str]:
    return [m.month for m in compact.months(data_dir, table) if m.copy is not None]


def test_a_rerun_inside_a_copied_month_replaces_its_rows(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _history(data_dir, [OCT_1, OCT_2, NOV_1, NOV_2])
    assert _current(data_dir) == ["2026-10"]
    publish_sample(data_dir, OCT_2, SCOPE, "old")  # fewer rows than its first run

    answers = _answers(data_dir)
    assert answers == _from_daily_files(data_dir, tmp_path / "daily")
    rows = [r for r in answers["stg_articles"] if r[-1] == OCT_2 and r[0].startswith(SCOPE)]
    assert len(rows) == 3  # the rerun's rows only, once
    assert _current(data_dir) == []
    assert _copies(data_dir) == ["2026-10--2026-10"]  # no longer read, kept for open sessions

    publish_sample(data_dir, DEC_1, SCOPE, "new")  # copies October again, drops the old copy
    assert _current(data_dir) == ["2026-10", "2026-11"]
    assert _copies(data_dir) == ["2026-10--2026-11"]
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily-2")


def test_a_session_opened_before_a_rerun_sees_the_date_as_it_was(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _history(data_dir, [OCT_1, OCT_2, NOV_1, NOV_2])
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        count = "SELECT count(*) FROM stg_articles WHERE run_date = DATE '2026-10-02'"
        before = con.execute(count).fetchall()
        publish_sample(data_dir, OCT_2, SCOPE, "old")
        assert con.execute(count).fetchall() == before  # the copy: the old date, whole
    finally:
        con.close()


@pytest.mark.parametrize(
    "step", ["compact", "compact:rejected", "compact:mentions", "catalog:compacted"]
)
def test_a_compaction_killed_midway_leaves_a_warehouse_that_answers(
    tmp_path: Path, step: str
) -> None:
    data_dir = tmp_path / "data"
    _history(data_dir, [OCT_1, OCT_2])
    killed = run_script("publisher.py", str(data_dir), NOV_1.isoformat(), SCOPE, "new", step)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stray = compact.copies_dir(data_dir, "articles") / ".2026-10.dead.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"PAR1 cut short")  # as a COPY killed midway leaves it

    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily")

    publish_sample(data_dir, NOV_1, SCOPE, "new")  # the rerun finishes the compaction
    assert all(_copies(data_dir, table) == ["2026-10--2026-10"] for table in TABLES)
    assert not stray.exists()
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily-2")


MONTHLY = [date(2026, m, 1) for m in range(7, 13)]  # July to December


def test_copies_merge_into_few_files_and_answer_the_same(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for day in MONTHLY:
        publish_rows(data_dir, day, [("A", A, day.month, None), (f"S{day.month}", A_COPY, 1, "A")])
    # July to November closed: four months merged, then November alone (a binary counter)
    assert _copies(data_dir) == ["2026-07--2026-10", "2026-11--2026-11"]
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily")


def test_a_merge_killed_before_it_removed_its_inputs_is_read_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for day in MONTHLY[:4]:  # July to October: July and August merged, September alone
        publish_rows(data_dir, day, [("A", A, day.month, None)])
    folder = compact.copies_dir(data_dir, "articles")
    inputs = tmp_path / "inputs"
    shutil.copytree(folder, inputs)
    publish_rows(data_dir, MONTHLY[4], [("A", A, 5, None)])  # merges July to October
    assert _copies(data_dir) == ["2026-07--2026-10"]
    for path in inputs.iterdir():  # as if killed between the merge's rename and its cleanup
        shutil.copy2(path, folder / path.name)
    build_catalog(data_dir)

    assert [m.copy is not None for m in compact.months(data_dir, "articles")] == [True] * 4 + [
        False
    ]
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily")
    publish_rows(data_dir, MONTHLY[5], [("A", A, 6, None)])
    assert _copies(data_dir) == ["2026-07--2026-10", "2026-11--2026-11"]


def test_the_months_name_each_daily_file_once_and_the_copy_that_holds_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _history(data_dir, [OCT_1, NOV_1, DEC_1])
    known = compact.months(data_dir, "articles", list_lake(data_dir))
    daily = sorted(str(p) for p in (data_dir / "lake" / "articles").glob("run_date=*/*.parquet"))
    assert [f for m in known for f in m.files] == daily
    assert [m.month for m in known] == ["2026-10", "2026-11", "2026-12"]
    copies = list(compact.copies_dir(data_dir, "articles").glob("*.parquet"))
    assert [m.copy for m in known] == [copies[0], copies[0], None]
    assert compact.months(data_dir, "articles") == known  # listed by itself: the same


def _week_and_a_day(data_dir: Path) -> list[date]:
    """November 1 to PART_DAYS + 1: the first PART_DAYS dates are due for a part once the
    date after them is published."""
    days = [date(2026, 11, d) for d in range(1, compact.PART_DAYS + 2)]
    for day in days:
        publish_sample(data_dir, day, SCOPE, "new")
    publish_rows(data_dir, days[-1], [("A", A, 1, None)], scope="backfill-1")
    publish_rows(data_dir, days[-1], [("A", A, 2, None)], scope="backfill-2")  # a decision
    return days


def test_the_open_month_of_the_parted_tables_is_copied_a_week_at_a_time(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    days = _week_and_a_day(data_dir)
    last = days[-2].isoformat()
    for table in TABLES:
        (month,) = compact.months(data_dir, table)
        if table in compact.PARTS:
            assert month.copy is None
            assert month.part is not None
            assert month.part.name.startswith(f"2026-11-01--{last}.")
            assert {compact.date_of(f) for f in month.unheld()} == {days[-1].isoformat()}
        else:
            assert month.part is None
            assert len(month.unheld()) == len(month.files)
    sql = _stg_sql(data_dir, "articles")
    assert f"/compacted/articles/2026-11-01--{last}." in sql
    assert f"run_date={days[0]}/" not in sql  # the part holds it
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily")


def test_a_rerun_of_a_date_a_part_holds_rewrites_the_part(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    days = _week_and_a_day(data_dir)
    (before,) = compact.months(data_dir, "articles")
    publish_sample(data_dir, days[2], SCOPE, "old")  # fewer rows than its first run

    (month,) = compact.months(data_dir, "articles")
    assert month.part is not None
    assert month.part != before.part
    answers = _answers(data_dir)
    assert answers == _from_daily_files(data_dir, tmp_path / "daily")
    rows = [r for r in answers["stg_articles"] if r[-1] == days[2] and r[0].startswith(SCOPE)]
    assert len(rows) == 3  # the rerun's rows, once


def test_a_part_whose_daily_files_changed_is_not_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    days = _week_and_a_day(data_dir)
    held = data_file(data_dir, "articles", days[2], SCOPE)
    pq.write_table(pq.read_table(held).slice(0, 1), held)  # as a restore from a backup might

    build_catalog(data_dir)
    (month,) = compact.months(data_dir, "articles")
    assert month.part is None
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily")


def test_a_months_parts_are_removed_once_the_month_is_copied(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _week_and_a_day(data_dir)
    assert any("2026-11-01--" in name for name in _copies(data_dir))
    publish_sample(data_dir, DEC_1, SCOPE, "new")
    assert _copies(data_dir) == ["2026-11--2026-11"]
    assert _copies(data_dir, "superseded") == ["2026-11--2026-11"]


def test_a_publication_killed_while_writing_a_part_leaves_a_warehouse_that_answers(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    days = [date(2026, 11, d) for d in range(1, compact.PART_DAYS + 1)]
    for day in days:
        publish_sample(data_dir, day, SCOPE, "new")
    later = days[-1] + timedelta(days=HORIZON_DAYS + 1)  # past the catalog's horizon
    killed = run_script(
        "publisher.py", str(data_dir), later.isoformat(), SCOPE, "new", "compact:articles"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    assert not [name for name in _copies(data_dir) if "2026-11-01--" in name]
    answers = _answers(data_dir)  # the catalog was brought up to date before compaction
    assert answers == _from_daily_files(data_dir, tmp_path / "daily")
    assert {r[-1] for r in answers["stg_articles"]} == {*days, later}

    publish_sample(data_dir, later, SCOPE, "new")  # the rerun writes the part
    (month,) = compact.months(data_dir, "articles")
    assert month.part_last == days[-1].isoformat()
    assert _answers(data_dir) == _from_daily_files(data_dir, tmp_path / "daily-2")


def _bare_articles(data_dir: Path, day: date, urls: list[str]) -> None:
    """A daily `articles` file of just `url` and `title` (compaction copies whatever columns
    its files have)."""
    folder = data_dir / "lake" / "articles" / f"run_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = pa.table({"url": urls, "title": [f"{day} {u}" for u in urls]})
    pq.write_table(rows, folder / f"{SCOPE}.parquet")


def _one_copy(data_dir: Path) -> Path:
    (copy,) = compact.copies_dir(data_dir, "articles").glob("*.parquet")
    return copy


def test_the_articles_copy_is_sorted_by_url_then_date_in_small_row_groups(tmp_path: Path) -> None:
    """A URL's versions sit together in few row groups, so a lookup by URL skips the rest."""
    data_dir = tmp_path / "data"
    urls = [f"https://a.test/{n:05d}" for n in range(12_000)]
    _bare_articles(data_dir, OCT_2, urls[::-1])
    _bare_articles(data_dir, OCT_1, urls[::2] + urls[1::2])
    _bare_articles(data_dir, NOV_1, urls[:1])  # the open month
    compact.compact(data_dir)
    copy = _one_copy(data_dir)
    meta = pq.read_metadata(copy)
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(groups) == 24_000
    assert max(groups) <= compact.ROW_GROUP_ROWS["articles"] < 24_000
    got = pq.read_table(copy, columns=["url", "run_date"]).to_pylist()
    assert got == sorted(got, key=lambda r: (r["url"], r["run_date"]))
    assert got[:2] == [
        {"url": urls[0], "run_date": OCT_1},
        {"url": urls[0], "run_date": OCT_2},
    ]


@pytest.mark.parametrize("fault", ["cut short", "rows lost"])
def test_a_copy_that_does_not_read_back_as_written_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    data_dir = tmp_path / "data"
    _bare_articles(data_dir, OCT_1, [A])
    _bare_articles(data_dir, NOV_1, [A])
    written = compact._copy_rows

    def faulty(target: Path, *args: object, **kwargs: object) -> int:
        rows = written(target, *args, **kwargs)  # type: ignore[arg-type]
        if fault == "cut short":
            target.write_bytes(target.read_bytes()[:-100])
            return rows
        return rows + 1  # the file holds fewer rows than were read

    monkeypatch.setattr(compact, "_copy_rows", faulty)
    with pytest.raises(compact.CompactionError, match="2026-10--2026-10"):
        compact.compact(data_dir)
    folder = compact.copies_dir(data_dir, "articles")
    assert list(folder.iterdir()) == []  # neither the copy nor its temporary file
    assert [m.copy for m in compact.months(data_dir, "articles")] == [None, None]


@pytest.mark.parametrize(
    "file",
    [
        "lake/articles/run_date=2026-11-28/ingest-1.parquet",
        "/srv/run_date=2020-01-01/data/lake/mentions/run_date=2026-11-28/archive-part-2.parquet",
    ],
)
def test_the_date_of_a_daily_file_is_its_partition_folders(file: str) -> None:
    assert compact.date_of(file) == "2026-11-28"
