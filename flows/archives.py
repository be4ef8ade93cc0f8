"""The `warc` sources of a run: one part per WARC file, each published on its own.

A run for date D reads the files of its `warc` sources whose day (`tasks.archive.file_day`, or
the first record's date) is D, in name order. Each file's records go through the same extract,
clean, dedupe, enrich and publish path as fetched pages (`flows.pipeline`), as a part of the
run with its own scope, `warc.<file name>.<digest>`, within D. Nothing is copied into the raw
archive: a page's `raw_record_id` is the file and offset it was read from.

The part's `runs` row, which a publication renames last (`warehouse.publish`), carries the
digest of the settings the file was read with, so it is the checkpoint: a run of D skips a
file whose part is published with the same reading settings, and a backfill killed at any
point (even inside a publication) resumes without reading again the files it finished, and
reads again the one it was in. Each part also publishes an `archive_files` row: what the file
held, what was lost in damaged stretches, and why a file gave nothing. A reprocess reads every file
again. A part's deduplication sees its date's earlier parts, never later ones
(`warehouse.lake.published_in`), so a date gives the same rows whatever order its parts were
run or rerun in.

Remote files (http(s) WARCs, and the WARCs of a remote paths listing) are downloaded into
`<data_dir>/downloads/` one at a time, and removed once read, before their part is
deduplicated and published.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from flows import health
from flows.pipeline import (
    COMPLETED,
    COMPLETED_WITH_FAILURES,
    MIN_POOLED_STORIES,
    Collected,
    Keep,
    Preparing,
    RunPlan,
    RunSummary,
    SourceCounts,
    SourceFailure,
    clean_into,
    dedupe_and_enrich,
    early_enrichment,
    published_summary,
    report_run,
    run_pipeline,
    run_pool,
    run_row,
    run_status,
    start_batch,
)
from flows.report import show_progress, start_progress
from flows.settings import Settings
from flows.stages import now, publish_task
from tasks import archive
from tasks.reasons import STAGE_ARCHIVE, STAGE_EXTRACT
from tasks.records import Article, FetchedPage, Rejected, RunContext, Source
from warehouse import query
from warehouse.catalog import ensure_catalog
from warehouse.convert import to_table
from warehouse.lake import ARCHIVE_PART, download_dir, warehouse_run
from warehouse.publish import Publication

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NOT_READ = "{}: not read, an earlier file of the date failed (a rerun resumes from there)"


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    source: Source
    location: str  # file:// or http(s) URL
    day: date | None

    @property
    def scope(self) -> str:
        """The part's scope: sorts by file name, unique per source and location."""
        name = archive.file_name(self.location)
        for suffix in archive.WARC_SUFFIXES[::-1]:
            name = name.removesuffix(suffix)
        digest = hashlib.sha256(f"{self.source.id}\n{self.location}".encode()).hexdigest()
        return f"{ARCHIVE_PART}{_UNSAFE.sub('_', name)[:80]}.{digest[:10]}"


@dataclass(frozen=True, slots=True)
class ArchiveRun:
    """What the archive parts of a run did, for the run's summary."""

    summaries: tuple[RunSummary, ...]
    failures: tuple[SourceFailure, ...]
    skipped: int  # files whose part was already published (the checkpoint)


