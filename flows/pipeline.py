"""One run of the pipeline, as Prefect tasks over batches.

discover -> frontier -> fetch (+ raw archive) -> extract + clean -> dedupe -> enrich -> publish
-> run summary artifacts. Every URL that enters ends as exactly one row: an article (maybe a
duplicate) or a `rejected` row with a reason; every request is also a `fetch_log` row.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import metadata
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.exceptions import PrefectHTTPStatusError
from prefect.futures import PrefectFuture

from flows.settings import Settings
from tasks import discover as discover_stage
from tasks import fetch as fetch_stage
from tasks.dedupe import Signature, decide
from tasks.enrich import Enrichment, enrich_with_model
from tasks.frontier import chunks, plan_frontier
from tasks.pages import extract_pages
from tasks.reasons import (
    NOT_MODIFIED,
    OK,
    STAGE_DEDUPE,
    STAGE_DISCOVER,
    STAGE_FETCH,
    SUCCESS,
    UNCHANGED,
)
from tasks.records import (
    Article,
    DedupDecision,
    Discovered,
    FetchedPage,
    FetchLogEntry,
    Rejected,
    RunContext,
    Source,
)
from tasks.urls import normalize_url
from warehouse import query
from warehouse.convert import article_rows, keyword_rows, to_table
from warehouse.dedup_index import ParquetSignatureIndex, signatures_table
from warehouse.lake import warehouse_run
from warehouse.publish import Publication
from warehouse.raw import RawArchive, archive_name, read_archives
from warehouse.spill import Spill

VERSION = metadata.version("newsflow")
OK_REASONS = SUCCESS
# A run's status, in the `runs` table and the summary.
COMPLETED = "completed"  # every source worked
COMPLETED_WITH_FAILURES = "completed_with_failures"  # some sources failed; the rest published
FAILED = "failed"  # every source failed: nothing could be ingested (the failures are published)
SOURCE_FAILED_EVENT = "newsflow.source.failed"
MAX_ENRICH_IN_FLIGHT = 4  # enrichment batches queued at once: bounds the memory they hold
MIN_POOLED_STORIES = 100  # fewer stories are enriched in-process: a worker's model load costs more
ENRICH_BATCH = 50  # stories per enrichment task when the worker processes share them


@dataclass(frozen=True, slots=True)
class RunPlan:
    flow: str
    context: RunContext
    sources: tuple[Source, ...]
    sources_file: str
    max_articles: int | None = None
    window: tuple[datetime, datetime] | None = None
    reprocess: bool = False
    prefect_flow_run_id: str = ""


@dataclass(frozen=True, slots=True)
class SourceCounts:
    source_id: str
    discovered: int = 0
    fetched: int = 0
    new: int = 0
    duplicate: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceFailure:
    """Why one source gave nothing usable in a run."""

    source_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source_id}: {self.problem}"


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    run_date: str
    status: str  # COMPLETED, COMPLETED_WITH_FAILURES or FAILED
    data_dir: str
    catalog: str
    rows_written: dict[str, int]
    per_source: tuple[SourceCounts, ...]
    failures: tuple[str, ...] = ()  # "<source id>: <problem>", one per failed source problem
    found: tuple[str, ...] = ()  # "<source id>: feed <url> (how)": what home pages led to


def fetch_policy(settings: Settings, sources: Iterable[Source] = ()) -> fetch_stage.FetchPolicy:
    """The fetcher's policy: settings, plus the crawl delays sources ask for their hosts."""
    return fetch_stage.FetchPolicy(
        user_agent=settings.full_user_agent,
        deadline_s=settings.request_deadline_s,
        connect_timeout_s=settings.connect_timeout_s,
        max_bytes=settings.max_bytes,
        max_retries=settings.max_retries,
        backoff_base_s=settings.backoff_base_s,
        per_host_delay_s=settings.per_host_delay_s,
        max_retry_after_s=settings.max_retry_after_s,
        allow_private=frozenset(settings.allow_private_hosts),
        proxy=settings.proxy,
        proxy_from_env=settings.proxy_from_env,
        pinned_hosts=settings.pinned_hosts,
        host_delays=fetch_stage.host_delays(sources),
    )


