"""The per-page CPU work of two stages: extract (page -> article) and clean (article -> clean
article), each over a batch, in worker processes when given a pool.

`extract_pages` and `clean_pages` keep the order of their input, so the output does not depend
on how the work was spread; `in_batch` is the one way a batch is spread (deduplication signs
with it too). A page sent to a worker is pickled once, there; what comes back and goes out
again to be cleaned is the article, a few KB against the page's hundreds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import TypeVar

from tasks.clean import clean_article
from tasks.extract import ExtractionError, extract_article
from tasks.reasons import STAGE_EXTRACT, ReasonCode
from tasks.records import Article, FetchedPage, Rejected, Source

PAYWALL_MIN_WORDS = 80  # a paywalled page with fewer words is a teaser, not the story
CHUNK = 8  # items sent to a worker process at a time
MIN_POOLED = 64  # smaller batches are not worth the worker processes' start-up

T = TypeVar("T")
R = TypeVar("R")


def extract_page(page: FetchedPage, source: Source | None) -> Article | Rejected:
    """One page to an article as the page gives it, or the reason it is not one."""
    try:
        article = extract_article(
            page.body,
            page.url,
            fetched_at=page.fetched_at,
            final_url=page.final_url,
            selectors=source.selectors if source else None,
            discovered=page.discovered,
            source_id=page.source_id,
            raw_record_id=page.raw_record_id,
            encoding=page.encoding,
            timezone=source.timezone if source else None,
        )
    except ExtractionError as error:
        return _rejected(page, "parse_error", str(error))
    if article.page_kind != "article":
        return _rejected(page, "not_article", article.page_kind)
    return article


def clean_page(article: Article) -> Article | Rejected:
    """One extracted article, cleaned; or why what is left is no story to keep.

    The rejections name the stage `extract` (the stages a `rejected` row names are those of
    `tasks.reasons`): cleaning is where extraction's result is found to be a teaser or empty.
    """
    article = clean_article(article)
    if article.paywalled and len(article.body.split()) < PAYWALL_MIN_WORDS:
        return _rejected(article, "paywall", "only a teaser is readable")
    if not article.body.strip():
        return _rejected(article, "not_article", "empty_body")
    return article


def _rejected(item: FetchedPage | Article, reason: ReasonCode, detail: str) -> Rejected:
    return Rejected(
        source_id=item.source_id,
        url=item.url,
        stage=STAGE_EXTRACT,
        reason=reason,
        detail=detail[:500],
        raw_record_id=item.raw_record_id,
    )


def in_batch(
    work: Callable[..., R], items: Sequence[T], *more: Sequence[object], pool: Executor | None
) -> list[R]:
    """`work` over `items` (and `more`, item by item), in order: in worker processes when a
    pool is given and the batch is worth it. The pool starts its worker processes on first
    use, so a run of small batches never pays for them."""
    if pool is None or len(items) < MIN_POOLED:
        return list(map(work, items, *more))
    return list(pool.map(work, items, *more, chunksize=CHUNK))


def extract_pages(
    pages: Sequence[FetchedPage], sources: Mapping[str, Source], pool: Executor | None = None
) -> list[Article | Rejected]:
    """Every page of a batch, in order: its article, or the reason it is none."""
    chosen = [sources.get(page.source_id) for page in pages]
    return in_batch(extract_page, pages, chosen, pool=pool)


def clean_pages(
    extracted: Sequence[Article | Rejected], pool: Executor | None = None
) -> list[Article | Rejected]:
    """`extract_pages`'s result with each article cleaned (or rejected), in the same order;
    rejections pass through. Only the articles go to the worker processes."""
    articles = [item for item in extracted if isinstance(item, Article)]
    cleaned = iter(in_batch(clean_page, articles, pool=pool))
    return [next(cleaned) if isinstance(item, Article) else item for item in extracted]
