"""From a fetched page to a clean, signed article, or the reason it is not one.

This is the CPU-heavy unit of a run (parse, extract, clean, key phrases, MinHash).
`extract_pages` runs it over a batch, in worker processes when given a pool; results keep the
order of the pages, so the output does not depend on how the work was spread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor

from tasks.clean import clean_article
from tasks.dedupe import Signature, sign
from tasks.extract import ExtractionError, extract_article
from tasks.keywords import with_key_phrases
from tasks.reasons import ReasonCode
from tasks.records import Article, FetchedPage, Rejected, Source

PAYWALL_MIN_WORDS = 80  # a paywalled page with fewer words is a teaser, not the story
CHUNK = 8  # pages sent to a worker process at a time
MIN_POOLED = 64  # smaller batches are not worth the worker processes' start-up


def extract_page(page: FetchedPage, source: Source | None) -> Article | Rejected:
    """One page to a clean article, or the reason it is not one."""
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
    article = clean_article(article)
    if article.paywalled and len(article.body.split()) < PAYWALL_MIN_WORDS:
        return _rejected(page, "paywall", "only a teaser is readable")
    if not article.body.strip():
        return _rejected(page, "not_article", "empty_body")
    return with_key_phrases(article)


def _rejected(page: FetchedPage, reason: ReasonCode, detail: str) -> Rejected:
    return Rejected(
        source_id=page.source_id,
        url=page.url,
        stage="extract",
        reason=reason,
        detail=detail[:500],
        raw_record_id=page.raw_record_id,
    )


def process_page(
    page: FetchedPage, source: Source | None
) -> tuple[Article | Rejected, Signature | None]:
    """`extract_page`, and the dedup signature of an article (computed where it was made)."""
    outcome = extract_page(page, source)
    return outcome, sign(outcome) if isinstance(outcome, Article) else None


def extract_pages(
    pages: Sequence[FetchedPage], sources: Mapping[str, Source], pool: Executor | None = None
) -> tuple[list[Article], list[Signature], list[Rejected]]:
    """Every page of a batch, in order: the articles with their signatures, and rejections.

    The pool starts its worker processes on first use, so a run of small batches never pays
    for them.
    """
    chosen = [sources.get(page.source_id) for page in pages]
    if pool is None or len(pages) < MIN_POOLED:
        results = list(map(process_page, pages, chosen))
    else:
        results = list(pool.map(process_page, pages, chosen, chunksize=CHUNK))
    articles: list[Article] = []
    signatures: list[Signature] = []
    rejected: list[Rejected] = []
    for outcome, signature in results:
        if isinstance(outcome, Rejected):
            rejected.append(outcome)
        else:
            assert signature is not None
            articles.append(outcome)
            signatures.append(signature)
    return articles, signatures, rejected
