"""The DuckDB-backed signature index over real Parquet files, and dedup across runs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tasks.dedupe import BANDS, DOCUMENT_BAND, DedupResult, band_hashes, dedupe, sign
from tasks.records import Article
from tasks.urls import article_id
from warehouse.dedup_index import ParquetSignatureIndex, signatures_table
from warehouse.schema import DEDUP_SIGNATURES

T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)
DAY1 = date(2026, 5, 1)
DAY2 = date(2026, 5, 2)

_WORDS = """
minister council harbour budget storm rescue vote court ruling village farmers drought
police festival museum school teachers strike bridge river mayor election campaign
report hospital doctors patients vaccine energy prices market shares investors bank
railway station workers union talks agreement border troops ceasefire refugees aid
climate summit emissions coal wind solar grid outage company profits quarter growth
"""
_VOCAB = tuple(_WORDS.split())


def story(seed: int, paragraphs: int = 8) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_VOCAB) for _ in range(40)) + "." for _ in range(paragraphs)]


def article(url: str, paras: Sequence[str], *, hours: float = 0) -> Article:
    return Article(
        source_id=url.split("/")[2],
        url=url,
        final_url=url,
        canonical_url=url,
        title=None,
        body="\n\n".join(paras),
        fetched_at=T0 + timedelta(days=2),
        published_at=T0 + timedelta(hours=hours),
    )


def wire_copy(paras: list[str]) -> list[str]:
    return ["NEW YORK (AP) - " + paras[0], *paras[1:-1], "Our reporter contributed to this story."]


def publish(lake: Path, run_date: date, scope: str, result: DedupResult, run_id: str) -> Path:
    """Write a run's signatures where the lead's publisher puts them."""
    folder = lake / "dedup_signatures" / f"run_date={run_date.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scope}.parquet"
    pq.write_table(signatures_table(result.signatures, run_id=run_id), path)
    return path


def index(lake: Path, exclude: tuple[date, str] | None = None) -> ParquetSignatureIndex:
    return ParquetSignatureIndex(lake, exclude=exclude, threads=1)


def test_signatures_table_has_one_document_row_and_one_row_per_band(tmp_path: Path) -> None:
    batch = [article("https://a.example/1", story(1)), article("https://b.example/2", story(2))]
    result = dedupe(batch, index(tmp_path))
    table = signatures_table(result.signatures, run_id="run-1")
    assert table.schema.equals(DEDUP_SIGNATURES)
    path = publish(tmp_path, DAY1, "nightly", result, "run-1")
    con = duckdb.connect()
    rows = con.execute(
        "SELECT article_id, count(*) FILTER (band = ?), count(*) FILTER (band >= 0),"
        " count(DISTINCT band_hash) FILTER (band >= 0), any_value(run_id)"
        " FROM read_parquet(?) GROUP BY article_id ORDER BY article_id",
        [DOCUMENT_BAND, str(path)],
    ).fetchall()
    expected = sorted(article_id(a.canonical_url) for a in batch)
    assert [r[0] for r in rows] == expected
    assert all(r[1:] == (1, BANDS, BANDS, "run-1") for r in rows)


def test_empty_lake_has_no_candidates(tmp_path: Path) -> None:
    with index(tmp_path) as idx:
        assert idx.files() == []
        assert idx.latest(["x"]) == {}
        assert idx.by_body_hash(["x"]) == {}
        assert idx.by_bands([(0, 1)], 10) == []


def test_wire_copy_in_a_later_run_joins_the_stored_cluster(tmp_path: Path) -> None:
    paras = story(3)
    first = dedupe([article("https://wire.example/s", paras)], index(tmp_path))
    publish(tmp_path, DAY1, "nightly", first, "run-1")
    second = dedupe(
        [
            article("https://paper.example/s", wire_copy(paras), hours=5),
            article("https://paper.example/other", story(4), hours=6),
        ],
        index(tmp_path),
    )
    copy, other = second.decisions
    origin_id = article_id("https://wire.example/s")
    assert first.decisions[0].cluster_id == origin_id
    assert (copy.duplicate_kind, copy.cluster_id, copy.duplicate_of) == (
        "near",
        origin_id,
        origin_id,
    )
    assert 0.5 < copy.similarity < 1.0
    assert other.duplicate_kind is None
    assert other.cluster_id == other.article_id


def test_identical_body_in_a_later_run_is_an_exact_duplicate(tmp_path: Path) -> None:
    paras = story(5)
    first = dedupe([article("https://one.example/s", paras)], index(tmp_path))
    publish(tmp_path, DAY1, "nightly", first, "run-1")
    second = dedupe([article("https://two.example/t", paras, hours=3)], index(tmp_path))
    decision = second.decisions[0]
    assert decision.duplicate_kind == "exact"
    assert decision.cluster_id == first.decisions[0].cluster_id


def test_changed_body_at_the_same_url_is_a_new_version_of_the_same_article(
    tmp_path: Path,
) -> None:
    paras = story(6)
    url = "https://one.example/s"
    v1 = dedupe([article(url, paras)], index(tmp_path))
    publish(tmp_path, DAY1, "nightly", v1, "run-1")
    updated = [*paras[:-1], "Update: the council has postponed the vote until next week."]
    v2 = dedupe([article(url, updated)], index(tmp_path))
    publish(tmp_path, DAY2, "nightly", v2, "run-2")
    unchanged = dedupe([article(url, updated)], index(tmp_path))

    first, second, third = v1.decisions[0], v2.decisions[0], unchanged.decisions[0]
    assert first.article_id == second.article_id == third.article_id == article_id(url)
    assert (first.version, second.version, third.version) == (1, 2, 2)
    assert second.cluster_id == first.cluster_id
    assert second.duplicate_kind is None
    assert second.version_change is not None
    assert 0.0 < second.version_change < 0.5
    assert third.duplicate_kind == "canonical_url"
    assert unchanged.signatures == ()
    with index(tmp_path) as idx:
        assert idx.latest([article_id(url)])[article_id(url)].version == 2


def test_rerun_of_the_same_date_does_not_see_its_own_previous_output(tmp_path: Path) -> None:
    batch = [
        article("https://wire.example/s", story(7)),
        article("https://paper.example/s", wire_copy(story(7)), hours=2),
        article("https://other.example/t", story(8), hours=1),
    ]
    first = dedupe(batch, index(tmp_path, exclude=(DAY1, "nightly")))
    publish(tmp_path, DAY1, "nightly", first, "run-1")
    rerun = dedupe(list(reversed(batch)), index(tmp_path, exclude=(DAY1, "nightly")))
    assert tuple(reversed(rerun.decisions)) == first.decisions
    assert sorted(rerun.signatures, key=lambda s: s.article_id) == sorted(
        first.signatures, key=lambda s: s.article_id
    )
    # Without the exclusion the same batch would see itself as already stored.
    seen = dedupe(batch, index(tmp_path))
    assert {d.duplicate_kind for d in seen.decisions} == {"canonical_url"}


def test_files_of_other_scopes_in_the_same_partition_are_seen(tmp_path: Path) -> None:
    paras = story(9)
    backfill = dedupe([article("https://wire.example/s", paras)], index(tmp_path))
    publish(tmp_path, DAY1, "backfill", backfill, "run-0")
    with index(tmp_path, exclude=(DAY1, "nightly")) as idx:
        assert [p.name for p in idx.files()] == ["backfill.parquet"]
        result = dedupe([article("https://paper.example/s", wire_copy(paras), hours=1)], idx)
    assert result.decisions[0].cluster_id == backfill.decisions[0].cluster_id


def test_cluster_id_stays_when_an_earlier_published_member_arrives_later(
    tmp_path: Path,
) -> None:
    paras = story(10)
    late_copy = dedupe(
        [article("https://paper.example/s", wire_copy(paras), hours=10)], index(tmp_path)
    )
    publish(tmp_path, DAY1, "nightly", late_copy, "run-1")
    original = dedupe([article("https://wire.example/s", paras, hours=0)], index(tmp_path))
    assert original.decisions[0].cluster_id == late_copy.decisions[0].cluster_id
    assert original.decisions[0].duplicate_kind == "near"


def test_band_lookup_returns_at_most_limit_versions_per_band_hash(tmp_path: Path) -> None:
    paras = story(11)
    copies = [article(f"https://s{i}.example/x", paras, hours=i) for i in range(5)]
    result = dedupe(copies, index(tmp_path))
    publish(tmp_path, DAY1, "nightly", result, "run-1")
    probe = sign(copies[0])
    bands = list(enumerate(band_hashes(probe.values()).tolist()))
    with index(tmp_path) as idx:
        limited = idx.by_bands(bands, 2)
        everything = idx.by_bands(bands, 50)
    assert len(limited) == 2
    assert len(everything) == 5
    assert {s.article_id for s in limited} < {s.article_id for s in everything}


def test_stored_signature_round_trips_through_parquet(tmp_path: Path) -> None:
    result = dedupe([article("https://one.example/s", story(12))], index(tmp_path))
    publish(tmp_path, DAY1, "nightly", result, "run-1")
    (written,) = result.signatures
    with index(tmp_path) as idx:
        read = idx.latest([written.article_id])[written.article_id]
    assert replace(read, similarity=written.similarity) == written
    assert read.similarity == pytest.approx(written.similarity)


def test_new_version_of_an_exact_copy_stays_in_its_cluster_as_a_near_duplicate(
    tmp_path: Path,
) -> None:
    paras = story(13)
    first = dedupe(
        [
            article("https://wire.example/s", paras),
            article("https://paper.example/s", paras, hours=1),
        ],
        index(tmp_path),
    )
    publish(tmp_path, DAY1, "nightly", first, "run-1")
    assert first.decisions[1].duplicate_kind == "exact"
    edited = [*paras[:-1], "Correction: an earlier version misstated the date of the vote."]
    second = dedupe([article("https://paper.example/s", edited, hours=1)], index(tmp_path))
    decision = second.decisions[0]
    assert decision.version == 2
    assert decision.cluster_id == first.decisions[0].article_id
    assert decision.duplicate_kind == "near"
    assert 0.5 < decision.similarity < 1.0
