"""The per-page work of extract and clean, in this process and in worker processes."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from tasks.pages import MIN_POOLED, clean_pages, extract_pages
from tasks.records import Article, FetchedPage, Rejected

PAGES = Path(__file__).parent.parent / "fixtures" / "pages"
FETCHED_AT = datetime(2023, 10, 20, 12, 0, tzinfo=UTC)


def page(name: str, body: bytes | None = None) -> FetchedPage:
    url = f"https://news.example/{name}"
    return FetchedPage(
        source_id="example",
        url=url,
        final_url=url,
        status=200,
        content_type="text/html",
        body=(PAGES / f"{name}.html").read_bytes() if body is None else body,
        fetched_at=FETCHED_AT,
    )


def batch() -> list[FetchedPage]:
    return [
        page("seed_style_article"),
        page("index_page"),
        page("paywall"),
        page("empty", b""),
        page("feed_date"),
    ]


def name(item: Article | Rejected) -> str:
    return item.url.rsplit("/", 1)[1]


def test_extract_gives_each_page_an_article_or_a_rejection_in_page_order() -> None:
    extracted = extract_pages(batch(), {})
    assert [name(item) for item in extracted] == [name(p) for p in batch()]
    kinds = {name(item): type(item).__name__ for item in extracted}
    assert kinds == {
        "seed_style_article": "Article",
        "index_page": "Rejected",
        "paywall": "Article",  # a teaser is only found out once the page is cleaned
        "empty": "Rejected",
        "feed_date": "Article",
    }
    reasons = {name(r): (r.stage, r.reason, r.detail) for r in extracted if isinstance(r, Rejected)}
    assert reasons["index_page"] == ("extract", "not_article", "index_page")
    assert reasons["empty"][:2] == ("extract", "parse_error")


def test_extract_leaves_the_cleaning_to_the_clean_stage() -> None:
    seed = next(a for a in extract_pages(batch(), {}) if name(a) == "seed_style_article")
    assert isinstance(seed, Article)
    [cleaned] = clean_pages([seed])
    assert isinstance(cleaned, Article)
    assert cleaned.body != seed.body  # the seed page has boilerplate that cleaning removes


def test_clean_rejects_the_teaser_and_passes_earlier_rejections_through_in_order() -> None:
    cleaned = clean_pages(extract_pages(batch(), {}))
    assert [name(item) for item in cleaned] == [name(p) for p in batch()]
    articles = [name(a) for a in cleaned if isinstance(a, Article)]
    assert articles == ["seed_style_article", "feed_date"]
    reasons = {name(r): (r.stage, r.reason) for r in cleaned if isinstance(r, Rejected)}
    assert reasons == {
        "index_page": ("extract", "not_article"),
        "paywall": ("extract", "paywall"),
        "empty": ("extract", "parse_error"),
    }


def test_clean_rejects_an_article_whose_body_cleans_away() -> None:
    [seed] = [a for a in extract_pages(batch(), {}) if name(a) == "seed_style_article"]
    assert isinstance(seed, Article)
    boilerplate_only = replace(seed, body="Advertisement\n\nRead more:", paywalled=False)
    [rejected] = clean_pages([boilerplate_only])
    assert isinstance(rejected, Rejected)
    assert (rejected.reason, rejected.detail) == ("not_article", "empty_body")


def test_worker_processes_give_the_same_result_in_the_same_order() -> None:
    pages = batch() * (MIN_POOLED // len(batch()) + 1)
    alone = clean_pages(extract_pages(pages, {}))
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        extracted = extract_pages(pages, {}, pool)
        pooled = clean_pages(extracted, pool)
    assert extracted == extract_pages(pages, {})
    assert pooled == alone
