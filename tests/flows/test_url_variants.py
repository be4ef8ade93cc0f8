"""End to end: the URLs a site serves one story under make one article (README: Deduplication).

A loopback news site serves one story at its plain URL, with tracking parameters, as an
`/amp/` copy and as `?amp=1`, none of them declaring `rel=canonical`; and another story that
declares a canonical URL on another site. A second site declares its home page as the
canonical URL of every story. After a nightly run the warehouse must hold the story once,
each variant as a `canonical_url` duplicate under the story's `article_id`; the second
site's stories each under their own `article_id`; and no off-site canonical URL. A run the
next day fetches none of these URLs again: the canonical URLs are spelled as the frontier
spells what it discovers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from flowenv import environment
from servers import LoopbackServer, Reply

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary

RUN_DATE = date(2023, 10, 15)
NEXT_DATE = date(2023, 10, 16)
SITE = Path(__file__).resolve().parents[2] / "seeds" / "sample_site"
STORY = "/culture/2023/10/02/lost-victorian-photographs-of-liverpool-docks-go-on-display.html"
OFF_SITE = "/sport/2023/10/08/yorkshire-rower-completes-solo-atlantic-crossing-in-52-days.html"
ELSEWHERE = "http://elsewhere.example" + OFF_SITE
VARIANTS = [
    STORY + "?utm_source=x&utm_medium=y",
    "/amp" + STORY,
    STORY + "?amp=1",
]
HOME_STORIES = [
    "/2023/09/15/lapland-braces-for-record-winter-tourism-season.html",
    "/2023/09/19/danish-pension-funds-pledge-billions-to-offshore-wind.html",
    "/2023/09/22/norways-ferry-operators-race-to-meet-electric-deadline.html",
]
_PLACEHOLDER = re.compile(rb"\{\{site:[a-z-]+\}\}")
_DECLARED = re.compile(rb'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>')


def served(outlet: str, path: str, base: str, canonical: str | None) -> bytes:
    """A sample-site page as `base` serves it, declaring `canonical` (or nothing) as its
    canonical URL."""
    page = _PLACEHOLDER.sub(base.encode(), (SITE / outlet / path.lstrip("/")).read_bytes())
    page, found = _DECLARED.subn(b"", page)
    assert found == 2, f"{path}: expected a rel=canonical and an og:url"
    if canonical is None:
        return page
    declared = f'<link rel="canonical" href="{canonical}">'
    declared += f'<meta property="og:url" content="{canonical}">'
    return page.replace(b"</head>", declared.encode() + b"</head>", 1)


@dataclass(frozen=True)
class Sites:
    news: LoopbackServer  # the story and its variants; the off-site canonical
    homely: LoopbackServer  # every story declares the home page


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    with LoopbackServer() as news, LoopbackServer() as homely:
        base = news.url("").rstrip("/")
        story = served("daily-courier", STORY, base, None)
        news.route(STORY, Reply(body=story))  # the query variants are served by this route
        news.route("/amp" + STORY, Reply(body=story))
        news.route(OFF_SITE, Reply(body=served("daily-courier", OFF_SITE, base, ELSEWHERE)))
        home = homely.url("/")
        for path in HOME_STORIES:
            homely.route(path, Reply(body=served("nordic-wire", path, home.rstrip("/"), home)))
        yield Sites(news, homely)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, sites: Sites) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("url-variants-warehouse")
    settings = {
        "NEWSFLOW_DATA_DIR": str(path),
        "NEWSFLOW_ALLOW_PRIVATE_HOSTS": json.dumps([sites.news.netloc, sites.homely.netloc]),
        "NEWSFLOW_PER_HOST_DELAY_S": "0.02",
    }
    with environment(settings):
        yield path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, sites: Sites) -> str:
    variants = [sites.news.url(STORY), *(sites.news.url(v) for v in VARIANTS)]
    path = tmp_path_factory.mktemp("url-variants-sources") / "sources.toml"
    path.write_text(
        '[[source]]\nid = "news"\nkind = "urls"\n'
        f"urls = {json.dumps([*variants, sites.news.url(OFF_SITE)])}\n\n"
        '[[source]]\nid = "homely"\nkind = "urls"\n'
        f"urls = {json.dumps([sites.homely.url(p) for p in HOME_STORIES])}\n",
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture(scope="module")
def run(prefect_harness: None, data_dir: Path, sources: str) -> RunSummary:
    return nightly_ingest(run_date=RUN_DATE, sources_file=sources)


@dataclass(frozen=True)
class NextRun:
    summary: RunSummary
    requested: list[str]  # paths the sites were asked for during the run


@pytest.fixture(scope="module")
def next_run(run: RunSummary, sites: Sites, sources: str) -> NextRun:
    before = {s.port: len(s.requests) for s in (sites.news, sites.homely)}
    summary = nightly_ingest(run_date=NEXT_DATE, sources_file=sources)
    requested = [r.path for s in (sites.news, sites.homely) for r in s.requests[before[s.port] :]]
    return NextRun(summary, requested)


def sql(data_dir: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def test_the_run_completes(run: RunSummary) -> None:
    assert run.status == "completed", run.failures


def test_a_story_under_several_urls_is_one_article(
    run: RunSummary, sites: Sites, data_dir: Path
) -> None:
    rows = sql(
        data_dir,
        "SELECT url, canonical_url FROM articles WHERE source_id = 'news' AND url LIKE ?",
        [f"%{STORY}%"],
    )
    assert rows == [(sites.news.url(STORY), sites.news.url(STORY))]


def test_each_variant_is_a_canonical_url_duplicate_with_the_story_article_id(
    run: RunSummary, sites: Sites, data_dir: Path
) -> None:
    plain = sites.news.url(STORY)
    [(story_id,)] = sql(data_dir, "SELECT article_id FROM articles WHERE url = ?", [plain])
    rows = sql(
        data_dir,
        "SELECT url, article_id, duplicate_of, duplicate_kind, canonical_url"
        " FROM duplicates WHERE source_id = 'news' ORDER BY url",
    )
    assert rows == sorted(
        (sites.news.url(v), story_id, story_id, "canonical_url", plain) for v in VARIANTS
    )
    beside = sql(data_dir, "SELECT url FROM duplicates WHERE original_url = ?", [plain])
    assert sorted(url for (url,) in beside) == sorted(sites.news.url(v) for v in VARIANTS)


def test_each_duplicate_is_one_row_beside_its_original(
    run: RunSummary, sites: Sites, data_dir: Path
) -> None:
    rows = sql(data_dir, "SELECT url, original_url FROM duplicates WHERE source_id = 'news'")
    plain = sites.news.url(STORY)
    assert sorted(rows) == sorted((sites.news.url(v), plain) for v in VARIANTS)


def test_stories_of_a_site_declaring_its_home_page_keep_their_own_article_ids(
    run: RunSummary, sites: Sites, data_dir: Path
) -> None:
    rows = sql(
        data_dir, "SELECT url, canonical_url, article_id FROM articles WHERE source_id = 'homely'"
    )
    urls = [sites.homely.url(p) for p in HOME_STORIES]
    assert sorted((url, canonical) for url, canonical, _ in rows) == sorted((u, u) for u in urls)
    assert len({article_id for _, _, article_id in rows}) == len(HOME_STORIES)
    assert sql(data_dir, "SELECT url FROM duplicates WHERE source_id = 'homely'") == []


def test_an_off_site_canonical_is_not_used(run: RunSummary, sites: Sites, data_dir: Path) -> None:
    rows = sql(
        data_dir, "SELECT canonical_url FROM articles WHERE url = ?", [sites.news.url(OFF_SITE)]
    )
    assert rows == [(sites.news.url(OFF_SITE),)]
    anywhere = sql(
        data_dir,
        "SELECT url FROM article_versions WHERE canonical_url LIKE '%elsewhere.example%'",
    )
    assert anywhere == []


def test_the_next_run_fetches_none_of_the_urls_again(
    next_run: NextRun, sites: Sites, data_dir: Path
) -> None:
    assert next_run.summary.status == "completed", next_run.summary.failures
    assert [path for path in next_run.requested if path != "/robots.txt"] == []
    rows = sql(
        data_dir,
        "SELECT url, stage, reason FROM rejected WHERE run_date = ?",
        [NEXT_DATE],
    )
    urls = [sites.news.url(p) for p in [STORY, *VARIANTS, OFF_SITE]]
    urls += [sites.homely.url(p) for p in HOME_STORIES]
    assert sorted(rows) == sorted((url, "frontier", "already_seen") for url in urls)