def _now() -> datetime:
    return datetime.now().astimezone()


# ---------------------------------------------------------------- tasks (thin wrappers)


@task(name="discover", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def discover_task(
    source: Source,
    fetcher: fetch_stage.Fetcher,
    validators: Mapping[str, tuple[str | None, str | None]],
) -> discover_stage.Discovery:
    result = discover_stage.discover(source, fetcher, validators=validators, now=_now)
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


@task(name="fetch-batch", cache_policy=NO_CACHE)
def fetch_task(
    fetcher: fetch_stage.Fetcher,
    items: Sequence[Discovered],
    max_hosts: int,
    validators: Mapping[str, tuple[str | None, str | None]],
) -> list[fetch_stage.FetchOutcome]:
    outcomes = fetch_stage.fetch_batch(
        fetcher, items, max_hosts_in_parallel=max_hosts, now=_now, validators=validators
    )
    ok = sum(outcome.ok for outcome in outcomes)
    get_run_logger().info("Fetched %d of %d URLs", ok, len(outcomes))
    return outcomes


@task(name="extract-batch", cache_policy=NO_CACHE)
def extract_task(
    pages: Sequence[FetchedPage], sources: Mapping[str, Source], pool: Executor | None
) -> tuple[list[Article], list[Signature], list[Rejected]]:
    """Extract, clean and sign a batch of pages: in worker processes when a pool is given."""
    articles, signatures, rejected = extract_pages(pages, sources, pool)
    get_run_logger().info("Extracted %d articles, rejected %d pages", len(articles), len(rejected))
    return articles, signatures, rejected


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


# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class _Collected:
    """What the fetch and extract stages produced, before deduplication.

    Articles wait on disk (`articles`, one batch at a time); their signatures, which
    deduplication needs all at once, stay in memory in the same order.
    """

    articles: Spill[Article]
    fetch_log: list[FetchLogEntry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    discovered: Counter[str] = field(default_factory=Counter)
    failures: list[SourceFailure] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # what sites' home pages led to
    refetched: frozenset[str] = frozenset()  # normalised URLs fetched again to look for updates

    def add_extracted(self, result: tuple[list[Article], list[Signature], list[Rejected]]) -> None:
        articles, signatures, rejected = result
        self.articles.append(articles)
        self.signatures.extend(signatures)
        self.rejected.extend(rejected)


def run_pipeline(settings: Settings, plan: RunPlan) -> RunSummary:
    """Run every stage for `plan` and publish; returns what the run did.

    The run holds its data dir from its first look at the warehouse to its publication, so
    runs that share a warehouse (a nightly run and a backfill, say) take turns.
    """
    ctx = plan.context
    data_dir = settings.data_dir.resolve()
    with warehouse_run(
        data_dir, ctx.run_id, wait_s=settings.run_lock_wait_s, on_wait=get_run_logger().warning
    ):
        publication = Publication(data_dir, ctx.run_date, ctx.scope)
        try:
            with cpu_pool(settings.cpu_workers) as pool:
                if plan.reprocess:
                    collected = _reprocess(settings, data_dir, plan, publication, pool)
                else:
                    collected = _fetch_and_extract(settings, data_dir, plan, publication, pool)
                per_source = _dedupe_enrich_publish(
                    settings, data_dir, plan, collected, publication, pool
                )
            status = _status(plan.sources, collected.failures)
            publication.write("runs", to_table("runs", [_run_row(plan, status, per_source)]))
            catalog = publication.commit()
        except BaseException:
            publication.abort()
            raise
    summary = RunSummary(
        run_id=ctx.run_id,
        run_date=ctx.run_date.isoformat(),
        status=status,
        data_dir=str(data_dir),
        catalog=str(catalog),
        rows_written=dict(publication.rows_written),
        per_source=per_source,
        failures=tuple(str(f) for f in collected.failures),
        found=tuple(collected.found),
    )
    _report(summary, collected.failures, plan)
    return summary


def _status(sources: Sequence[Source], failures: Sequence[SourceFailure]) -> str:
    failed = {f.source_id for f in failures}
    if not failed:
        return COMPLETED
    return FAILED if failed >= {s.id for s in sources} else COMPLETED_WITH_FAILURES


def _report(summary: RunSummary, failures: Sequence[SourceFailure], plan: RunPlan) -> None:
    """Artifacts, and an event per failed source, once the run is published.

    Reporting to Prefect comes after the data is safe: when the Prefect server cannot be
    reached the run says so in its log and ends, instead of failing a published run.
    """
    logger = get_run_logger()
    try:
        _publish_artifacts(summary)
        for failure in failures:
            emit_event(
                event=SOURCE_FAILED_EVENT,
                resource={
                    "prefect.resource.id": f"newsflow.source.{failure.source_id}",
                    "prefect.resource.name": failure.source_id,
                },
                related=_flow_run_resource(plan.prefect_flow_run_id),
                payload={
                    "run_id": summary.run_id,
                    "run_date": summary.run_date,
                    "problem": failure.problem,
                    "status": summary.status,
                },
            )
    except (httpx.HTTPError, PrefectHTTPStatusError) as error:
        logger.warning(
            "Run %s is published, but Prefect did not take its report: %s", summary.run_id, error
        )


def _flow_run_resource(flow_run_id: str) -> list[dict[str, str]]:
    if not flow_run_id:
        return []
    return [
        {
            "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
            "prefect.resource.role": "flow-run",
        }
    ]


def _fetch_and_extract(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    publication: Publication,
    pool: Executor | None,
) -> _Collected:
    # The fetcher keeps its connections alive across the run; they close when the run does.
    with fetch_stage.HttpFetcher(fetch_policy(settings, plan.sources)) as fetcher:
        return _fetch_with(fetcher, settings, data_dir, plan, publication, pool)


def _fetch_with(
    fetcher: fetch_stage.HttpFetcher,
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    publication: Publication,
    pool: Executor | None,
) -> _Collected:
    logger = get_run_logger()
    ctx = plan.context
    exclude = (ctx.run_date, ctx.scope)
    sources = {source.id: source for source in plan.sources}
    collected = _Collected(articles=publication.spill("articles"))
    feeds = [s.location for s in plan.sources if s.location]
    # A backfill date needs the feed's items of that day, which a 304 would not give it.
    validators = {} if plan.window else query.latest_validators(data_dir, feeds, exclude=exclude)
    futures = [discover_task.submit(s, fetcher, validators) for s in plan.sources]
    found: list[Discovered] = []
    for source, future in zip(plan.sources, futures, strict=True):
        try:
            discovery = future.result()
        except Exception as error:  # one broken source must not sink the others
            collected.failures.append(SourceFailure(source.id, f"discovery failed: {error}"))
            logger.error("Skipped %s: discovery failed: %s", source.id, error)
            continue
        collected.fetch_log.extend(discovery.log)
        collected.fetch_log.extend(discovery.unfetched)  # links refused before any request
        collected.rejected.extend(discovery.rejected)
        collected.discovered[source.id] += len(discovery.discovered) + len(discovery.rejected)
        found.extend(discovery.discovered)
        collected.found.extend(f"{source.id}: {what}" for what in discovery.found)
        if problems := _discovery_problems(source, discovery):
            collected.failures.append(SourceFailure(source.id, f"discovery: {', '.join(problems)}"))
    seen = query.seen_urls(data_dir, {_normal(d.url) for d in found} - {""}, exclude=exclude)
    collected.refetched = _changed_since_fetched(found, seen)
    frontier = plan_frontier(
        found,
        seen=frozenset(seen),
        caps={s.id: s.max_articles for s in plan.sources},
        max_articles=plan.max_articles,
        window=plan.window,
        refresh=collected.refetched,
    )
    collected.rejected.extend(frontier.rejected)
    page_validators = query.latest_validators(data_dir, collected.refetched, exclude=exclude)
    with RawArchive(data_dir, ctx.run_date, ctx.scope) as archive:
        extracting = None  # the previous batch is extracted while this one is fetched
        for batch in chunks(frontier.to_fetch, settings.batch_size):
            pages = []
            outcomes = fetch_task(fetcher, batch, settings.max_hosts_in_parallel, page_validators)
            for outcome in outcomes:
                if outcome.robots_log is not None:
                    collected.fetch_log.append(outcome.robots_log)
                entry = outcome.log
                if outcome.page is not None:
                    record_id = archive.append(outcome.page)
                    pages.append(replace(outcome.page, raw_record_id=record_id))
                    entry = replace(entry, raw_record_id=record_id)
                elif outcome.log.reason == NOT_MODIFIED:  # a conditional re-fetch
                    collected.rejected.append(
                        Rejected(entry.source_id, entry.url, STAGE_FETCH, NOT_MODIFIED)
                    )
                elif (rejection := outcome.rejected()) is not None:
                    collected.rejected.append(rejection)
                collected.fetch_log.append(entry)
            following = extract_task.submit(pages, sources, pool)
            if extracting is not None:
                collected.add_extracted(extracting.result())
            extracting = following
        if extracting is not None:
            collected.add_extracted(extracting.result())
        publication.add_raw(archive)
    return collected


def _reprocess(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    publication: Publication,
    pool: Executor | None,
) -> _Collected:
    """Re-extract a run from its raw archive, deciding as the live run decided.

    Its fetch log and the rejections made before extraction (discover, frontier, fetch) are
    kept; everything from extraction on is made again. The re-fetches that looked for
    updates are found again from what discovery said of each archived page, so an unchanged
    one is again an `unchanged` rejection and not an article.
    """
    ctx = plan.context
    exclude = (ctx.run_date, ctx.scope)
    collected = _Collected(articles=publication.spill("articles"))
    sources = {source.id: source for source in plan.sources}
    kept_log = query.fetch_log_rows(data_dir, ctx.run_date, ctx.scope)
    publication.write("fetch_log", kept_log)
    collected.rejected.extend(query.rejected_before_extract(data_dir, ctx.run_date, ctx.scope))
    archives = sorted({archive_name(i) for i in kept_log.column("raw_record_id").to_pylist() if i})
    pages = read_archives(data_dir, archives)
    found: list[Discovered] = []
    while batch := list(islice(pages, settings.batch_size)):
        for page in batch:
            collected.discovered[page.source_id] += 1
            if page.discovered is not None:
                found.append(page.discovered)
        collected.add_extracted(extract_task(batch, sources, pool))
    seen = query.seen_urls(data_dir, {_normal(d.url) for d in found} - {""}, exclude=exclude)
    collected.refetched = _changed_since_fetched(found, seen)
    return collected


def _dedupe_enrich_publish(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    collected: _Collected,
    publication: Publication,
    pool: Executor | None,
) -> tuple[SourceCounts, ...]:
    ctx = plan.context
    index = ParquetSignatureIndex(data_dir / "lake", exclude=(ctx.run_date, ctx.scope))
    try:
        result = decide(collected.signatures, index)
    finally:
        index.close()
    publication.write("dedup_signatures", signatures_table(result.signatures, run_id=ctx.run_id))
    # Enrichment is most of a run's CPU: with enough stories, batches go to the worker
    # processes; at most a few are in flight, and results are written in batch order.
    stories_in_run = sum(d.duplicate_of is None for d in result.decisions)
    pooled = pool if stories_in_run >= MIN_POOLED_STORIES else None
    size = ENRICH_BATCH if pooled else settings.batch_size
    in_flight: deque[PrefectFuture[Enrichment]] = deque()
    outcomes: list[tuple[str, bool]] = []  # (source_id, is a duplicate) of each stored article
    source_of: dict[str, str] = {}  # article_id -> source_id of the stories, for mentions
    decisions = iter(result.decisions)
    for batch in collected.articles.batches():
        kept = _drop_unchanged(batch, decisions, collected)
        publication.write(
            "articles", article_rows([a for a, _ in kept], [d for _, d in kept], ctx.run_id)
        )
        publication.write("keywords", keyword_rows(kept, ctx.run_id))
        outcomes += [(a.source_id, d.duplicate_of is not None) for a, d in kept]
        stories = [(d.article_id, a) for a, d in kept if d.duplicate_of is None]
        source_of.update((article_id, a.source_id) for article_id, a in stories)
        for chunk in chunks(stories, size):
            if pooled is None:  # one spaCy pipeline in this process: one batch at a time
                enrichment = enrich_task(chunk, settings.spacy_model, None)
                _write_enrichment(publication, enrichment, ctx.run_id, source_of)
                continue
            in_flight.append(enrich_task.submit(chunk, settings.spacy_model, pooled))
            while len(in_flight) > MAX_ENRICH_IN_FLIGHT:
                _write_enrichment(publication, in_flight.popleft().result(), ctx.run_id, source_of)
    while in_flight:
        _write_enrichment(publication, in_flight.popleft().result(), ctx.run_id, source_of)
    fetch_log = _robots_owned_by_first_source(collected.fetch_log, plan.sources)
    publication.write("fetch_log", to_table("fetch_log", fetch_log, run_id=ctx.run_id))
    publication.write("rejected", to_table("rejected", collected.rejected, run_id=ctx.run_id))
    return _counts(plan.sources, outcomes, collected)


@contextmanager
def cpu_pool(workers: int) -> Iterator[Executor | None]:
    """Worker processes for the CPU-heavy stages; none when one worker is configured.

    Spawned, not forked: the flow's process runs Prefect's threads and event loop. When the
    run stops early (an error, SIGTERM), queued work is cancelled rather than finished.
    """
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _discovery_problems(source: Source, discovery: discover_stage.Discovery) -> list[str]:
    """Why a source's own feed, sitemap or page gave nothing usable (robots.txt rows and the
    common locations a site was tried at aside)."""
    fetches = {
        e.reason
        for e in discovery.log
        if e.purpose != "robots" and e.url not in discovery.optional
    } - OK_REASONS
    documents = {
        r.reason
        for r in discovery.rejected
        if r.stage == STAGE_DISCOVER and r.url == source.location
    }
    return sorted(fetches | documents)


def _robots_owned_by_first_source(
    log: Sequence[FetchLogEntry], sources: Sequence[Source]
) -> list[FetchLogEntry]:
    """Give each robots.txt row to the first source (by id) on its host.

    Whichever discovery task reaches a host first triggers its robots.txt fetch; naming the
    row after it would make reruns differ.
    """
    owner: dict[str, str] = {}
    for source in sorted(sources, key=lambda s: s.id):
        for url in (source.location, *source.urls):
            if url:
                owner.setdefault(fetch_stage.politeness_key(url), source.id)
    return [
        replace(e, source_id=owner.get(fetch_stage.politeness_key(e.url), e.source_id))
        if e.purpose == "robots"
        else e
        for e in log
    ]


def _changed_since_fetched(
    found: Sequence[Discovered], seen: Mapping[str, datetime]
) -> frozenset[str]:
    """Seen URLs whose feed or sitemap says they changed after we last fetched them."""
    changed = set()
    for item in found:
        normal = _normal(item.url)
        last = seen.get(normal)
        if last is not None and item.modified_at is not None and item.modified_at > last:
            changed.add(normal)
    return frozenset(changed)


def _drop_unchanged(
    batch: Sequence[Article], decisions: Iterator[DedupDecision], collected: _Collected
) -> list[tuple[Article, DedupDecision]]:
    """Pair a batch with its decisions, leaving out re-fetched pages whose body did not
    change: those become a `rejected` row, not a copy of themselves."""
    kept = []
    for article, decision in zip(batch, decisions, strict=False):
        if decision.duplicate_kind == "canonical_url" and _normal(article.url) in (
            collected.refetched
        ):
            collected.rejected.append(
                Rejected(
                    article.source_id,
                    article.url,
                    STAGE_DEDUPE,
                    UNCHANGED,
                    raw_record_id=article.raw_record_id,
                )
            )
            continue
        kept.append((article, decision))
    return kept


def _write_enrichment(
    publication: Publication, enrichment: Enrichment, run_id: str, source_of: Mapping[str, str]
) -> None:
    publication.write(
        "mentions", to_table("mentions", enrichment.mentions, run_id=run_id, source_of=source_of)
    )
    publication.write(
        "quotes", to_table("quotes", enrichment.quotes, run_id=run_id, source_of=source_of)
    )


def _normal(url: str) -> str:
    try:
        return normalize_url(url)
    except ValueError:
        return ""


def _counts(
    sources: Sequence[Source], outcomes: Sequence[tuple[str, bool]], collected: _Collected
) -> tuple[SourceCounts, ...]:
    fetched: Counter[str] = Counter(
        e.source_id for e in collected.fetch_log if e.purpose == "article" and e.reason == OK
    )
    new: Counter[str] = Counter()
    duplicate: Counter[str] = Counter()
    for source_id, is_duplicate in outcomes:
        (duplicate if is_duplicate else new)[source_id] += 1
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for row in collected.rejected:
        reasons[row.source_id][row.reason] += 1
    return tuple(
        SourceCounts(
            source_id=s.id,
            discovered=collected.discovered[s.id],
            fetched=fetched[s.id],
            new=new[s.id],
            duplicate=duplicate[s.id],
            rejected=dict(sorted(reasons[s.id].items())),
        )
        for s in sources
    )


def _run_row(plan: RunPlan, status: str, per_source: Sequence[SourceCounts]) -> dict[str, Any]:
    ctx = plan.context
    return {
        "run_id": ctx.run_id,
        "flow": plan.flow,
        "scope": ctx.scope,
        "started_at": ctx.started_at,
        "finished_at": _now(),
        "status": status,
        "parameters": json.dumps(
            {
                "sources": plan.sources_file,
                "max_articles": plan.max_articles,
                "prefect_flow_run_id": plan.prefect_flow_run_id,
            },
            sort_keys=True,
        ),
        "sources": [s.id for s in plan.sources],
        "discovered": sum(c.discovered for c in per_source),
        "fetched": sum(c.fetched for c in per_source),
        "articles": sum(c.new for c in per_source),
        "duplicates": sum(c.duplicate for c in per_source),
        "rejected": sum(sum(c.rejected.values()) for c in per_source),
        "newsflow_version": VERSION,
    }


def _publish_artifacts(summary: RunSummary) -> None:
    rows = [
        {
            "source": c.source_id,
            "discovered": c.discovered,
            "fetched": c.fetched,
            "new": c.new,
            "duplicate": c.duplicate,
            "rejected": sum(c.rejected.values()),
            "rejected by reason": ", ".join(f"{k}={v}" for k, v in c.rejected.items()) or "-",
        }
        for c in summary.per_source
    ]
    create_table_artifact(rows, key="per-source-counts", description=f"Run {summary.run_id}")
    written = "\n".join(f"| {t} | {n} |" for t, n in sorted(summary.rows_written.items()))
    failures = "\n".join(f"- {f}" for f in summary.failures) or "none"
    found = "\n".join(f"- {f}" for f in summary.found) or "none"
    create_markdown_artifact(
        f"# newsflow run {summary.run_id}\n\n"
        f"- run date: {summary.run_date}\n- status: **{summary.status}**\n"
        f"- catalog: `{summary.catalog}`\n\n"
        f"## Rows written\n\n| table | rows |\n|---|---|\n{written}\n\n"
        f"## Failures\n\n{failures}\n\n"
        f"## Found from home pages (sources of kind site)\n\n{found}\n",
        key="run-summary",
        description=f"Run {summary.run_id}",
    )
