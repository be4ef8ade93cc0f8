"""End to end: one loopback outlet per source kind, each article found once with its metadata.

Five outlets, each its own server:
- `gazette` (kind `section`): a news section page and its second page (`rel="next"`), with a
  header, a "most read" box, related links and a footer around the story list; one story is
  listed on both pages and in the "most read" box;
- `wire` (kind `sitemap`): only a Google News sitemap;
- `ledger` (kind `site`): a home page declaring its RSS feed with `<link rel="alternate">`;
- `herald` (kind `site`): a home page with nothing, whose robots.txt lists a news sitemap
  and an archive sitemap that share a story;
- `quiet` (kind `site`): a home page with nothing at all.
News-sitemap stories are served bare (no title, no date on the page), so their title and date
can only come from the news sitemap. After a nightly run every story is one article row, the
news-sitemap ones carrying title, date, keywords, language and publication name with the
provenance `news_sitemap`; `quiet` fails with `no_items`. A reprocess of the date gives the
same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from lxml import html as lxml_html
from servers import LoopbackServer, Reply, robots

from flows.ingest import nightly_ingest, reprocess
from flows.pipeline import RunSummary
from flows.settings import SEEDS_DIR
from warehouse.checks import failed_checks

RUN_DATE = date(2023, 10, 15)
XML = "application/xml"
SAMPLE = SEEDS_DIR / "sample_site"
STORIES = {  # story id -> the start of the name of a sample-site page whose text it borrows
    "s1": "crumb-and-co-to-open-40-shops",
    "s2": "macbeth-review-courtyard-theatre",
    "s3": "wild-bees-in-decline-across-southern-england",
    "s4": "yorkshire-rower-completes-solo-atlantic",
    "s5": "kessler-hardware-to-close-after-91-years",
    "s6": "riverside-jazz-festival-returns",
    "s7": "police-chief-unveils-downtown-foot-patrol",
    "s8": "fall-storm-knocks-out-power",
    "s9": "county-commissioners-deadlock",
    "s10": "rail-commuters-face-fresh-disruption",
}
PATHS = {sid: f"/story/{sid}-{name}" for sid, name in STORIES.items()}


def sample_page(sid: str) -> bytes:
    (page,) = SAMPLE.rglob(f"{STORIES[sid]}*.html")
    return page.read_bytes()


@dataclass(frozen=True)
class News:
    """What a news sitemap says of one story."""

    title: str
    published: str
    language: str
    keywords: str
    publication: str


NEWS = {
    "s4": News("Rower crosses the Atlantic alone", "2023-10-08T09:15:00+01:00", "en",
               "rowing, Atlantic, records", "The Wire"),
    "s5": News("Hardware store to close after 91 years", "2023-10-09T14:00:00-04:00", "en",
               "retail, Main Street", "The Wire"),
    "s8": News("Storm cuts power to 30,000", "2023-10-10T06:30:00-04:00", "en-US",
               "weather, power cuts, storms", "Herald Daily"),
    "s9": News("Commissioners deadlock over jail funding", "2023-10-11T19:45:00-04:00", "en",
               "county, jail, budget", "Herald Daily"),
}  # fmt: skip


def text_of(sid: str) -> list[str]:
    root = lxml_html.fromstring(sample_page(sid))
    container = root.xpath(
        "//div[contains(@class, 'article-body') or contains(@class, 'story-body')]"
    )[0]
    paragraphs = [" ".join(p.text_content().split()) for p in container.iter("p")]
    return [p for p in paragraphs if p]


def story(sid: str) -> bytes:
    """A story page: bare text for news-sitemap stories, with an <h1> for the others."""
    heading = ""
    if sid not in NEWS:
        h1 = lxml_html.fromstring(sample_page(sid)).find(".//h1")
        heading = f"<h1>{' '.join(h1.text_content().split())}</h1>"
    body = "".join(f"<p>{p}</p>" for p in text_of(sid))
    return f"<!doctype html><html><body><article>{heading}{body}</article></body></html>".encode()


def news_sitemap(base: str, *sids: str) -> bytes:
    entries = "".join(
        f"<url><loc>{base}{PATHS[s]}</loc><news:news><news:publication><news:name>"
        f"{NEWS[s].publication}</news:name><news:language>{NEWS[s].language}</news:language>"
        f"</news:publication><news:publication_date>{NEWS[s].published}"
        f"</news:publication_date><news:title>{NEWS[s].title}</news:title>"
        f"<news:keywords>{NEWS[s].keywords}</news:keywords></news:news></url>"
        for s in sids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset '
        'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{entries}</urlset>'
    ).encode()


def section(*sids: str, next_path: str | None) -> bytes:
    teasers = "".join(
        f"<article><h2><a href='{PATHS[s]}'>Headline of the story {s} today</a></h2></article>"
        for s in sids
    )
    pager = f"<nav class='pagination'><a rel='next' href='{next_path}'>Next</a></nav>"
    return (
        "<!doctype html><html><body><header><a href='/'>Gazette</a><nav><a href='/news/'>News"
        "</a><a href='/story/pinned-menu-story-about-the-elections'>Elections live</a></nav>"
        f"</header><main><h1>News</h1>{teasers}"
        f"<aside class='most-read'><a href='{PATHS['s3']}'>The most read story of the week"
        "</a><a href='/story/old-most-read-story-from-last-year'>An old most read story"
        "</a></aside><div class='related'><a href='/story/related-story-about-trains'>Related"
        f" story about the trains</a></div>{pager if next_path else ''}</main><footer>"
        "<a href='/story/footer-story-about-the-awards-night'>Footer story about the awards"
        "</a><a href='/about'>About</a></footer></body></html>"
    ).encode()


def rss(base: str, *sids: str) -> bytes:
    items = "".join(
        f"<item><title>Feed title {s}</title><link>{base}{PATHS[s]}</link></item>" for s in sids
    )
    return f"<rss version='2.0'><channel><title>Ledger</title>{items}</channel></rss>".encode()


HOME = "<!doctype html><html><head>{head}</head><body><p>Welcome to {name}</p></body></html>"


@dataclass(frozen=True)
class KindsRun:
    summary: RunSummary
    data_dir: Path
    bases: dict[str, str]  # outlet -> base URL
    urls: dict[str, str]  # story id -> its URL
    sources: Path


@pytest.fixture(scope="module")
def kinds_run(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindsRun]:
    tmp = tmp_path_factory.mktemp("source-kinds")
    with (
        LoopbackServer() as gazette,
        LoopbackServer() as wire,
        LoopbackServer() as ledger,
        LoopbackServer() as herald,
        LoopbackServer() as quiet,
        pytest.MonkeyPatch.context() as mp,
    ):
        servers = {"gazette": gazette, "wire": wire, "ledger": ledger, "herald": herald}
        bases = {name: s.url("").rstrip("/") for name, s in {**servers, "quiet": quiet}.items()}
        outlet_of = {"s1": "gazette", "s2": "gazette", "s3": "gazette", "s4": "wire",
                     "s5": "wire", "s6": "ledger", "s7": "ledger", "s8": "herald",
                     "s9": "herald", "s10": "herald"}  # fmt: skip
        for sid, outlet in outlet_of.items():
            servers[outlet].route(PATHS[sid], Reply(body=story(sid)))
        gazette.route("/news/", Reply(body=section("s1", "s2", next_path="/news/?page=2")))
        gazette.route("/news/?page=2", Reply(body=section("s2", "s3", next_path=None)))
        wire.route("/news-sitemap.xml", Reply(body=news_sitemap(bases["wire"], "s4", "s5"),
                                              content_type=XML))  # fmt: skip
        feed_link = '<link rel="alternate" type="application/rss+xml" href="/rss">'
        ledger.route("/", Reply(body=HOME.format(head=feed_link, name="Ledger").encode()))
        ledger.route("/rss", Reply(body=rss(bases["ledger"], "s6", "s7"), content_type=XML))
        herald.route("/", Reply(body=HOME.format(head="", name="Herald").encode()))
        herald.route("/robots.txt", robots(
            f"User-agent: *\nDisallow: /admin/\nSitemap: {bases['herald']}/maps/archive.xml\n"
            f"Sitemap: {bases['herald']}/maps/news.xml\n"
        ))  # fmt: skip
        archive = "".join(f"<url><loc>{bases['herald']}{PATHS[s]}</loc></url>" for s in ("s8",
                                                                                      "s10"))
        herald.route("/maps/archive.xml", Reply(
            body=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{archive}'
            "</urlset>".encode(), content_type=XML))  # fmt: skip
        herald.route("/maps/news.xml", Reply(body=news_sitemap(bases["herald"], "s8", "s9"),
                                             content_type=XML))  # fmt: skip
        quiet.route("/", Reply(body=HOME.format(head="", name="Quiet").encode()))
        entries = {
            "gazette": ("section", "/news/"),
            "wire": ("sitemap", "/news-sitemap.xml"),
            "ledger": ("site", "/"),
            "herald": ("site", "/"),
            "quiet": ("site", "/"),
        }
        sources = tmp / "sources.toml"
        sources.write_text(
            "".join(
                f'[[source]]\nid = "{name}"\nkind = "{kind}"\nlocation = "{bases[name]}{path}"\n\n'
                for name, (kind, path) in entries.items()
            ),
            encoding="utf-8",
        )
        data_dir = tmp / "data"
        mp.setenv("NEWSFLOW_DATA_DIR", str(data_dir))
        netlocs = [s.netloc for s in (*servers.values(), quiet)]
        mp.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps(netlocs))
        mp.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0")
        mp.setenv("NEWSFLOW_REQUEST_DEADLINE_S", "10")
        summary = nightly_ingest(run_date=RUN_DATE, sources_file=str(sources))
        assert isinstance(summary, RunSummary)
        urls = {sid: bases[outlet_of[sid]] + PATHS[sid] for sid in STORIES}
        yield KindsRun(summary, data_dir, bases, urls, sources)


def sql(data_dir: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


ARTICLE_COLUMNS = (
    "SELECT url, source_id, title, published_at, published_source, keywords, language,"
    " site_name, provenance, duplicate_of FROM article_versions ORDER BY url"
)


def articles(data_dir: Path) -> dict[str, dict[str, Any]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        cursor = con.execute(ARTICLE_COLUMNS)
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {row["url"]: row for row in rows}


def test_every_story_of_every_kind_is_one_article(kinds_run: KindsRun) -> None:
    found = articles(kinds_run.data_dir)
    assert sorted(found) == sorted(kinds_run.urls.values())
    assert all(row["duplicate_of"] is None for row in found.values())
    sources = {sid: found[url]["source_id"] for sid, url in kinds_run.urls.items()}
    assert sources == {
        "s1": "gazette", "s2": "gazette", "s3": "gazette", "s4": "wire", "s5": "wire",
        "s6": "ledger", "s7": "ledger", "s8": "herald", "s9": "herald", "s10": "herald",
    }  # fmt: skip
    duplicates = sql(kinds_run.data_dir, "SELECT url, reason FROM rejected")
    assert duplicates == [(kinds_run.bases["quiet"] + "/", "no_items")]


def test_news_sitemap_stories_carry_the_news_metadata_with_its_provenance(
    kinds_run: KindsRun,
) -> None:
    found = articles(kinds_run.data_dir)
    for sid, news in NEWS.items():
        row = found[kinds_run.urls[sid]]
        published = datetime.fromisoformat(news.published).astimezone(UTC)
        assert row["title"] == news.title, sid
        assert row["published_at"].astimezone(UTC) == published, sid
        assert row["published_source"] == "news_sitemap", sid
        assert row["keywords"] == [k.strip() for k in news.keywords.split(",")], sid
        assert row["site_name"] == news.publication, sid
        assert row["language"] == "en", sid
        provenance = dict(row["provenance"])
        assert (provenance["title"], provenance["published_at"]) == (
            "news_sitemap",
            "news_sitemap",
        ), sid


def test_stories_found_otherwise_keep_their_own_metadata(kinds_run: KindsRun) -> None:
    found = articles(kinds_run.data_dir)
    for sid in ("s1", "s2", "s3", "s6", "s7", "s10"):
        row = found[kinds_run.urls[sid]]
        assert row["keywords"] == [], sid
        assert dict(row["provenance"])["title"] == "h1", sid


def test_the_section_pages_were_read_and_the_furniture_left(kinds_run: KindsRun) -> None:
    base = kinds_run.bases["gazette"]
    rows = sql(
        kinds_run.data_dir,
        "SELECT url FROM fetch_log WHERE source_id = 'gazette' ORDER BY fetched_at",
    )
    assert [url for (url,) in rows] == [
        f"{base}/robots.txt",
        f"{base}/news/",
        f"{base}/news/?page=2",
        kinds_run.urls["s1"],
        kinds_run.urls["s2"],
        kinds_run.urls["s3"],
    ]
    purposes = sql(
        kinds_run.data_dir, "SELECT DISTINCT purpose FROM fetch_log WHERE source_id = 'gazette'"
    )
    assert sorted(p for (p,) in purposes) == ["article", "robots", "section"]


def test_sites_record_what_their_home_pages_led_to(kinds_run: KindsRun) -> None:
    ledger, herald = kinds_run.bases["ledger"], kinds_run.bases["herald"]
    assert kinds_run.summary.found == (
        f"ledger: feed {ledger}/rss (<link rel=alternate> on the home page)",
        f"herald: sitemap {herald}/maps/archive.xml (robots.txt)",
        f"herald: sitemap {herald}/maps/news.xml (robots.txt)",
    )
    documents = sql(
        kinds_run.data_dir,
        "SELECT source_id, purpose, url FROM fetch_log"
        " WHERE purpose IN ('site', 'feed', 'sitemap') AND source_id <> 'quiet' ORDER BY ALL",
    )
    assert documents == [
        ("herald", "site", f"{herald}/"),
        ("herald", "sitemap", f"{herald}/maps/archive.xml"),
        ("herald", "sitemap", f"{herald}/maps/news.xml"),
        ("ledger", "feed", f"{ledger}/rss"),
        ("ledger", "site", f"{ledger}/"),
        ("wire", "sitemap", f"{kinds_run.bases['wire']}/news-sitemap.xml"),
    ]


def test_a_site_with_nothing_fails_with_no_items_after_trying_the_usual_places(
    kinds_run: KindsRun,
) -> None:
    assert kinds_run.summary.status == "completed_with_failures"
    assert kinds_run.summary.failures == ("quiet: discovery: no_items",)
    quiet = kinds_run.bases["quiet"]
    tried = sql(
        kinds_run.data_dir,
        "SELECT url, reason FROM fetch_log WHERE source_id = 'quiet' AND purpose <> 'robots'"
        " ORDER BY fetched_at",
    )
    assert tried == [
        (f"{quiet}/", "ok"),
        (f"{quiet}/news-sitemap.xml", "http_404"),
        (f"{quiet}/sitemap_index.xml", "http_404"),
        (f"{quiet}/sitemap.xml", "http_404"),
        (f"{quiet}/feed", "http_404"),
        (f"{quiet}/rss.xml", "http_404"),
    ]


def test_the_warehouse_passes_the_data_checks(kinds_run: KindsRun) -> None:
    with duckdb.connect(str(kinds_run.data_dir / "newsflow.duckdb"), read_only=True) as con:
        assert failed_checks(con) == {}


def test_reprocess_keeps_the_news_metadata(kinds_run: KindsRun) -> None:
    before = sql(kinds_run.data_dir, ARTICLE_COLUMNS)
    summary = reprocess(run_date=RUN_DATE, sources_file=str(kinds_run.sources))
    assert summary.status in ("completed", "completed_with_failures")
    assert sql(kinds_run.data_dir, ARTICLE_COLUMNS) == before
