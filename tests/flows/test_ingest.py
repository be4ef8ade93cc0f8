"""End to end: the nightly flow over the bundled sample site, under Prefect's test harness."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from flowenv import environment

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary
from warehouse.checks import failed_checks

RUN_DATE = date(2023, 10, 15)
SEED_TITLE = "Russia’s Putin accepts North Korea’s visit invitation after talks with Kim"
RELATED = "What Russia’s purchase of North Korean arms could mean for world security"
TABLES = (
    "articles",
    "duplicates",
    "fetch_log",
    "rejected",
    "mentions",
    "quotes",
    "dedup_signatures",
    "runs",
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("warehouse")
    settings = {"NEWSFLOW_DATA_DIR": str(path), "NEWSFLOW_PER_HOST_DELAY_S": "0.05"}
    with environment(settings):
        yield path


@pytest.fixture(scope="module")
def first_run(prefect_harness: None, data_dir: Path) -> RunSummary:
    return nightly_ingest(run_date=RUN_DATE)


def sql(data_dir: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def counts(data_dir: Path) -> dict[str, int]:
    return {t: sql(data_dir, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def seed(data_dir: Path) -> dict[str, Any]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        cursor = con.execute("SELECT * FROM articles WHERE title = ?", [SEED_TITLE])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert len(rows) == 1, rows
    return rows[0]


def test_run_completes_and_reports_the_catalog(first_run: RunSummary, data_dir: Path) -> None:
    assert first_run.status == "completed", first_run.failures
    assert Path(first_run.catalog) == data_dir / "newsflow.duckdb"
    assert first_run.rows_written["articles"] >= 30


def test_seed_article_is_published_with_its_title_and_without_the_related_headline(
    first_run: RunSummary, data_dir: Path
) -> None:
    article = seed(data_dir)
    assert article["source_id"] == "daily-courier"
    assert "KCNA said, without mentioning when any visit might take place." in article["body"]
    assert RELATED not in article["body"]
    assert article["body"].rstrip().endswith("He also praised the “heroic” Russian army.")


def test_seed_credit_line_is_in_its_own_field(first_run: RunSummary, data_dir: Path) -> None:
    article = seed(data_dir)
    assert "Additional reporting by Reuters" in article["credit_lines"]
    assert "Additional reporting" not in article["body"]


def test_wire_copy_and_tracking_parameter_copy_are_duplicates_of_the_seed(
    first_run: RunSummary, data_dir: Path
) -> None:
    original = seed(data_dir)
    rows = sql(
        data_dir,
        "SELECT url, duplicate_kind FROM duplicates WHERE duplicate_of = ? ORDER BY url",
        [original["article_id"]],
    )
    urls = {url: kind for url, kind in rows}
    wire = [u for u in urls if "putin-says-he-will-visit-north-korea" in u]
    tracking = [u for u in urls if "utm_source=rss" in u]
    assert len(wire) == 1
    assert urls[wire[0]] == "near"
    assert len(tracking) == 1
    cluster = sql(
        data_dir,
        "SELECT DISTINCT cluster_id FROM article_versions WHERE url = ? OR url = ?",
        [wire[0], original["url"]],
    )
    assert cluster == [(original["cluster_id"],)]


def test_seed_mentions_include_the_people_and_the_agency(
    first_run: RunSummary, data_dir: Path
) -> None:
    article = seed(data_dir)
    found = {
        text
        for (text,) in sql(
            data_dir, "SELECT text FROM mentions WHERE article_id = ?", [article["article_id"]]
        )
    }
    for name in ("Vladimir Putin", "Kim Jong-un", "KCNA", "Matthew Miller"):
        assert name in found, sorted(found)
    offsets = sql(
        data_dir,
        "SELECT text, start_char, end_char FROM mentions WHERE article_id = ? AND field = 'body'",
        [article["article_id"]],
    )
    body = article["body"]
    assert offsets
    assert all(body[start:end] == text for text, start, end in offsets)
    in_highlights = sql(
        data_dir,
        "SELECT item, start_char, end_char FROM mentions"
        " WHERE article_id = ? AND field = 'highlights' AND text = 'Vladimir Putin'",
        [article["article_id"]],
    )
    assert [
        (item, article["highlights"][item][start:end]) for item, start, end in in_highlights
    ] == [(0, "Vladimir Putin")]


def test_seed_quotes_name_their_speakers(first_run: RunSummary, data_dir: Path) -> None:
    article = seed(data_dir)
    speakers = dict(
        sql(
            data_dir,
            "SELECT text, speaker FROM quotes WHERE article_id = ?",
            [article["article_id"]],
        )
    )
    troubling = [s for t, s in speakers.items() if t.startswith("quite troubling")]
    assert troubling == ["Matthew Miller"]


def test_404_and_non_article_pages_are_rejected_with_their_reasons(
    first_run: RunSummary, data_dir: Path
) -> None:
    not_found = sql(
        data_dir,
        "SELECT reason, status FROM fetch_log WHERE url LIKE '%pound-slips-as-markets%'",
    )
    assert not_found == [("http_404", 404)]
    assert sql(
        data_dir, "SELECT stage, reason FROM rejected WHERE url LIKE '%pound-slips-as-markets%'"
    ) == [("fetch", "http_404")]
    pages = dict(
        sql(
            data_dir,
            "SELECT url, reason FROM rejected WHERE stage = 'extract'",
        )
    )
    index_pages = {u: r for u, r in pages.items() if u.endswith(("/world/", "/tag/energy/"))}
    assert sorted(index_pages.values()) == ["not_article", "not_article"]


def test_every_discovered_url_ends_as_exactly_one_row(
    first_run: RunSummary, data_dir: Path
) -> None:
    """Each URL discovery found is an article (maybe a duplicate) or a rejection, once."""
    leftovers = sql(
        data_dir,
        """
        WITH outcomes AS (
            SELECT url FROM article_versions
            UNION ALL SELECT url FROM rejected WHERE reason <> 'duplicate_url'
        )
        SELECT url, count(*) FROM outcomes GROUP BY url HAVING count(*) <> 1
        """,
    )
    assert leftovers == []
    fetched = sql(data_dir, "SELECT count(*) FROM fetch_log WHERE purpose = 'article'")[0][0]
    outcomes = sql(
        data_dir,
        "SELECT (SELECT count(*) FROM article_versions)"
        " + (SELECT count(*) FROM rejected WHERE stage IN ('fetch', 'extract'))",
    )[0][0]
    assert outcomes == fetched
    discovered = sum(c.discovered for c in first_run.per_source)
    total = sql(
        data_dir, "SELECT (SELECT count(*) FROM article_versions) + (SELECT count(*) FROM rejected)"
    )[0][0]
    assert total == discovered


def test_published_warehouse_passes_the_data_checks(first_run: RunSummary, data_dir: Path) -> None:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        assert failed_checks(con) == {}


def test_rerun_of_the_same_date_leaves_every_table_unchanged(
    first_run: RunSummary, data_dir: Path
) -> None:
    before = counts(data_dir)
    files_before = sorted(p.relative_to(data_dir) for p in (data_dir / "lake").rglob("*.parquet"))
    second = nightly_ingest(run_date=RUN_DATE)
    assert second.status == "completed"
    assert counts(data_dir) == before
    files_after = sorted(p.relative_to(data_dir) for p in (data_dir / "lake").rglob("*.parquet"))
    assert files_after == files_before
    assert sql(data_dir, "SELECT count(*) = count(DISTINCT article_id) FROM articles") == [(True,)]


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(*) FROM runs").fetchone()[0], flush=True)
    sys.stdin.readline()
    print(con.execute("SELECT count(*) FROM runs").fetchone()[0], flush=True)
    """
)


