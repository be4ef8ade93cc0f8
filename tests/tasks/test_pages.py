"""The per-page unit of work, in this process and in worker processes."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from tasks.pages import MIN_POOLED, extract_pages
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


def test_each_page_becomes_a_signed_article_or_a_rejection_with_its_reason() -> None:
    articles, signatures, rejected = extract_pages(batch(), {})
    assert [a.url.rsplit("/", 1)[1] for a in articles] == ["seed_style_article", "feed_date"]
    assert [s.article_id for s in signatures] != []
    assert [s.url for s in signatures] == [a.url for a in articles]
    reasons = {r.url.rsplit("/", 1)[1]: (r.stage, r.reason, r.detail) for r in rejected}
    assert reasons["index_page"] == ("extract", "not_article", "index_page")
    assert reasons["empty"][:2] == ("extract", "parse_error")
    assert reasons["paywall"][:2] == ("extract", "paywall")
    assert all(isinstance(a, Article) for a in articles)
    assert all(isinstance(r, Rejected) for r in rejected)
    assert len(articles) + len(rejected) == len(batch())


def test_worker_processes_give_the_same_result_in_the_same_order() -> None:
    pages = batch() * (MIN_POOLED // len(batch()) + 1)
    alone = extract_pages(pages, {})
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        pooled = extract_pages(pages, {}, pool)
    assert pooled == alone
