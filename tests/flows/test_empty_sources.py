"""Sources fetched fine that yield nothing fail the run with a reason (RELIABILITY.md row 23).

One nightly run over loopback sources: a feed without items, a sitemap without <url>
entries, an HTML page where the feed should be, a 12 MB feed (over the 10 MB article cap,
within the 50 MB document cap) whose one huge text node hides its items, and a good feed.
Each empty source must leave a `rejected` row for its own location and be listed in the
run summary's failures; the good source is published as usual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from servers import LoopbackServer, Reply

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary
from flows.settings import SEEDS_DIR
from warehouse.checks import failed_checks

RUN_DATE = date(2023, 10, 15)
ARTICLE = (
    SEEDS_DIR
    / "sample_site/daily-courier/science/2023/09/21"
    / "wild-bees-in-decline-across-southern-england-survey-finds.html"
)
XML = "application/xml"
HTML_PAGE = b"<!doctype html>\n<html lang=en><head><title>Home</title></head><body><div>News"


def rss(*links: str, extra: str = "") -> bytes:
    items = "".join(f"<item><title>Story</title><link>{link}</link></item>" for link in links)
    return f"<rss><channel><title>t</title>{extra}{items}</channel></rss>".encode()


BIG_FEED = rss("/news/hidden", extra="<description>" + "x" * (12 << 20) + "</description>")


@dataclass(frozen=True)
class EmptyRun:
    summary: RunSummary
    data_dir: Path
    urls: dict[str, str]  # source id -> its location


@pytest.fixture(scope="module")
def empty_run(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmptyRun]:
    tmp = tmp_path_factory.mktemp("empty-sources")
    with LoopbackServer() as srv, pytest.MonkeyPatch.context() as mp:
        srv.route("/empty.xml", Reply(body=rss(), content_type=XML))
        srv.route("/sitemap.xml", Reply(body=b"<urlset></urlset>", content_type=XML))
        srv.route("/home.xml", Reply(body=HTML_PAGE))
        srv.route("/big.xml", Reply(body=BIG_FEED, content_type=XML))
        srv.route("/good.xml", Reply(body=rss(srv.url("/news/bees")), content_type=XML))
        srv.route("/news/bees", Reply(body=ARTICLE.read_bytes()))
        urls = {
            "empty-feed": srv.url("/empty.xml"),
            "empty-sitemap": srv.url("/sitemap.xml"),
            "html-feed": srv.url("/home.xml"),
            "big-feed": srv.url("/big.xml"),
            "good": srv.url("/good.xml"),
        }
        kinds = {"empty-sitemap": "sitemap"}
        sources = tmp / "sources.toml"
        sources.write_text(
            "".join(
                f'[[source]]\nid = "{sid}"\nkind = "{kinds.get(sid, "feed")}"\n'
                f'location = "{url}"\n\n'
                for sid, url in urls.items()
            ),
            encoding="utf-8",
        )
        data_dir = tmp / "data"
        mp.setenv("NEWSFLOW_DATA_DIR", str(data_dir))
        mp.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([srv.netloc]))
        mp.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0")
        mp.setenv("NEWSFLOW_REQUEST_DEADLINE_S", "10")
        summary = nightly_ingest(run_date=RUN_DATE, sources_file=str(sources))
        assert isinstance(summary, RunSummary)
        yield EmptyRun(summary, data_dir, urls)


def sql(data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


def test_the_run_completes_with_each_empty_source_listed_as_a_failure(
    empty_run: EmptyRun,
) -> None:
    assert empty_run.summary.status == "completed_with_failures"
    assert sorted(empty_run.summary.failures) == [
        "big-feed: discovery: no_items",
        "empty-feed: discovery: no_items",
        "empty-sitemap: discovery: no_items",
        "html-feed: discovery: parse_error",
    ]
    assert sql(empty_run.data_dir, "SELECT status FROM runs") == [("completed_with_failures",)]


def test_each_empty_source_has_a_rejected_row_for_its_location(empty_run: EmptyRun) -> None:
    rows = sql(
        empty_run.data_dir,
        "SELECT source_id, url, stage, reason FROM rejected WHERE stage = 'discover'",
    )
    urls = empty_run.urls
    assert sorted(rows) == [
        ("big-feed", urls["big-feed"], "discover", "no_items"),
        ("empty-feed", urls["empty-feed"], "discover", "no_items"),
        ("empty-sitemap", urls["empty-sitemap"], "discover", "no_items"),
        ("html-feed", urls["html-feed"], "discover", "parse_error"),
    ]


def test_the_rejections_say_what_was_fetched(empty_run: EmptyRun) -> None:
    details = dict(
        sql(empty_run.data_dir, "SELECT source_id, detail FROM rejected WHERE stage = 'discover'")
    )
    assert details["empty-feed"] == f"feed ({len(rss())} bytes, application/xml) lists no items"
    assert details["html-feed"] == (
        f"an HTML page, not a feed or sitemap ({len(HTML_PAGE)} bytes, text/html; charset=utf-8)"
    )
    assert details["big-feed"].startswith(f"feed ({len(BIG_FEED)} bytes, application/xml), ")
    assert "Text node too long" in details["big-feed"]


def test_the_feeds_were_fetched_ok_and_the_good_source_is_published(
    empty_run: EmptyRun,
) -> None:
    feeds = sql(empty_run.data_dir, "SELECT url, reason FROM fetch_log WHERE purpose <> 'robots'")
    locations = set(empty_run.urls.values())
    assert {reason for url, reason in feeds if url in locations} == {"ok"}
    assert sql(empty_run.data_dir, "SELECT source_id FROM articles") == [("good",)]
    counts = {c.source_id: c.rejected for c in empty_run.summary.per_source}
    assert counts["empty-feed"] == {"no_items": 1}
    assert counts["good"] == {}


def test_the_warehouse_passes_the_data_checks(empty_run: EmptyRun) -> None:
    with duckdb.connect(str(empty_run.data_dir / "newsflow.duckdb"), read_only=True) as con:
        assert failed_checks(con) == {}