def run_archives(settings: Settings, plan: RunPlan, pool: Executor | None) -> ArchiveRun:
    """Read, process and publish every file of the plan's `warc` sources for its date."""
    logger = get_run_logger()
    day = plan.context.run_date
    data_dir = settings.data_dir.resolve()
    downloader = archive.Downloader(
        user_agent=settings.full_user_agent,
        max_bytes=settings.max_archive_bytes,
        timeout_s=settings.request_deadline_s,
        allow_private=frozenset(settings.allow_private_hosts),
    )
    files: list[ArchiveFile] = []
    failures: list[SourceFailure] = []
    for source in plan.sources:
        try:
            files += _files_of(source, day, downloader)
        except (OSError, ValueError) as error:
            failures.append(SourceFailure(source.id, f"archive listing failed: {error}"))
            logger.error("Skipped %s: %s", source.id, error)
    files.sort(key=lambda f: f.scope)
    summaries: list[RunSummary] = []
    skipped = 0
    budget = {s.id: _cap(s, plan) for s in plan.sources}  # pages a source may still read
    due: list[tuple[ArchiveFile, str]] = []  # each file to read, with its settings digest
    for item in files:
        digest = settings_digest(item.source, settings, _cap(item.source, plan))
        if not plan.reprocess and _checkpoint(data_dir, day, item.scope) == digest:
            skipped += 1
            logger.info("Skipped %s: its part %s is already published", item.location, item.scope)
        else:
            due.append((item, digest))
    reading: Reading | None = None  # the file's first batch, started during the part before
    for index, (item, digest) in enumerate(due):
        # The next file is started once this one is read, unless a page cap is left to
        # spend: what it may read depends on what this part reads.
        following = due[index + 1][0] if index + 1 < len(due) else None
        if following is not None and budget[following.source.id] is not None:
            following = None
        try:
            summary, problems, reading = _run_part(
                settings,
                data_dir,
                plan,
                item,
                digest,
                downloader,
                pool,
                budget[item.source.id],
                (reading, following),
            )
        except Unreadable as error:
            failures.append(SourceFailure(item.source.id, f"{item.location}: {error}"))
            logger.error("Could not read %s: %s", item.location, error)
            # The date's later parts would decide without this one: they wait for the rerun.
            later = [f for f, _ in due[index + 1 :]]
            failures += [SourceFailure(f.source.id, _NOT_READ.format(f.location)) for f in later]
            break
        summaries.append(summary)
        failures += problems
        if (left := budget[item.source.id]) is not None:
            budget[item.source.id] = max(0, left - sum(c.fetched for c in summary.per_source))
    return ArchiveRun(tuple(summaries), tuple(failures), skipped)


def _checkpoint(data_dir: Path, day: date, scope: str) -> str | None:
    """The settings digest of the part's published `runs` row, if it has one."""
    for text in query.run_table(data_dir, "runs", day, scope).column("parameters").to_pylist():
        digest = json.loads(text or "{}").get("settings_digest")
        if isinstance(digest, str):
            return digest
    return None


def _cap(source: Source, plan: RunPlan) -> int | None:
    """The most pages the run reads from the source's files: the run's and the source's cap."""
    caps = [c for c in (plan.max_articles, source.max_articles) if c is not None]
    return min(caps) if caps else None


def settings_digest(source: Source, settings: Settings, cap: int | None = None) -> str:
    """What a part's rows depend on besides the file: the source's filters, the size cap and
    the page cap."""
    reading = {
        "location": source.location,
        "publishers": source.publishers,
        "url_patterns": source.url_patterns,
        "languages": source.languages,
        "since": source.warc_since.isoformat() if source.warc_since else None,
        "until": source.warc_until.isoformat() if source.warc_until else None,
        "max_bytes": settings.max_bytes,
        "max_articles": cap,
    }
    return hashlib.sha256(json.dumps(reading, sort_keys=True).encode()).hexdigest()[:16]


def _files_of(source: Source, day: date, downloader: archive.Downloader) -> list[ArchiveFile]:
    """The files of `source` whose day is `day`."""
    found = archive.files_of_day(source.location or "", source.base_url, day, downloader)
    return [ArchiveFile(source, location, day) for location in found]


