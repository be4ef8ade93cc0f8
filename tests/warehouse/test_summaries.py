"""The summaries a run asks instead of the whole lake: kept up to date by publications, and
never the cause of a wrong answer when missing, stale or broken."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample

from warehouse import summaries
from warehouse.lake import data_file, list_lake, published_files
from warehouse.query import articles_per_source, latest_validators, seen_urls

DAY = date(2026, 11, 27)
SCOPE = "ingest-1"
ONLY_NEW = "http://a.test/2026-11-27/4"  # in the "new" variant of DAY, not in "old"
IN_BOTH = "http://a.test/2026-11-27/1"


class Crash(Exception):
    pass


def crash_at(step: str):  # type: ignore[no-untyped-def]
    def hook(name: str) -> None:
        if name == step:
            raise Crash(name)

    return hook


def covered(data_dir: Path, kind: str, path: Path) -> bool:
    chosen, _ = summaries.split(data_dir, kind, [path])
    return bool(chosen)


def summarised_urls(data_dir: Path, path: Path) -> set[str]:
    """Every URL any `seen` segment holds for the lake file `path`, current or not."""
    paths = [str(s.path) for s in summaries.segments(data_dir, "seen")]
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT url FROM read_parquet($p) WHERE file = $f",
            {"p": paths, "f": summaries.key_of(data_dir, path)},
        ).fetchall()
    return {row[0] for row in rows}


def test_a_publication_summarises_its_files_and_the_answer_comes_from_there(
    tmp_path: Path,
) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    articles = data_file(tmp_path, "articles", DAY, SCOPE)
    fetch_log = data_file(tmp_path, "fetch_log", DAY, SCOPE)
    assert covered(tmp_path, "seen", articles)
    assert covered(tmp_path, "article_days", articles)
    assert covered(tmp_path, "validators", fetch_log)
    assert ONLY_NEW in summarised_urls(tmp_path, articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW, "http://elsewhere.test/"])) == {ONLY_NEW}


def test_a_crash_between_the_data_and_its_summary_leaves_answers_right(tmp_path: Path) -> None:
    with pytest.raises(Crash):
        publish_sample(tmp_path, DAY, SCOPE, "new", on_step=crash_at("summaries"))
    articles = data_file(tmp_path, "articles", DAY, SCOPE)
    assert articles.exists()
    assert not covered(tmp_path, "seen", articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW])) == {ONLY_NEW}  # read from the lake file
    assert [row[0] for row in articles_per_source(tmp_path, 5)] != []

    publish_sample(tmp_path, DAY + timedelta(days=1), SCOPE, "new")  # the next one catches up
    assert covered(tmp_path, "seen", articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW])) == {ONLY_NEW}


def test_a_reprocessed_date_is_not_answered_from_its_old_summary(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    assert set(seen_urls(tmp_path, [ONLY_NEW])) == {ONLY_NEW}
    # The date is reprocessed and the process dies before its summary is written: the old
    # summary still names the file, but not the file that is there now.
    with pytest.raises(Crash):
        publish_sample(tmp_path, DAY, SCOPE, "old", on_step=crash_at("summaries"))
    assert seen_urls(tmp_path, [ONLY_NEW, IN_BOTH]).keys() == {IN_BOTH}

    summaries.refresh(tmp_path)
    assert seen_urls(tmp_path, [ONLY_NEW, IN_BOTH]).keys() == {IN_BOTH}
    articles = data_file(tmp_path, "articles", DAY, SCOPE)
    assert ONLY_NEW not in summarised_urls(tmp_path, articles)  # merged away


def test_segments_stay_few_as_dates_accumulate(tmp_path: Path) -> None:
    days = [DAY - timedelta(days=n) for n in range(9)]
    for day in days:
        publish_sample(tmp_path, day, SCOPE, "new")
    held = summaries.segments(tmp_path, "seen")
    assert sorted(len(s.covers) for s in held) == [1, 8]  # 9 files: a binary counter's 1001
    files = published_files(tmp_path, "articles")
    chosen, direct = summaries.split(tmp_path, "seen", files)
    assert direct == []
    assert len(chosen) == 9
    asked = [f"http://a.test/{day.isoformat()}/4" for day in days]
    assert set(seen_urls(tmp_path, asked)) == set(asked)


def test_an_unreadable_or_missing_summary_costs_time_not_answers(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    feed_and_pages = [f"http://a.test/2026-11-27/{i}" for i in range(6)] + ["http://a.test/feed.xml"]
    validators = latest_validators(tmp_path, feed_and_pages)
    assert "http://a.test/feed.xml" in validators
    history = articles_per_source(tmp_path, 5)
    for segment in summaries.segments(tmp_path, "seen") + summaries.segments(
        tmp_path, "validators"
    ):
        segment.path.write_bytes(b"not parquet")
    assert set(seen_urls(tmp_path, [ONLY_NEW])) == {ONLY_NEW}
    assert latest_validators(tmp_path, feed_and_pages) == validators

    shutil.rmtree(summaries.kind_dir(tmp_path, "seen").parent)
    assert set(seen_urls(tmp_path, [ONLY_NEW])) == {ONLY_NEW}
    assert latest_validators(tmp_path, feed_and_pages) == validators
    assert articles_per_source(tmp_path, 5) == history

    summaries.refresh(tmp_path)  # the next publication writes them again
    assert covered(tmp_path, "seen", data_file(tmp_path, "articles", DAY, SCOPE))


def test_merging_drops_the_rows_of_files_that_left_the_lake(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    publish_sample(tmp_path, DAY + timedelta(days=1), SCOPE, "new")
    gone = data_file(tmp_path, "articles", DAY, SCOPE)
    assert summarised_urls(tmp_path, gone)
    gone.unlink()  # as when recovery quarantines a broken file
    for n in (2, 3):  # the segments of 2, 1 and 1 files merge into one
        publish_sample(tmp_path, DAY + timedelta(days=n), SCOPE, "new")
    assert len(summaries.segments(tmp_path, "seen")) == 1
    assert summarised_urls(tmp_path, gone) == set()


def test_a_file_replaced_while_it_is_summarised_is_left_to_be_read_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Crash):
        publish_sample(tmp_path, DAY, SCOPE, "new", on_step=crash_at("summaries"))
    articles = data_file(tmp_path, "articles", DAY, SCOPE)
    copy = tmp_path / "copy.parquet"
    shutil.copy(articles, copy)
    real = summaries._direct_sql

    def replaced_meanwhile(data_dir: Path, kind: str, files: list[Path]) -> str:
        if copy.exists():  # another publication renames its file in between
            os.replace(copy, articles)
        return real(data_dir, kind, files)

    monkeypatch.setattr(summaries, "_direct_sql", replaced_meanwhile)
    summaries.refresh(tmp_path)
    assert not covered(tmp_path, "seen", articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW])) == {ONLY_NEW}


def test_a_listing_that_went_stale_costs_time_not_answers(tmp_path: Path) -> None:
    with pytest.raises(Crash):
        publish_sample(tmp_path, DAY, SCOPE, "new", on_step=crash_at("summaries"))
    listing = list_lake(tmp_path)  # what a publication listed, before a rerun of the date
    articles = data_file(tmp_path, "articles", DAY, SCOPE)
    elsewhere = tmp_path / "elsewhere"
    publish_sample(elsewhere, DAY, SCOPE, "old")
    shutil.copy(data_file(elsewhere, "articles", DAY, SCOPE), tmp_path / "old.parquet")
    os.replace(tmp_path / "old.parquet", articles)

    summaries.refresh(tmp_path, listing)

    assert not covered(tmp_path, "seen", articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW, IN_BOTH])) == {IN_BOTH}  # the file as it is now
    summaries.refresh(tmp_path)  # listed afresh: covered again
    assert covered(tmp_path, "seen", articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW, IN_BOTH])) == {IN_BOTH}


def test_a_segment_read_whole_holds_no_rows_of_a_file_it_does_not_cover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = DAY + timedelta(days=1)
    for day in (DAY, later):
        with pytest.raises(Crash):
            publish_sample(tmp_path, day, SCOPE, "new", on_step=crash_at("summaries"))
    articles = data_file(tmp_path, "articles", DAY, SCOPE)
    elsewhere = tmp_path / "elsewhere"
    publish_sample(elsewhere, DAY, SCOPE, "old")
    shutil.copy(data_file(elsewhere, "articles", DAY, SCOPE), tmp_path / "old.parquet")
    real = summaries._unchanged

    def rerun_after_the_read(*args: Any) -> bool:
        if (tmp_path / "old.parquet").exists():  # a rerun renames its file once it was read
            os.replace(tmp_path / "old.parquet", articles)
        return real(*args)

    monkeypatch.setattr(summaries, "_unchanged", rerun_after_the_read)
    summaries.refresh(tmp_path)

    assert not covered(tmp_path, "seen", articles)
    assert covered(tmp_path, "seen", data_file(tmp_path, "articles", later, SCOPE))
    assert ONLY_NEW not in summarised_urls(tmp_path, articles)
    assert set(seen_urls(tmp_path, [ONLY_NEW, IN_BOTH])) == {IN_BOTH}


def test_a_file_left_unsummarised_beside_summarised_ones_is_read_directly(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    later = DAY + timedelta(days=1)
    with pytest.raises(Crash):  # the next run's questions meet both kinds of file
        publish_sample(tmp_path, later, SCOPE, "new", on_step=crash_at("summaries"))
    assert covered(tmp_path, "seen", data_file(tmp_path, "articles", DAY, SCOPE))
    assert not covered(tmp_path, "seen", data_file(tmp_path, "articles", later, SCOPE))
    newer = f"http://a.test/{later.isoformat()}/4"
    assert set(seen_urls(tmp_path, [ONLY_NEW, newer, "http://elsewhere.test/"])) == {
        ONLY_NEW,
        newer,
    }


def _lake_urls(data_dir: Path) -> set[str]:
    """Every URL an articles row of the lake holds, read from the lake files themselves."""
    files = [str(p) for p in published_files(data_dir, "articles")]
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT unnest([url, final_url, canonical_url]) FROM read_parquet($f)", {"f": files}
        ).fetchall()
    return {row[0] for row in rows if row[0] is not None}


def _small_groups_of_dates(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> list[date]:
    """`count` dates published oldest first into summaries of 2-row groups (many groups from
    a few dates); returns them newest first."""
    monkeypatch.setattr(summaries, "GROUP_ROWS", 2)
    days = [DAY - timedelta(days=n) for n in range(count)]
    for day in reversed(days):
        publish_sample(data_dir, day, SCOPE, "new")
    return days


def test_a_lookup_reads_the_row_groups_that_may_hold_its_urls_and_finds_the_oldest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = _small_groups_of_dates(tmp_path, monkeypatch, 5)
    oldest = sorted(u for u in _lake_urls(tmp_path) if days[-1].isoformat() in u)
    middle = f"http://a.test/{days[2].isoformat()}/1"
    asked = [*oldest, middle, f"http://a.test/{DAY.isoformat()}/1", "http://a.test/never/1"]
    feeds = ["http://a.test/feed.xml", *oldest]
    seen = seen_urls(tmp_path, asked)
    validators = latest_validators(tmp_path, feeds)

    assert set(seen) == set(asked) & _lake_urls(tmp_path)
    assert set(oldest) <= set(seen)
    widest = max(summaries.segments(tmp_path, "seen"), key=lambda s: len(s.covers))
    assert widest.by_url
    groups = pq.read_metadata(widest.path).num_row_groups
    assert 0 < len(summaries._groups_holding(pq.read_metadata(widest.path), oldest)) < groups

    rerun = seen_urls(tmp_path, asked, exclude=(days[2], SCOPE))  # as a rerun of that date asks
    assert middle in seen
    assert middle not in rerun  # its own file left out, though a segment holds it with others
    assert set(rerun) == set(seen) - {middle}

    shutil.rmtree(summaries.kind_dir(tmp_path, "seen").parent)  # every file read directly
    assert seen_urls(tmp_path, asked) == seen
    assert seen_urls(tmp_path, asked, exclude=(days[2], SCOPE)) == rerun
    assert latest_validators(tmp_path, feeds) == validators


def test_a_lookup_reads_whole_only_the_row_groups_that_hold_a_url_asked_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_groups_of_dates(tmp_path, monkeypatch, 4)
    widest = max(summaries.segments(tmp_path, "seen"), key=lambda s: len(s.covers))
    handle = pq.ParquetFile(widest.path)
    groups = handle.metadata.num_row_groups
    rows_of = [
        sorted(handle.read_row_group(g, columns=["url"]).column("url").to_pylist())
        for g in range(groups)
    ]
    held = sorted(u for rows in rows_of for u in rows)
    # Between two URLs of one group: inside that group's bounds, in none of its rows.
    absent = next(  # of a group other than the first and the last, asked about below
        f"{rows[0]} "
        for rows in rows_of[1:-1]
        if f"{rows[0]} " < rows[-1] and f"{rows[0]} " not in held
    )
    assert summaries._groups_holding(handle.metadata, [absent])  # the bounds cannot tell

    bounded = summaries._groups_holding(handle.metadata, [absent])
    assert summaries._groups_with(handle, bounded, pa.array([absent])) == []
    asked = sorted([absent, held[0], held[-1]])
    holding = summaries._groups_with(
        handle, summaries._groups_holding(handle.metadata, asked), pa.array(asked)
    )
    assert holding == [g for g in range(groups) if set(rows_of[g]) & {held[0], held[-1]}]
    assert set(seen_urls(tmp_path, asked)) == {held[0], held[-1]} == set(asked) & _lake_urls(
        tmp_path
    )