def test_run_publishes_while_another_process_holds_the_catalog_open(
    first_run: RunSummary, data_dir: Path
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir / "newsflow.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        runs_before = int(holder.stdout.readline())
        summary = nightly_ingest(run_date=date(2023, 10, 16))
        assert summary.status == "completed"
        holder.stdin.write("\n")
        holder.stdin.flush()
        runs_seen = int(holder.stdout.readline())
    finally:
        holder.wait(timeout=30)
    assert runs_seen == runs_before + 1


def test_seed_cluster_records_its_origin_and_the_wire_service(
    first_run: RunSummary, data_dir: Path
) -> None:
    article = seed(data_dir)
    rows = sql(
        data_dir,
        "SELECT origin_id, wire_service, members, sources FROM clusters WHERE cluster_id = ?",
        [article["cluster_id"]],
    )
    assert rows == [(article["article_id"], "Reuters", 3, 2)]


CLUSTER_COLUMNS = (
    "SELECT url, article_id, cluster_id, duplicate_of, duplicate_kind, round(similarity, 4)"
    " FROM article_versions ORDER BY url"
)


def test_shuffled_source_order_gives_identical_clusters(
    first_run: RunSummary, data_dir: Path, tmp_path: Path
) -> None:
    from flows.settings import SEEDS_DIR

    text = (SEEDS_DIR / "sources.toml").read_text(encoding="utf-8")
    head, *entries = text.split("[[source]]")
    shuffled = tmp_path / "shuffled.toml"
    shuffled.write_text(
        head + "".join("[[source]]" + e.rstrip() + "\n\n" for e in reversed(entries)),
        encoding="utf-8",
    )
    other = tmp_path / "other-warehouse"
    with environment({"NEWSFLOW_DATA_DIR": str(other)}):
        summary = nightly_ingest(run_date=RUN_DATE, sources_file=str(shuffled))
    order = [c.source_id for c in summary.per_source]
    assert order == [c.source_id for c in reversed(first_run.per_source)]
    assert sql(other, CLUSTER_COLUMNS) == sql(data_dir, CLUSTER_COLUMNS)


FETCH_LOG_OF_THE_DATE = "SELECT * FROM fetch_log WHERE run_date = ? ORDER BY ALL"
ARTICLE_COLUMNS = (
    "SELECT url, article_id, version, title, body, authors, published_at, credit_lines,"
    " cluster_id, duplicate_of FROM article_versions ORDER BY url"
)


def test_reprocess_rebuilds_a_date_from_the_raw_archive_without_fetching(
    first_run: RunSummary, data_dir: Path
) -> None:
    from flows.ingest import reprocess

    before = counts(data_dir)
    articles_before = sql(data_dir, ARTICLE_COLUMNS)
    fetch_log_before = sql(data_dir, FETCH_LOG_OF_THE_DATE, [RUN_DATE])
    summary = reprocess(run_date=RUN_DATE)
    assert summary.status == "completed"
    assert counts(data_dir) == before
    assert sql(data_dir, ARTICLE_COLUMNS) == articles_before
    # nothing was fetched: the fetch log is the one the nightly run published
    assert sql(data_dir, FETCH_LOG_OF_THE_DATE, [RUN_DATE]) == fetch_log_before
    assert sql(data_dir, "SELECT flow FROM runs WHERE run_date = ?", [RUN_DATE]) == [("reprocess",)]


LAKESIDE = "http://lakeside-echo.localhost/news/"


def test_the_section_only_outlet_gives_each_of_its_stories_once(
    first_run: RunSummary, data_dir: Path
) -> None:
    """Lakeside Echo has no feed or sitemap: its two section pages list five stories (one on
    both pages), amid a header, a "most read" box, related sections and a footer."""
    rows = sql(data_dir, "SELECT url FROM articles WHERE source_id = 'lakeside-echo' ORDER BY 1")
    assert [url for (url,) in rows] == [
        LAKESIDE + "council-approves-north-shore-footpath/",
        LAKESIDE + "farmers-market-moves-indoors-for-winter/",
        LAKESIDE + "lakeside-ferry-returns-to-service-after-hull-repairs/",
        LAKESIDE + "primary-school-pupils-plant-a-thousand-trees/",
        LAKESIDE + "rowing-club-marks-its-centenary-with-a-regatta/",
    ]
    pages = sql(
        data_dir,
        "SELECT url, reason FROM fetch_log WHERE purpose = 'section' AND run_date = ? ORDER BY 1",
        [RUN_DATE],
    )
    assert pages == [(LAKESIDE, "ok"), (LAKESIDE + "page/2/", "ok")]
    lakeside = next(c for c in first_run.per_source if c.source_id == "lakeside-echo")
    assert (lakeside.discovered, lakeside.new, lakeside.rejected) == (5, 5, {})


def test_the_news_sitemap_metadata_reaches_the_articles(
    first_run: RunSummary, data_dir: Path
) -> None:
    rows = dict(
        sql(
            data_dir,
            "SELECT regexp_extract(url, '[^/]+$'), keywords FROM articles"
            " WHERE source_id = 'nordic-wire' AND len(keywords) > 0",
        )
    )
    assert rows["reindeer-herders-use-drones-to-map-lichen-loss.html"] == [
        "reindeer herding",
        "Sámi",
        "climate",
        "drones",
        "Norway",
    ]
    assert rows["finnische-kleinstadt-heizt-mit-abwaerme-eines-rechenzentrums.html"] == [
        "Fernwärme",
        "Rechenzentrum",
        "Finnland",
    ]
    assert len(rows) == 7  # every story the news sitemap lists
    older = sql(
        data_dir,
        "SELECT keywords, published_source FROM articles"
        " WHERE url LIKE '%lapland-braces-for-record-winter%'",
    )
    assert older == [([], "url")]  # in sitemap.xml only: the date in its URL path
    # The news sitemap's publication time beats the day the URL path gives.
    reindeer = sql(
        data_dir,
        "SELECT published_at, published_source FROM articles"
        " WHERE url LIKE '%reindeer-herders-use-drones%'",
    )
    assert reindeer == [(datetime(2023, 10, 17, 8, 30, tzinfo=UTC), "news_sitemap")]


def test_the_site_source_says_what_its_home_page_led_to(
    first_run: RunSummary, data_dir: Path
) -> None:
    assert first_run.found == (
        "nordic-wire: sitemap http://nordic-wire.localhost/sitemap_index.xml (robots.txt)",
    )
    documents = sql(
        data_dir,
        "SELECT purpose, url FROM fetch_log WHERE source_id = 'nordic-wire'"
        " AND purpose <> 'article' AND run_date = ? ORDER BY fetched_at",
        [RUN_DATE],
    )
    assert documents == [
        ("robots", "http://nordic-wire.localhost/robots.txt"),
        ("site", "http://nordic-wire.localhost/"),
        ("sitemap", "http://nordic-wire.localhost/sitemap_index.xml"),
        ("sitemap", "http://nordic-wire.localhost/sitemap.xml"),
        ("sitemap", "http://nordic-wire.localhost/news-sitemap.xml"),
    ]
