"""The stages of a run as Prefect tasks, in flow order: what the run's graph shows.

    discover      one task per source: feeds, sitemaps, section and home pages, URL lists
    frontier      one: each URL once, URLs the warehouse holds out, per-source caps
    fetch-batch   per batch of URLs: robots.txt, politeness, hosts in parallel; raw archive
    extract-batch per batch: HTML -> Article (worker processes when a pool is given)
    clean-batch   per batch: text, boilerplate, credit lines; teasers and empty bodies out;
                  the MinHash signature of each article (in the worker processes)
    prepare-batch on a Dask cluster, extract-batch and clean-batch as one task on a worker
    dedupe        one: one decision per article against the run and the warehouse;
                  unchanged re-fetches out
    enrich-batch  per batch of stories: entities and quotes (worker processes when pooled)
    publish       one: the run's last tables, then every table at once, and the catalog

Each task is a thin wrapper over the stage's plain functions in `tasks/` (and the warehouse
reads and writes a stage needs): it logs one line and returns a record. Which batches run
when, and what is collected between stages, is `flows.pipeline`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import discover as discover_stage
from tasks import fetch as fetch_stage
from tasks.dedupe import Signature, StoredSignature, decide, sign
from tasks.frontier import Frontier, plan_frontier
from tasks.pages import clean_pages, extract_pages, in_batch
from tasks.reasons import NOT_MODIFIED, STAGE_DEDUPE, STAGE_FETCH, UNCHANGED
from tasks.records import (
    Article,
    DedupDecision,
    Discovered,
    Enrichment,
    FetchedPage,
    FetchLogEntry,
    Rejected,
    Source,
)
from tasks.urls import normalize_url
from tasks.workers import enrich_with_model
from warehouse import query
from warehouse.dedup_index import ParquetSignatureIndex
from warehouse.lake import Exclude
from warehouse.publish import Publication
from warehouse.raw import RawArchive

Validators = Mapping[str, tuple[str | None, str | None]]


def now() -> datetime:
    return datetime.now().astimezone()


@task(name="discover", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def discover_task(
    source: Source, fetcher: fetch_stage.Fetcher, validators: Validators
) -> discover_stage.Discovery:
    result = discover_stage.discover(source, fetcher, validators=validators, now=now)
    logger = get_run_logger()
    logger.info(
        "Source %s: %d URLs discovered, %d rejected",
        source.id,
        len(result.discovered),
        len(result.rejected),
    )
    for found in result.found:
        logger.info("Source %s: found %s", source.id, found)
    return result


@task(name="frontier", cache_policy=NO_CACHE)
def frontier_task(
    found: Sequence[Discovered],
    sources: Sequence[Source],
    data_dir: Path,
    exclude: Exclude,
    max_articles: int | None,
    window: tuple[datetime, datetime] | None,
) -> tuple[Frontier, frozenset[str]]:
    """The URLs to fetch (and why the others are not), and the normalised URLs among them
    fetched again because their feed or sitemap says they changed since we fetched them."""
    seen, refetched = seen_and_changed(data_dir, found, exclude)
    frontier = plan_frontier(
        found,
        seen=seen,
        caps={s.id: s.max_articles for s in sources},
        max_articles=max_articles,
        window=window,
        refresh=refetched,
    )
    get_run_logger().info(
        "Frontier: %d URLs to fetch (%d fetched again to look for updates), %d left out",
        len(frontier.to_fetch),
        len(refetched),
        len(frontier.rejected),
    )
    return frontier, refetched


@dataclass(frozen=True, slots=True)
class FetchedBatch:
    """What fetching a batch gave: the pages (archived, each with its `raw_record_id`), a
    `fetch_log` row per request (robots.txt ones included), and a rejection per failure."""

    pages: tuple[FetchedPage, ...]
    log: tuple[FetchLogEntry, ...]
    rejected: tuple[Rejected, ...]


@task(name="fetch-batch", cache_policy=NO_CACHE)
def fetch_task(
    fetcher: fetch_stage.Fetcher,
    items: Sequence[Discovered],
    max_hosts: int,
    validators: Validators,
    archive: RawArchive,
) -> FetchedBatch:
    outcomes = fetch_stage.fetch_batch(
        fetcher, items, max_hosts_in_parallel=max_hosts, now=now, validators=validators
    )
    pages, log, rejected = [], [], []
    for outcome in outcomes:
        if outcome.robots_log is not None:
            log.append(outcome.robots_log)
        entry = outcome.log
        if outcome.page is not None:
            record_id = archive.append(outcome.page)
            pages.append(replace(outcome.page, raw_record_id=record_id))
            entry = replace(entry, raw_record_id=record_id)
        elif outcome.log.reason == NOT_MODIFIED:  # a conditional re-fetch
            rejected.append(Rejected(entry.source_id, entry.url, STAGE_FETCH, NOT_MODIFIED))
        elif (rejection := outcome.rejected()) is not None:
            rejected.append(rejection)
        log.append(entry)
    get_run_logger().info("Fetched %d of %d URLs", sum(o.ok for o in outcomes), len(outcomes))
    return FetchedBatch(tuple(pages), tuple(log), tuple(rejected))


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_task(
    pages: Sequence[FetchedPage], sources: Mapping[str, Source], pool: Executor | None
) -> list[Article | Rejected]:
    """Each page's article as the page gives it, or why it is none (in page order)."""
    return extracted_batch(pages, sources, pool)


def extracted_batch(
    pages: Sequence[FetchedPage], sources: Mapping[str, Source], pool: Executor | None
) -> list[Article | Rejected]:
    extracted = extract_pages(pages, sources, pool)
    articles = sum(isinstance(item, Article) for item in extracted)
    get_run_logger().info(
        "Extracted %d articles, rejected %d pages", articles, len(extracted) - articles
    )
    return extracted


