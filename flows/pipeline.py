"""One run of the pipeline: the stages of `flows.stages`, in order, over batches.

discover (per source) -> frontier -> fetch-batch (+ raw archive) -> extract-batch ->
clean-batch -> dedupe -> enrich-batch -> publish, then the report (`flows.report`, which also
shows each batched stage's progress while the run works). Every URL that enters ends as
exactly one row: an article (maybe a duplicate) or a `rejected` row with a reason; every
request is also a `fetch_log` row.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import metadata
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner

from flows import cluster, health
from flows.early import EarlyEnrichment
from flows.report import PREFECT_ERRORS, publish_report, show_progress, start_progress
from flows.settings import Settings
from flows.stages import (
    CleanedBatch,
    clean_task,
    dedupe_task,
    discover_task,
    enrich_task,
    extract_task,
    fetch_task,
    frontier_task,
    now,
    prepare_task,
    publish_task,
    seen_and_changed,
)
from tasks import discover as discover_stage
from tasks import fetch as fetch_stage
from tasks.dedupe import DedupConfig, Signature
from tasks.entities import EntitySeen, combine_tallies, tally_entities
from tasks.frontier import chunks
from tasks.reasons import OK, STAGE_DISCOVER, SUCCESS
from tasks.records import (
    Article,
    Discovered,
    Enrichment,
    FetchedPage,
    FetchLogEntry,
    Rejected,
    RunContext,
    Source,
)
from tasks.workers import warm_up
from warehouse import query
from warehouse.convert import article_rows, keyword_rows, to_table
from warehouse.dedup_index import signatures_table
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
DISCOVERY_THREADS = 8  # sources discovered at once, in this process
Keep = Callable[[Article | Rejected], Article | Rejected]  # an extracted item, kept or rejected
# A batch on its way through extract and clean (`start_batch`): its extraction, or on a Dask
# cluster its whole preparation (prepare-batch); `finish_batch` makes it a CleanedBatch.
Preparing = PrefectFuture[list[Article | Rejected]] | PrefectFuture[CleanedBatch]


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


# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class Collected:
    """What the stages up to clean produced, before deduplication.

    Articles wait on disk (`articles`, one batch at a time) until deduplication reads them.
    """

    articles: Spill[Article]
    fetch_log: list[FetchLogEntry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    discovered: Counter[str] = field(default_factory=Counter)
    failures: list[SourceFailure] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # what sites' home pages led to
    refetched: frozenset[str] = frozenset()  # normalised URLs fetched again to look for updates
    signatures: list[Signature] = field(default_factory=list)  # of every article, in order
    raw_record_ids: list[str | None] = field(default_factory=list)  # of every article
    early: EarlyEnrichment | None = None  # enrichment started before the decision

    def add_cleaned(self, batch: CleanedBatch) -> None:
        """Keep a cleaned batch: its articles (spilled), their signatures and raw records, its
        rejections; offer the articles to early enrichment."""
        articles = batch.articles
        self.articles.append(articles)
        self.signatures.extend(batch.signatures)
        self.raw_record_ids.extend(article.raw_record_id for article in articles)
        self.rejected.extend(item for item in batch.outcomes if isinstance(item, Rejected))
        if self.early is not None:
            self.early.offer(articles, batch.signatures)


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
            with run_pool(settings) as pool:
                if plan.reprocess:
                    collected = _reprocess(settings, data_dir, plan, publication, pool)
                else:
                    collected = _fetch_and_extract(settings, data_dir, plan, publication, pool)
                per_source = dedupe_and_enrich(
                    settings, data_dir, plan, collected, publication, pool
                )
            status = run_status(plan.sources, collected.failures)
            fetch_log = _robots_owned_by_first_source(collected.fetch_log, plan.sources)
            sources_table = health.source_runs_table(
                plan,
                per_source,
                collected.failures,
                collected.signatures,
                collected.rejected,
                now(),
            )
            last = {
                "fetch_log": to_table("fetch_log", fetch_log, run_id=ctx.run_id),
                "rejected": to_table("rejected", collected.rejected, run_id=ctx.run_id),
                "source_runs": sources_table,
                "runs": to_table("runs", [run_row(plan, status, per_source)]),
            }
            catalog = publish_task(publication, last)
        except BaseException:
            publication.abort()
            raise
    summary = published_summary(
        publication, ctx, status, catalog, per_source, collected.failures, collected.found
    )
    problems = health.report_health(summary, plan)  # events for silent and drifted sources
    report_run(summary, collected.failures, plan, problems)
    return summary


def published_summary(
    publication: Publication,
    ctx: RunContext,
    status: str,
    catalog: Path,
    per_source: tuple[SourceCounts, ...],
    failures: Iterable[object] = (),
    found: Iterable[str] = (),
) -> RunSummary:
    """The summary of what one publication wrote."""
    return RunSummary(
        run_id=ctx.run_id,
        run_date=ctx.run_date.isoformat(),
        status=status,
        data_dir=str(publication.data_dir),
        catalog=str(catalog),
        rows_written=dict(publication.rows_written),
        per_source=per_source,
        failures=tuple(str(f) for f in failures),
        found=tuple(found),
    )


def run_status(sources: Sequence[Source], failures: Sequence[SourceFailure]) -> str:
    failed = {f.source_id for f in failures}
    if not failed:
        return COMPLETED
    return FAILED if failed >= {s.id for s in sources} else COMPLETED_WITH_FAILURES


def report_run(
    summary: RunSummary,
    failures: Sequence[SourceFailure],
    plan: RunPlan,
    problems: Sequence[str] = (),
) -> None:
    """Artifacts (the report lists the sources' health `problems`), and an event per failed
    source, once the run is published.

    Reporting to Prefect comes after the data is safe: when the Prefect server cannot be
    reached the run says so in its log and ends, instead of failing a published run.
    """
    logger = get_run_logger()
    try:
        publish_report(summary, problems)
        for failure in failures:
            health.emit_source_event(
                SOURCE_FAILED_EVENT,
                failure.source_id,
                plan.prefect_flow_run_id,
                {
                    "run_id": summary.run_id,
                    "run_date": summary.run_date,
                    "problem": failure.problem,
                    "status": summary.status,
                },
            )
    except PREFECT_ERRORS as error:
        logger.warning(
            "Run %s is published, but Prefect did not take its report: %s", summary.run_id, error
        )


def _fetch_and_extract(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    publication: Publication,
    pool: Executor | None,
) -> Collected:
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
) -> Collected:
    ctx = plan.context
    exclude = (ctx.run_date, ctx.scope)
    collected = Collected(articles=publication.spill("articles"))
    feeds = [s.location for s in plan.sources if s.location]
    # A backfill date needs the feed's items of that day, which a 304 would not give it.
    validators = {} if plan.window else query.latest_validators(data_dir, feeds, exclude=exclude)
    found = _discover(fetcher, plan.sources, validators, collected)
    frontier, collected.refetched = frontier_task(
        found, plan.sources, data_dir, exclude, plan.max_articles, plan.window
    )
    collected.rejected.extend(frontier.rejected)
    collected.early = early_enrichment(settings, pool, len(frontier.to_fetch))
    page_validators = query.latest_validators(data_dir, collected.refetched, exclude=exclude)
    sources = {source.id: source for source in plan.sources}
    fetching = start_progress("fetch", len(frontier.to_fetch), "URLs")
    extracting = start_progress("extract", len(frontier.to_fetch), "URLs")
    fetched = extracted = 0
    # Extractions of earlier batches, with their URLs: they run during the next fetches. One
    # at a time with a pool, whose processes share each batch; one per worker on Dask.
    extracting_batches: deque[tuple[Preparing, int]] = deque()
    in_flight = extractions_in_flight()
    with RawArchive(data_dir, ctx.run_date, ctx.scope) as archive:
        for batch in chunks(frontier.to_fetch, settings.batch_size):
            result = fetch_task(
                fetcher, batch, settings.max_hosts_in_parallel, page_validators, archive
            )
            collected.fetch_log.extend(result.log)
            collected.rejected.extend(result.rejected)
            fetched += len(batch)
            show_progress(fetching, fetched)
            while len(extracting_batches) >= in_flight:
                extracted += clean_into(*extracting_batches.popleft(), collected, pool)
                show_progress(extracting, extracted)
            extracting_batches.append((start_batch(result.pages, sources, pool), len(batch)))
        while extracting_batches:
            extracted += clean_into(*extracting_batches.popleft(), collected, pool)
        publication.add_raw(archive)
    show_progress(fetching, fetched)  # 100 at the end, also when there was nothing to fetch
    show_progress(extracting, extracted)
    return collected


def start_batch(
    pages: Sequence[FetchedPage],
    sources: Mapping[str, Source],
    pool: Executor | None,
    keep: Keep | None = None,
) -> Preparing:
    """Submit a batch of pages to extraction; `finish_batch` (or `clean_into`) cleans it.

    On a Dask cluster the batch is one prepare-batch task on a worker instead, extraction,
    `keep` and cleaning together: its pages travel to the worker once and only the cleaned
    batch comes back, where two tasks would bring the extracted articles to this process and
    send them out again, and pay a task's scheduling and Prefect bookkeeping twice.
    """
    if cluster.dask_runner() is not None:
        return prepare_task.submit(cluster.whole(pages), sources, keep)
    return extract_task.submit(pages, sources, pool)


def finish_batch(
    preparing: Preparing, pool: Executor | None, keep: Keep | None = None
) -> CleanedBatch:
    """A started batch (`start_batch`), cleaned and signed; raises what its tasks raised.

    Extracted here, the batch is cleaned here too (in the worker processes of `pool`), after
    `keep` has turned the articles it refuses into rejections (a source's language filter).
    """
    result = preparing.result()
    if isinstance(result, CleanedBatch):  # prepared whole on a Dask worker, `keep` there
        return result
    extracted = result if keep is None else [keep(item) for item in result]
    return clean_task(extracted, pool, wait_for=[preparing])


def clean_into(
    preparing: Preparing,
    urls: int,
    collected: Collected,
    pool: Executor | None,
    keep: Keep | None = None,
) -> int:
    """Clean a started batch into `collected` (`finish_batch`); returns its number of URLs.

    Called before the next batch's extraction is submitted, so that in the worker processes
    the cleaning goes first instead of waiting behind a whole batch of extraction. On a
    Dask cluster `keep` must be the one its `start_batch` was given.
    """
    collected.add_cleaned(finish_batch(preparing, pool, keep))
    return urls


def start_enrichment(
    stories: Sequence[tuple[str, Article]], model: str, pool: Executor | None
) -> PrefectFuture[Enrichment]:
    """Submit a batch of stories to enrich-batch: on a Dask worker when the flow runs on a
    cluster, else in this process's threads (in `pool`'s worker processes when given)."""
    if cluster.dask_runner() is not None:
        return enrich_task.submit(cluster.whole(stories), model, None)
    return enrich_task.submit(stories, model, pool)


def _discover(
    fetcher: fetch_stage.HttpFetcher,
    sources: Sequence[Source],
    validators: Mapping[str, tuple[str | None, str | None]],
    collected: Collected,
) -> list[Discovered]:
    """Every source's discovered URLs; a source whose discovery failed is a failure.

    Discovery fetches, so it runs in this process's threads whatever the flow's task runner
    (on Dask too): the run's one fetcher keeps every host's politeness.
    """
    logger = get_run_logger()
    with _discovery_threads() as threads:
        futures: list[PrefectFuture[discover_stage.Discovery]] = [
            threads.submit(
                discover_task, {"source": s, "fetcher": fetcher, "validators": validators}
            )
            for s in sources
        ]
        outcomes = [_outcome(future) for future in futures]
    found: list[Discovered] = []
    for source, (discovery, error) in zip(sources, outcomes, strict=True):
        if discovery is None:  # one broken source must not sink the others
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
    return found


def _discovery_threads():  # untyped: Prefect's runner generics defeat inference
    return ThreadPoolTaskRunner(max_workers=DISCOVERY_THREADS)


def _outcome(
    future: PrefectFuture[discover_stage.Discovery],
) -> tuple[discover_stage.Discovery | None, Exception | None]:
    try:
        return future.result(), None
    except Exception as error:  # the caller records it as the source's failure
        return None, error


def _reprocess(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    publication: Publication,
    pool: Executor | None,
) -> Collected:
    """Re-extract a run from its raw archive, deciding as the live run decided.

    Its fetch log and the rejections made before extraction (discover, frontier, fetch) are
    kept; everything from extraction on is made again. The re-fetches that looked for
    updates are found again from what discovery said of each archived page, so an unchanged
    one is again an `unchanged` rejection and not an article.
    """
    ctx = plan.context
    collected = Collected(articles=publication.spill("articles"))
    sources = {source.id: source for source in plan.sources}
    kept_log = query.fetch_log_rows(data_dir, ctx.run_date, ctx.scope)
    publication.write("fetch_log", kept_log)
    collected.rejected.extend(query.rejected_before_extract(data_dir, ctx.run_date, ctx.scope))
    records = {i for i in kept_log.column("raw_record_id").to_pylist() if i}
    collected.early = early_enrichment(settings, pool, len(records))
    pages = read_archives(data_dir, sorted({archive_name(i) for i in records}))
    extracting = start_progress("extract", len(records), "URLs")
    found: list[Discovered] = []
    preparing: deque[tuple[Preparing, int]] = deque()  # on Dask: one batch per worker thread
    in_flight = extractions_in_flight()
    while batch := list(islice(pages, settings.batch_size)):
        for page in batch:
            collected.discovered[page.source_id] += 1
            if page.discovered is not None:
                found.append(page.discovered)
        if cluster.dask_runner() is None:
            collected.add_cleaned(clean_task(extract_task(batch, sources, pool), pool))
        else:  # prepare-batch tasks on the workers, kept in batch order
            while len(preparing) >= in_flight:
                clean_into(*preparing.popleft(), collected, None)
            preparing.append((start_batch(batch, sources, None), len(batch)))
        show_progress(extracting, sum(collected.discovered.values()))
    while preparing:
        clean_into(*preparing.popleft(), collected, None)
    show_progress(extracting, sum(collected.discovered.values()))
    _, collected.refetched = seen_and_changed(data_dir, found, (ctx.run_date, ctx.scope))
    return collected


def dedupe_and_enrich(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    collected: Collected,
    publication: Publication,
    pool: Executor | None,
) -> tuple[SourceCounts, ...]:
    """Decide every article, then store each with its decision and enrich the stories;
    returns the run's counts per source."""
    ctx = plan.context
    deduped = dedupe_task(
        collected.signatures,
        collected.raw_record_ids,
        data_dir,
        (ctx.run_date, ctx.scope),
        collected.refetched,
    )
    collected.rejected.extend(deduped.rejected)
    publication.write("dedup_signatures", signatures_table(deduped.signatures, run_id=ctx.run_id))
    # Enrichment is most of a run's CPU. The stories enriched early (`flows.early`) keep
    # those results; with enough others left, batches go to the worker processes, at most a
    # few in flight, and results are written in batch order.
    decided = {
        d.article_id: d.body_hash
        for d in deduped.decisions
        if d is not None and d.duplicate_of is None
    }
    early, taken = collected.early.take(decided) if collected.early else ([], set())
    stories_in_run = sum(d is not None and d.duplicate_of is None for d in deduped.decisions)
    pooled = pool if stories_in_run - len(taken) >= MIN_POOLED_STORIES else None
    # On Dask every batch goes to the workers (this process loads no model), as a task.
    runner = cluster.dask_runner()
    on_cluster = runner is not None
    size = ENRICH_BATCH if pooled else settings.batch_size
    most_in_flight = MAX_ENRICH_IN_FLIGHT
    if runner is not None:  # a task per batch: small batches, enough to keep workers busy
        size = min(ENRICH_BATCH, settings.batch_size)
        most_in_flight = max(MAX_ENRICH_IN_FLIGHT, 2 * cluster.worker_slots(runner))
    enriching = start_progress("enrich", stories_in_run if settings.enrich else 0, "articles")
    enriched = 0
    in_flight: deque[tuple[PrefectFuture[Enrichment], int]] = deque()
    outcomes: list[tuple[str, bool]] = []  # (source_id, is a duplicate) of each stored article
    source_of: dict[str, str] = {}  # article_id -> source_id of the stories, for mentions
    tallies: list[EntitySeen] = []  # what each batch saw of each entity, per source

    def write(enrichment: Enrichment, stories: int) -> None:
        nonlocal enriched
        mentions = to_table("mentions", enrichment.mentions, run_id=ctx.run_id, source_of=source_of)
        publication.write("mentions", mentions)
        quotes = to_table("quotes", enrichment.quotes, run_id=ctx.run_id, source_of=source_of)
        publication.write("quotes", quotes)
        tallies.extend(tally_entities(enrichment.mentions, source_of))
        enriched += stories
        show_progress(enriching, enriched)

    decisions = iter(deduped.decisions)
    for batch in collected.articles.batches():
        kept = [(a, d) for a, d in zip(batch, decisions, strict=False) if d is not None]
        publication.write(
            "articles", article_rows([a for a, _ in kept], [d for _, d in kept], ctx.run_id)
        )
        publication.write("keywords", keyword_rows(kept, ctx.run_id))
        outcomes += [(a.source_id, d.duplicate_of is not None) for a, d in kept]
        stories = [(d.article_id, a) for a, d in kept if d.duplicate_of is None]
        source_of.update((article_id, a.source_id) for article_id, a in stories)
        if not settings.enrich:
            continue
        for chunk in chunks([s for s in stories if s[0] not in taken], size):
            if pooled is None and not on_cluster:  # one spaCy pipeline here: one at a time
                write(enrich_task(chunk, settings.spacy_model, None), len(chunk))
                continue
            in_flight.append((start_enrichment(chunk, settings.spacy_model, pooled), len(chunk)))
            while len(in_flight) > most_in_flight:
                write(*_done(in_flight.popleft()))
    while in_flight:
        write(*_done(in_flight.popleft()))
    for enrichment, stories_in_batch in early:
        write(enrichment, stories_in_batch)
    if collected.early is not None and collected.early.wasted:
        get_run_logger().info(
            "Enriched %d articles early that deduplication then found to be copies",
            collected.early.wasted,
        )
    show_progress(enriching, enriched)  # 100 at the end, also when there was nothing to enrich
    entities = combine_tallies(tallies)
    publication.write("entity_runs", to_table("entity_runs", entities, run_id=ctx.run_id))
    return source_counts(plan.sources, outcomes, collected)


def early_enrichment(
    settings: Settings, pool: Executor | None, pages: int
) -> EarlyEnrichment | None:
    """Early enrichment (`flows.early`) for a run of `pages` pages that will enrich in the
    worker processes; a smaller run enriches in this process, after the decision. (On a
    Dask cluster there is no pool: every story is enriched after the decision.)"""
    if pool is None or pages < MIN_POOLED_STORIES or not settings.enrich:
        return None
    return EarlyEnrichment(
        pool=pool,
        model=settings.spacy_model,
        batch=ENRICH_BATCH,
        in_flight=settings.cpu_workers,  # one batch per worker: extraction is not held up
        min_shingles=DedupConfig().min_shingles,
    )


def _done(item: tuple[PrefectFuture[Enrichment], int]) -> tuple[Enrichment, int]:
    future, stories = item
    return future.result(), stories


def run_pool(settings: Settings) -> AbstractContextManager[Executor | None]:
    """The run's worker pool; its workers load the spaCy model only when the run enriches.

    None when the flow runs on a Dask task runner (`flows.cluster`): the cluster's workers
    are the run's processes, and each loads the model once as it joins.
    """
    model = settings.spacy_model if settings.enrich else None
    runner = cluster.dask_runner()
    if runner is not None:
        cluster.warm_workers(runner, model)
        return nullcontext()
    return cpu_pool(settings.cpu_workers, model)


def extractions_in_flight() -> int:
    """How many batches may be extracting at once: one per Dask worker thread on a cluster
    (a batch is one prepare-batch task there), else one (a pool's processes share each
    batch)."""
    runner = cluster.dask_runner()
    return 1 if runner is None else cluster.worker_slots(runner)


@contextmanager
def cpu_pool(workers: int, model: str | None = None) -> Iterator[Executor | None]:
    """Worker processes for the CPU-heavy stages; none when one worker is configured.

    Spawned, not forked: the flow's process runs Prefect's threads and event loop. When the
    run stops early (an error, SIGTERM), queued work is cancelled rather than finished.
    Each worker loads the spaCy `model` as it starts, while the run is still fetching, so
    that the first enrichment batch does not wait for it.
    """
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=warm_up,
        initargs=(model,),
    )
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


def source_counts(
    sources: Sequence[Source], outcomes: Sequence[tuple[str, bool]], collected: Collected
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


def run_row(plan: RunPlan, status: str, per_source: Sequence[SourceCounts]) -> dict[str, Any]:
    ctx = plan.context
    return {
        "run_id": ctx.run_id,
        "flow": plan.flow,
        "scope": ctx.scope,
        "started_at": ctx.started_at,
        "finished_at": now(),
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