def _run_part(
    settings: Settings,
    data_dir: Path,
    plan: RunPlan,
    item: ArchiveFile,
    digest: str,
    downloader: archive.Downloader,
    pool: Executor | None,
    budget: int | None,
    ahead: tuple[Reading | None, ArchiveFile | None],
) -> tuple[RunSummary, list[SourceFailure], Reading | None]:
    """Read, process and publish one file as its own part; its summary, what failed, and the
    reading of the next file.

    `ahead`: this file's reading if the part before started it (`start_reading`), and the
    next file, which is started once this one is read: its first batch extracts in the
    worker processes while this part deduplicates and publishes, work that leaves them idle.
    """
    source = item.source
    reading, following = ahead
    started: Reading | None = None
    ctx = RunContext(
        run_id=f"{item.scope}@{plan.context.run_date.isoformat()}",
        run_date=plan.context.run_date,
        started_at=now(),
        scope=item.scope,
    )
    part = replace(plan, context=ctx, sources=(source,))
    publication = Publication(data_dir, ctx.run_date, ctx.scope)
    try:
        if reading is not None and reading.item is item:
            collected, pages = _read_and_extract(settings, reading, publication, pool, budget)
        else:
            with _local_copy(item.location, data_dir, downloader) as path:
                reading = open_reading(settings, path, item)
                collected, pages = _read_and_extract(settings, reading, publication, pool, budget)
        tally = reading.tally
        if following is not None and (started := start_reading(settings, following, pool)):
            get_run_logger().info(
                "Started reading %s while %s is deduplicated and published",
                following.location,
                item.location,
            )
        if tally.problem:  # the part's own rows say the file failed, not only the run's summary
            collected.failures.append(SourceFailure(source.id, f"{item.location}: {tally.problem}"))
        per_source = dedupe_and_enrich(settings, data_dir, part, collected, publication, pool)
        per_source = tuple(replace(c, fetched=pages) for c in per_source)
        status = run_status(part.sources, collected.failures)
        row = {
            "run_id": ctx.run_id,
            "source_id": source.id,
            "location": item.location,
            "file_day": item.day,
            "settings_digest": digest,
            "records": tally.records,
            "pages": pages,
            "rejected": tally.records - pages - sum(tally.described.values()),
            "described": json.dumps(dict(sorted(tally.described.items()))),
            "corrupt": tally.corrupt,
            "skipped_bytes": tally.skipped_bytes,
            "problem": tally.problem,
            "finished_at": now(),
        }
        last = {
            "fetch_log": to_table("fetch_log", [], run_id=ctx.run_id),
            "rejected": to_table("rejected", collected.rejected, run_id=ctx.run_id),
            "archive_files": to_table("archive_files", [row]),
            "source_runs": health.source_runs_table(
                part,
                per_source,
                collected.failures,
                collected.signatures,
                collected.rejected,
                now(),
            ),
            "runs": to_table("runs", [_checkpointed(run_row(part, status, per_source), digest)]),
        }
        catalog = publish_task(publication, last)
    except BaseException:
        publication.abort()
        if started is not None:
            started.outcomes.close()
        raise
    if tally.problem:
        get_run_logger().warning("%s: %s", item.location, tally.problem)
    summary = published_summary(publication, ctx, status, catalog, per_source, collected.failures)
    return summary, collected.failures, started


def _checkpointed(row: dict[str, Any], digest: str) -> dict[str, Any]:
    parameters = json.loads(row["parameters"])
    parameters["settings_digest"] = digest
    return {**row, "parameters": json.dumps(parameters, sort_keys=True)}


@dataclass(frozen=True, slots=True)
class Reading:
    """A file being read: its outcomes, as `tasks.archive.read_archive` gives them, its tally,
    and its first batch with that batch's extraction, when it was started ahead of its part
    (`start_reading`)."""

    item: ArchiveFile
    outcomes: Generator[FetchedPage | Rejected, None, None]
    tally: archive.FileTally
    first: tuple[list[FetchedPage | Rejected], Preparing] | None = None


def open_reading(settings: Settings, path: Path, item: ArchiveFile) -> Reading:
    """The records of the file at `path` (the local copy of `item`'s), read as they are asked
    for, with the source's filters."""
    source = item.source
    rules = archive.ArchiveRules(
        max_bytes=settings.max_bytes,
        publishers=source.publishers,
        url_patterns=source.url_patterns,
        since=source.warc_since,
        until=source.warc_until,
    )
    tally = archive.FileTally()
    return Reading(item, archive.read_archive(path, item.location, source.id, rules, tally), tally)