@dataclass(frozen=True, slots=True)
class CleanedBatch:
    """A batch after cleaning: each page's article or rejection, in page order, and the
    signature of each article (`signatures[i]` belongs to the i-th article)."""

    outcomes: tuple[Article | Rejected, ...]
    signatures: tuple[Signature, ...]

    @property
    def articles(self) -> list[Article]:
        return [item for item in self.outcomes if isinstance(item, Article)]


@task(name="clean-batch", cache_policy=NO_CACHE)
def clean_task(extracted: Sequence[Article | Rejected], pool: Executor | None) -> CleanedBatch:
    """The extracted articles cleaned, or rejected as teasers or empty (in page order), and
    signed for deduplication."""
    return cleaned_batch(extracted, pool)


@task(name="prepare-batch", cache_policy=NO_CACHE)
def prepare_task(
    pages: Sequence[FetchedPage],
    sources: Mapping[str, Source],
    keep: Callable[[Article | Rejected], Article | Rejected] | None = None,
) -> CleanedBatch:
    """extract-batch, then clean-batch, as one task: a Dask worker's (`flows.cluster`). The
    pages go to the worker once and only the cleaned batch comes back, with no round trip of
    the extracted articles through the flow in between. `keep` may turn an extracted article
    into a rejection before cleaning (a source's language filter), as it does between the
    two tasks of a single-machine run. The result is theirs, item for item."""
    extracted = extracted_batch(pages, sources, None)
    if keep is not None:
        extracted = [keep(item) for item in extracted]
    return cleaned_batch(extracted, None)


def cleaned_batch(extracted: Sequence[Article | Rejected], pool: Executor | None) -> CleanedBatch:
    cleaned = clean_pages(extracted, pool)
    articles = [item for item in cleaned if isinstance(item, Article)]
    before = sum(isinstance(item, Article) for item in extracted)
    get_run_logger().info("Cleaned %d articles, rejected %d", len(articles), before - len(articles))
    return CleanedBatch(tuple(cleaned), tuple(in_batch(sign, articles, pool=pool)))


@dataclass(frozen=True, slots=True)
class Deduplicated:
    """Deduplication's word on every article of a run, in the order they were collected.

    `decisions[i]` is None for a page fetched again because its feed said it changed, whose
    body did not: it is not stored again, and `rejected` holds its `unchanged` row.
    """

    decisions: tuple[DedupDecision | None, ...]
    rejected: tuple[Rejected, ...]
    signatures: tuple[StoredSignature, ...]  # the `dedup_signatures` rows to publish


@task(name="dedupe", cache_policy=NO_CACHE)
def dedupe_task(
    signatures: Sequence[Signature],
    raw_record_ids: Sequence[str | None],
    data_dir: Path,
    exclude: Exclude,
    refetched: frozenset[str],
) -> Deduplicated:
    """Decide every article of the run, given their signatures and raw records in collected
    order, against the others and the warehouse (`tasks.dedupe.decide`)."""
    with ParquetSignatureIndex(data_dir / "lake", exclude=exclude) as index:
        result = decide(signatures, index)
    decisions: list[DedupDecision | None] = []
    rejected = []
    for signature, raw_record_id, decision in zip(
        signatures, raw_record_ids, result.decisions, strict=True
    ):
        if decision.duplicate_kind == "canonical_url" and normal(signature.url) in refetched:
            rejected.append(
                Rejected(
                    signature.source_id,
                    signature.url,
                    STAGE_DEDUPE,
                    UNCHANGED,
                    raw_record_id=raw_record_id,
                )
            )
            decisions.append(None)
        else:
            decisions.append(decision)
    duplicates = sum(d is not None and d.duplicate_of is not None for d in decisions)
    get_run_logger().info(
        "Deduplicated %d articles: %d duplicates, %d unchanged",
        len(decisions),
        duplicates,
        len(rejected),
    )
    return Deduplicated(tuple(decisions), tuple(rejected), result.signatures)


@task(name="enrich-batch", cache_policy=NO_CACHE)
def enrich_task(
    items: Sequence[tuple[str, Article]], model: str, pool: Executor | None
) -> Enrichment:
    """Entities and quotes of a batch of stories: in a worker process when a pool is given."""
    if pool is None:
        enrichment = enrich_with_model(items, model)
    else:
        enrichment = pool.submit(enrich_with_model, items, model).result()
    get_run_logger().info(
        "Enriched %d articles: %d mentions, %d quotes",
        len(items),
        len(enrichment.mentions),
        len(enrichment.quotes),
    )
    return enrichment


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(publication: Publication, last: Mapping[str, pa.Table]) -> Path:
    """Write the tables that are whole only once the run is (`last`), then publish every
    table of the run at once (`Publication.commit`); returns the catalog's path."""
    for table, rows in last.items():
        publication.write(table, rows)
    catalog = publication.commit()
    get_run_logger().info("Published %s", dict(publication.rows_written))
    return catalog


def seen_and_changed(
    data_dir: Path, found: Sequence[Discovered], exclude: Exclude
) -> tuple[frozenset[str], frozenset[str]]:
    """The normalised URLs of `found` that the warehouse holds as articles, and those of them
    whose feed or sitemap says they changed after we last fetched them."""
    seen = query.seen_urls(data_dir, {normal(d.url) for d in found} - {""}, exclude=exclude)
    changed = set()
    for item in found:
        last = seen.get(normal(item.url))
        if last is not None and item.modified_at is not None and item.modified_at > last:
            changed.add(normal(item.url))
    return frozenset(seen), frozenset(changed)


def normal(url: str) -> str:
    try:
        return normalize_url(url)
    except ValueError:
        return ""
