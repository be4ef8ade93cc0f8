"""Publication: layout, atomic replacement of a run's files, recovery of a damaged lake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lakedata import publish_sample, run_script, snapshot, tables

from warehouse.catalog import build_catalog
from warehouse.convert import SchemaError
from warehouse.lake import (
    CorruptLakeFile,
    PublicationBusy,
    StorageError,
    catalog_path,
    data_file,
    quarantine_dir,
    staging_dir,
)
from warehouse.publish import PUBLISH_ORDER, Publication, PublishError
from warehouse.raw import RawArchive, archives_of, read_record
from warehouse.schema import TABLES

DAY = date(2026, 11, 27)
SCOPE = "ingest-3f2a9c1b"


def _count(data_dir: Path, sql: str) -> int:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]  # type: ignore[index]
    finally:
        con.close()


def test_commit_writes_one_file_per_table_and_the_raw_archive(tmp_path: Path) -> None:
    catalog = publish_sample(tmp_path, DAY, SCOPE, "new")

    assert catalog == tmp_path / "newsflow.duckdb"
    for table in TABLES:
        path = data_file(tmp_path, table, DAY, SCOPE)
        assert path == tmp_path / "lake" / table / "run_date=2026-11-27" / f"{SCOPE}.parquet"
        assert pq.read_schema(path).equals(TABLES[table])
    assert len(archives_of(tmp_path, DAY, SCOPE)) == 1
    assert _count(tmp_path, "SELECT count(*) FROM stg_articles") == 5
    linked = "SELECT count(*) FROM stg_articles WHERE raw_record_id LIKE '%.pending.%'"
    assert _count(tmp_path, linked) == 0  # provisional ids were made final
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_batches_append_to_one_file(tmp_path: Path) -> None:
    rows = tables(DAY, SCOPE, "new")["mentions"]
    with Publication(tmp_path, DAY, SCOPE) as publication:
        for batch in rows.to_batches(max_chunksize=1):
            publication.write("mentions", pa.Table.from_batches([batch]))
    published = pq.ParquetFile(data_file(tmp_path, "mentions", DAY, SCOPE))
    assert published.metadata.num_rows == rows.num_rows
    assert published.metadata.num_row_groups == rows.num_rows  # streamed, not held in memory
    assert published.read().equals(rows)


def test_rerun_same_date_replaces_partition(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    first = snapshot(tmp_path)
    publish_sample(tmp_path, DAY, SCOPE, "new")

    assert snapshot(tmp_path) == first  # identical rows, no extra files
    assert _count(tmp_path, "SELECT count(*) - count(DISTINCT article_id) FROM stg_articles") == 0
    assert _count(tmp_path, "SELECT count(*) FROM articles") == _count(
        tmp_path, "SELECT count(DISTINCT article_id) FROM articles"
    )


def test_rerun_with_fewer_rows_replaces_the_old_ones(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    publish_sample(tmp_path, DAY, SCOPE, "empty")

    expected = tables(DAY, SCOPE, "empty")  # tables without rows were never written to
    expected_rows = {t: expected[t].num_rows for t in expected} | {"superseded": 0}
    for table in TABLES:
        rows = pq.read_metadata(data_file(tmp_path, table, DAY, SCOPE)).num_rows
        assert rows == expected_rows[table], table
    assert _count(tmp_path, "SELECT count(*) FROM article_versions") == 0


def test_other_scopes_and_dates_are_kept(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    publish_sample(tmp_path, DAY, "backfill-1", "old")
    publish_sample(tmp_path, date(2026, 11, 28), SCOPE, "old")
    assert _count(tmp_path, "SELECT count(*) FROM stg_runs") == 3
    assert _count(tmp_path, "SELECT count(DISTINCT run_date) FROM stg_articles") == 2


def test_abort_publishes_nothing(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "old")
    before = snapshot(tmp_path)
    publication = Publication(tmp_path, DAY, SCOPE)
    publication.write("articles", tables(DAY, SCOPE, "new")["articles"])
    publication.abort()
    assert snapshot(tmp_path) == before
    assert list(staging_dir(tmp_path).iterdir()) == []


def _write_then_fail(data_dir: Path) -> None:
    with Publication(data_dir, DAY, SCOPE) as publication:
        publication.write("articles", tables(DAY, SCOPE, "new")["articles"])
        raise KeyError("boom")


def test_exception_inside_with_block_aborts(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        _write_then_fail(tmp_path)
    assert not (tmp_path / "lake" / "articles").exists()


def test_write_rejects_rows_that_do_not_fit_the_schema(tmp_path: Path) -> None:
    publication = Publication(tmp_path, DAY, SCOPE)
    bad = tables(DAY, SCOPE, "new")["mentions"].drop_columns(["label"])
    with pytest.raises(SchemaError, match="label"):
        publication.write("mentions", bad)
    missing_id = tables(DAY, SCOPE, "new")["quotes"].set_column(
        2, "article_id", pa.nulls(5, pa.string())
    )
    with pytest.raises(SchemaError, match="article_id"):
        publication.write("quotes", missing_id)
    declared = pa.Table.from_arrays(missing_id.columns, schema=TABLES["quotes"])
    with pytest.raises(SchemaError, match=r"^quotes\.article_id is required"):
        publication.write("quotes", declared)
    extra = tables(DAY, SCOPE, "new")["rejected"].append_column("colour", pa.nulls(2))
    with pytest.raises(SchemaError, match=r"unknown columns \['colour'\]"):
        publication.write("rejected", extra)
    with pytest.raises(ValueError, match="unknown table"):
        publication.write("nope", [])
    publication.abort()


@pytest.mark.parametrize("scope", ["", ".hidden", "a/b", "../up", "x" * 200])
def test_unsafe_scope_is_refused(tmp_path: Path, scope: str) -> None:
    with pytest.raises(ValueError, match="scope"):
        Publication(tmp_path, DAY, scope)


# ------------------------------------------------------------ RELIABILITY row 2


def test_stale_staging_is_cleaned_and_broken_files_are_quarantined(tmp_path: Path) -> None:
    publish_sample(tmp_path, date(2026, 11, 25), SCOPE, "new")
    publish_sample(tmp_path, date(2026, 11, 26), SCOPE, "new")
    killed = run_script("publisher.py", str(tmp_path), DAY.isoformat(), SCOPE, "new", "fsynced")
    assert killed.returncode != 0
    assert any(staging_dir(tmp_path).iterdir())  # the dead publisher's files
    stale_catalog = tmp_path / ".newsflow.duckdb.0123abcd.tmp"  # a catalog build killed midway
    stale_catalog.write_bytes(b"half a database")
    truncated = data_file(tmp_path, "articles", date(2026, 11, 25), SCOPE)
    broken = truncated.read_bytes()[:-40]
    truncated.write_bytes(broken)
    empty = data_file(tmp_path, "mentions", date(2026, 11, 26), SCOPE)
    empty.write_bytes(b"")

    with pytest.raises(CorruptLakeFile) as failure:
        Publication(tmp_path, DAY, SCOPE)

    assert str(truncated) in str(failure.value)
    assert str(empty) in str(failure.value)
    assert set(failure.value.moved) == {truncated, empty}
    assert not truncated.exists()
    assert not empty.exists()
    moved = quarantine_dir(tmp_path) / truncated.relative_to(tmp_path)
    assert moved.read_bytes() == broken
    assert list(staging_dir(tmp_path).iterdir()) == []
    assert not stale_catalog.exists()
    # Nothing was published over the broken lake, and the views answer without the files.
    assert not data_file(tmp_path, "articles", DAY, SCOPE).exists()
    assert _count(tmp_path, "SELECT count(*) FROM stg_articles") == 5
    assert _count(tmp_path, "SELECT count(*) FROM stg_mentions") == 5

    publish_sample(tmp_path, DAY, SCOPE, "new")  # the next run goes ahead
    assert _count(tmp_path, "SELECT count(*) FROM stg_articles") == 10


def test_a_lake_with_only_broken_files_still_opens(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    data_file(tmp_path, "runs", DAY, SCOPE).write_bytes(b"PAR1")
    with pytest.raises(CorruptLakeFile, match="runs"):
        Publication(tmp_path, DAY, SCOPE)
    assert _count(tmp_path, "SELECT count(*) FROM runs") == 0


def test_recovery_leaves_a_live_publishers_staging_alone(tmp_path: Path) -> None:
    first = Publication(tmp_path, DAY, SCOPE)
    first.write("articles", tables(DAY, SCOPE, "new")["articles"])
    second = Publication(tmp_path, DAY, "other-scope")
    second.abort()
    first.commit()
    assert pq.read_metadata(data_file(tmp_path, "articles", DAY, SCOPE)).num_rows == 5


def test_two_publishers_of_the_same_run_are_refused(tmp_path: Path) -> None:
    first = Publication(tmp_path, DAY, SCOPE)
    with pytest.raises(PublicationBusy):
        Publication(tmp_path, DAY, SCOPE)
    first.abort()
    Publication(tmp_path, DAY, SCOPE).abort()  # free again


def test_catalog_build_on_an_empty_data_dir_answers_every_view(tmp_path: Path) -> None:
    catalog = build_catalog(tmp_path / "fresh")
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        names = [
            row[0]
            for row in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal"
            ).fetchall()
        ]
        assert {"articles", "duplicates", "article_versions", "stg_runs"} <= set(names)
        for name in set(names) - {"catalog_info"}:
            assert con.table(name).aggregate("count(*)").fetchall() == [(0,)], name
        info = con.execute("SELECT data_dir, catalog FROM catalog_info").fetchall()
        assert info == [(str(tmp_path / "fresh"), str(catalog.resolve()))]
    finally:
        con.close()


# ------------------------------------------------------------ what a caller relies on


def test_a_closed_publication_refuses_more_work(tmp_path: Path) -> None:
    committed = Publication(tmp_path, DAY, SCOPE)
    committed.commit()
    for attempt in (
        lambda: committed.write("rejected", tables(DAY, SCOPE, "new")["rejected"]),
        lambda: committed.spill("articles"),
        committed.commit,
    ):
        with pytest.raises(RuntimeError, match=f"publication 2026-11-27/{SCOPE} is committed"):
            attempt()
    published = snapshot(tmp_path)
    committed.abort()  # too late to abort: nothing changes
    assert snapshot(tmp_path) == published

    aborted = Publication(tmp_path, DAY, SCOPE)
    aborted.abort()
    aborted.abort()
    with pytest.raises(RuntimeError, match=f"publication 2026-11-27/{SCOPE} is aborted"):
        aborted.write("rejected", tables(DAY, SCOPE, "new")["rejected"])
    assert snapshot(tmp_path) == published


def test_write_takes_mappings_and_returns_the_number_of_rows(tmp_path: Path) -> None:
    rows = tables(DAY, SCOPE, "new")["rejected"]
    with Publication(tmp_path, DAY, SCOPE) as publication:
        assert publication.write("rejected", rows.to_pylist()) == 2
        assert publication.write("rejected", rows.slice(0, 1)) == 1
    published = pq.read_table(data_file(tmp_path, "rejected", DAY, SCOPE))
    assert published.to_pylist() == rows.to_pylist() + rows.slice(0, 1).to_pylist()


def test_write_puts_columns_in_schema_order_and_casts_compatible_types(tmp_path: Path) -> None:
    rows = tables(DAY, SCOPE, "new")["mentions"]
    loose = pa.table(
        {
            "start_char": pa.array(rows["start_char"].to_pylist(), pa.int64()),
            "end_char": pa.array(rows["end_char"].to_pylist(), pa.int64()),
            **{name: rows[name] for name in reversed(rows.column_names) if "_char" not in name},
        }
    )
    with Publication(tmp_path, DAY, SCOPE) as publication:
        publication.write("mentions", loose)
    published = pq.read_table(data_file(tmp_path, "mentions", DAY, SCOPE))
    assert published.schema.equals(TABLES["mentions"])
    assert published.to_pylist() == rows.to_pylist()


def test_a_column_that_cannot_take_the_schema_type_is_refused_naming_the_table(
    tmp_path: Path,
) -> None:
    rows = tables(DAY, SCOPE, "new")["mentions"]
    words = rows.set_column(
        rows.schema.get_field_index("start_char"), "start_char", pa.array(["x"] * rows.num_rows)
    )
    publication = Publication(tmp_path, DAY, SCOPE)
    with pytest.raises(SchemaError, match=r"^mentions: .*'x'.*int32"):
        publication.write("mentions", words)
    publication.abort()


def test_tables_are_zstd_compressed(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    metadata = pq.read_metadata(data_file(tmp_path, "articles", DAY, SCOPE))
    codecs = {
        metadata.row_group(g).column(c).compression
        for g in range(metadata.num_row_groups)
        for c in range(metadata.num_columns)
    }
    assert codecs == {"ZSTD"}


def test_a_raw_archive_of_another_run_is_refused(tmp_path: Path) -> None:
    publication = Publication(tmp_path, DAY, SCOPE)
    archive = RawArchive(tmp_path, date(2026, 11, 26), SCOPE)
    with pytest.raises(
        ValueError,
        match=f"raw archive is for 2026-11-26/{SCOPE}, publication for 2026-11-27/{SCOPE}",
    ):
        publication.add_raw(archive)
    archive.discard()
    publication.abort()


def test_a_reprocess_without_a_new_archive_keeps_the_one_its_rows_name(tmp_path: Path) -> None:
    publish_sample(tmp_path, DAY, SCOPE, "new")
    (archive,) = archives_of(tmp_path, DAY, SCOPE)
    articles = pq.read_table(data_file(tmp_path, "articles", DAY, SCOPE))
    with Publication(tmp_path, DAY, SCOPE) as publication:  # rows re-derived from the archive
        publication.write("articles", articles)
        publication.write("rejected", tables(DAY, SCOPE, "new")["rejected"])  # no raw ids

    assert archives_of(tmp_path, DAY, SCOPE) == [archive]
    for url, raw_record_id in zip(
        articles["url"].to_pylist(), articles["raw_record_id"].to_pylist(), strict=True
    ):
        assert read_record(tmp_path, raw_record_id).url == url


def test_a_partition_folder_that_cannot_be_made_is_named_and_nothing_is_published(
    tmp_path: Path,
) -> None:
    first = PUBLISH_ORDER[0]
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / first).write_bytes(b"a file where the table's folder belongs")
    publication = Publication(tmp_path, DAY, SCOPE)
    for table, rows in tables(DAY, SCOPE, "new").items():
        publication.write(table, rows)
    with pytest.raises(StorageError) as failure:
        publication.commit()
    folder = data_file(tmp_path, first, DAY, SCOPE).parent
    assert str(failure.value).startswith(f"cannot write {folder} in data dir {tmp_path}: ")
    assert not any(data_file(tmp_path, t, DAY, SCOPE).exists() for t in TABLES)
    assert list(staging_dir(tmp_path).iterdir()) == []


def _damage_at_fsynced(data_dir: Path, damage: Callable[[Path], None]) -> PublishError:
    """Publish a run whose staged articles file is changed after it was written and synced."""
    publish_sample(data_dir, DAY, SCOPE, "old")
    before = snapshot(data_dir)
    publication: Publication

    def step(name: str) -> None:
        if name == "fsynced":
            damage(publication.staged_path("articles"))

    publication = Publication(data_dir, DAY, SCOPE, on_step=step)
    for table, rows in tables(DAY, SCOPE, "new").items():
        publication.write(table, rows)
    with pytest.raises(PublishError) as failure:
        publication.commit()
    assert snapshot(data_dir) == before
    assert list(staging_dir(data_dir).iterdir()) == []
    return failure.value


def test_a_staged_file_that_does_not_read_back_is_not_published(tmp_path: Path) -> None:
    def truncate(path: Path) -> None:
        path.write_bytes(path.read_bytes()[:-100])

    error = _damage_at_fsynced(tmp_path, truncate)
    assert str(error).startswith(f"staged articles file {tmp_path / 'staging'}")
    assert "no Parquet magic bytes" in str(error)


def test_a_staged_file_with_other_rows_than_were_written_is_not_published(tmp_path: Path) -> None:
    def drop_a_row(path: Path) -> None:
        pq.write_table(pq.read_table(path).slice(1), path)

    error = _damage_at_fsynced(tmp_path, drop_a_row)
    assert str(error).startswith(f"staged articles file {tmp_path / 'staging'}")
    assert str(error).endswith(" holds 4 rows, 5 were written")