def start_reading(settings: Settings, item: ArchiveFile, pool: Executor | None) -> Reading | None:
    """`item`'s file opened and its first batch read and submitted to extraction, ahead of its
    part. None for a remote file (downloaded in its own turn, one at a time), and for a local
    one that cannot be opened or read now: its part then reads it, or fails as it would have
    without reading ahead, once the part before it is published."""
    if archive.is_remote(item.location):
        return None
    path = archive.local_path(item.location)
    if not path.is_file():
        return None
    reading = open_reading(settings, path, item)
    try:
        batch = list(islice(reading.outcomes, settings.batch_size))
    except Exception:  # whatever it is, it must not fail the part before
        reading.outcomes.close()
        return None  # read again in its own turn, which fails as it would have
    if not batch:  # nothing to start: its part finds the file empty, or why it gave nothing
        return reading
    read = [o for o in batch if isinstance(o, FetchedPage)]
    extracting = start_batch(read, {item.source.id: item.source}, pool, _languages(item.source))
    return replace(reading, first=(batch, extracting))


def _read_and_extract(
    settings: Settings,
    reading: Reading,
    publication: Publication,
    pool: Executor | None,
    budget: int | None,
) -> tuple[Collected, int]:
    """Every record of the file through extract and clean; returns what was collected and the
    number of pages that reached extraction. Pages past `budget` are `over_cap` rejections (a
    file started ahead has no budget: `run_archives`)."""
    source = reading.item.source
    collected = Collected(articles=publication.spill("articles"))
    collected.early = early_enrichment(settings, pool, MIN_POOLED_STORIES)
    sources = {source.id: source}
    keep = _languages(source)
    extracting = start_progress("extract", 0, "records")
    pages = 0
    previous: tuple[Preparing, int] | None = None
    first = reading.first
    while batch := first[0] if first else list(islice(reading.outcomes, settings.batch_size)):
        if budget is not None:
            batch = _capped(batch, budget - pages)
        read = [o for o in batch if isinstance(o, FetchedPage)]
        collected.rejected.extend(o for o in batch if isinstance(o, Rejected))
        collected.discovered[source.id] += len(batch)
        pages += len(read)
        if previous is not None:
            clean_into(*previous, collected, pool, keep=keep)
        if first:
            previous, first = (first[1], len(read)), None
        else:
            previous = (start_batch(read, sources, pool, keep), len(read))
        show_progress(extracting, pages)
    if previous is not None:
        clean_into(*previous, collected, pool, keep=keep)
    return collected, pages


def _capped(batch: list[FetchedPage | Rejected], left: int) -> list[FetchedPage | Rejected]:
    """The batch with its pages after the first `left` made `over_cap` rejections."""
    capped: list[FetchedPage | Rejected] = []
    for item in batch:
        if isinstance(item, FetchedPage):
            if left <= 0:
                detail = "beyond the run's or the source's max_articles"
                item = Rejected(
                    item.source_id, item.url, STAGE_ARCHIVE, "over_cap", detail, item.raw_record_id
                )
            left -= 1
        capped.append(item)
    return capped


def _languages(source: Source) -> Keep | None:
    if not source.languages:
        return None
    allowed = frozenset(source.languages)

    def keep(item: Article | Rejected) -> Article | Rejected:
        if isinstance(item, Rejected) or item.language in allowed:
            return item
        return Rejected(
            item.source_id,
            item.url,
            STAGE_EXTRACT,
            "filtered_out",
            f"language: {item.language or 'unknown'} is not one of {sorted(allowed)}",
            item.raw_record_id,
        )

    return keep


class Unreadable(Exception):
    """A file of an archive source could not be opened or downloaded."""


@contextmanager
def _local_copy(location: str, data_dir: Path, downloader: archive.Downloader) -> Iterator[Path]:
    """The file to read: a local file itself, a remote one downloaded (and removed after)."""
    if not archive.is_remote(location):
        path = archive.local_path(location)
        if not path.is_file():
            raise Unreadable(f"no such file {path}")
        yield path
        return
    folder = download_dir(data_dir)
    name = hashlib.sha256(location.encode()).hexdigest()[:16] + ".warc"
    try:
        target = downloader.save(location, folder / name)
    except (OSError, ValueError) as error:  # refused by the guard, an HTTP error, too large
        raise Unreadable(f"download failed: {error}") from error
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


def merge(
    plan: RunPlan,
    live: RunSummary | None,
    archives: ArchiveRun,
    data_dir: Path,
    catalog: str,
) -> RunSummary:
    """One summary for a run: its live part (if any) and its archive parts."""
    parts = archives.summaries
    everything = ([live] if live else []) + list(parts)
    rows: Counter[str] = Counter()
    for summary in everything:
        rows.update(summary.rows_written)
    counts: dict[str, SourceCounts] = {}
    for summary in everything:
        for c in summary.per_source:
            was = counts.get(c.source_id)
            counts[c.source_id] = c if was is None else _add(was, c)
    failures = [*archives.failures]
    if live is not None:  # "<source id>: <problem>", as the live part wrote them
        failures += [SourceFailure(*f.split(": ", 1)) for f in live.failures]
    return RunSummary(
        run_id=plan.context.run_id,
        run_date=plan.context.run_date.isoformat(),
        status=_status(plan, failures, everything),
        data_dir=str(data_dir),
        catalog=catalog,
        rows_written=dict(rows),
        per_source=tuple(counts[s.id] for s in plan.sources if s.id in counts),
        failures=tuple(str(f) for f in failures),
        found=live.found if live else (),
    )


def _status(
    plan: RunPlan, failures: Sequence[SourceFailure], published: Sequence[RunSummary]
) -> str:
    """A source failed when it has a failure and published nothing; one whose files were
    partly read has failures but worked."""
    worked = {c.source_id for summary in published for c in summary.per_source}
    if not failures:
        return COMPLETED
    if any(s.id in worked for s in plan.sources):
        return COMPLETED_WITH_FAILURES
    return run_status(plan.sources, failures)


def _add(a: SourceCounts, b: SourceCounts) -> SourceCounts:
    rejected = Counter(a.rejected)
    rejected.update(b.rejected)
    return SourceCounts(
        source_id=a.source_id,
        discovered=a.discovered + b.discovered,
        fetched=a.fetched + b.fetched,
        new=a.new + b.new,
        duplicate=a.duplicate + b.duplicate,
        rejected=dict(sorted(rejected.items())),
    )


def run_with_archives(settings: Settings, plan: RunPlan) -> RunSummary:
    """Run `plan`: its live sources as one publication (`flows.pipeline.run_pipeline`),
    then its `warc` sources file by file; returns one summary of both."""
    kept = tuple(s for s in plan.sources if s.kind == "warc")
    if not kept:
        return run_pipeline(settings, plan)
    others = tuple(s for s in plan.sources if s.kind != "warc")
    live = run_pipeline(settings, replace(plan, sources=others)) if others else None
    data_dir = settings.data_dir.resolve()
    archives = replace(plan, sources=kept)
    with warehouse_run(
        data_dir,
        plan.context.run_id,
        wait_s=settings.run_lock_wait_s,
        on_wait=get_run_logger().warning,
    ):
        with run_pool(settings) as pool:
            done = run_archives(settings, archives, pool)
        catalog = str(ensure_catalog(data_dir))
    part = merge(archives, None, done, data_dir, catalog)
    get_run_logger().info(
        "Archive sources: %d files read, %d already published", len(done.summaries), done.skipped
    )
    report_run(part, done.failures, archives, health.report_health(part, archives))
    return merge(plan, live, done, data_dir, catalog) if live else part
