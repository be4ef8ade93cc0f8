"""Sample runs for the warehouse tests: every table filled from the records of `tasks/`.

Imported by the tests and by the helper scripts they start in subprocesses (`publisher.py`).
The same (run_date, scope, variant) always gives the same rows.
"""

from __future__ import annotations

import base64
import json
import os
import random
import resource
import signal
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.entities import link_mentions, tally_entities
from tasks.records import (
    Article,
    DedupDecision,
    Discovered,
    FetchedPage,
    FetchLogEntry,
    Mention,
    Quote,
    Rejected,
)
from warehouse.convert import article_rows, keyword_rows, to_table
from warehouse.publish import Publication
from warehouse.raw import RawArchive

SIZES = {"old": 3, "new": 5, "empty": 0}


def body_of(run_date: date, variant: str, index: int) -> str:
    return (
        f"Story {index} of {run_date.isoformat()} ({variant}). Vladimir Putin met Kim Jong-un.\n\n"
        "“We will meet again,” the minister said."
    )


def pages(run_date: date, variant: str) -> list[FetchedPage]:
    start = datetime.combine(run_date, time(6), UTC)
    return [
        FetchedPage(
            source_id="outlet-a",
            url=f"http://a.test/{run_date.isoformat()}/{i}?utm_source=x",
            final_url=f"http://a.test/{run_date.isoformat()}/{i}",
            status=200,
            content_type="text/html; charset=utf-8",
            body=f"<html><p>{body_of(run_date, variant, i)}</p></html>".encode(),
            fetched_at=start + timedelta(seconds=i),
            discovered=Discovered(
                url=f"http://a.test/{run_date.isoformat()}/{i}?utm_source=x",
                source_id="outlet-a",
                found_in="http://a.test/feed.xml",
                title=f"{variant} {i}",
                published_at=start - timedelta(hours=1),
                authors=("Ann Writer",),
            ),
            headers=(("Content-Type", "text/html; charset=utf-8"), ("ETag", f'"{variant}{i}"')),
        )
        for i in range(SIZES[variant])
    ]


def tables(
    run_date: date, scope: str, variant: str, raw_ids: list[str] | None = None
) -> dict[str, pa.Table]:
    """One run's rows for every table; `variant` ("old", "new", "empty") sets what they say."""
    run_id = f"{scope}@{run_date.isoformat()}"
    fetched = pages(run_date, variant)
    raw_ids = raw_ids or [None] * len(fetched)  # type: ignore[list-item]
    articles = []
    decisions = []
    mentions = []
    quotes = []
    for i, page in enumerate(fetched):
        body = body_of(run_date, variant, i)
        article_id = f"{run_date.isoformat()}-{i}"
        articles.append(
            Article(
                source_id=page.source_id,
                url=page.url,
                final_url=page.final_url,
                canonical_url=page.final_url,
                title=f"{variant} story {i}",
                body=body,
                fetched_at=page.fetched_at,
                authors=("Ann Writer",),
                published_at=page.fetched_at - timedelta(hours=1),
                published_source="jsonld",
                highlights=("first", "second"),
                credit_lines=("(Reuters)",),
                provenance=(("title", "meta"), ("body", "generic")),
                raw_record_id=raw_ids[i],
                keyword_entries=(
                    ("Putin", "article_tag", None),
                    (f"{variant} story", "computed", 0.05),
                ),
            )
        )
        first = f"{run_date.isoformat()}-0"
        duplicate = i == 1
        decisions.append(
            DedupDecision(
                article_id=article_id,
                version=1,
                cluster_id=first if duplicate else article_id,
                duplicate_of=first if duplicate else None,
                duplicate_kind="near" if duplicate else None,
                similarity=0.9 if duplicate else 1.0,
                body_hash=f"hash-{variant}-{i}",
            )
        )
        start = body.index("Vladimir Putin")
        mentions.append(Mention(article_id, "Vladimir Putin", "PERSON", start, start + 14))
        quote_start = body.index("“")
        quotes.append(
            Quote(
                article_id,
                "We will meet again",
                "the minister",
                quote_start,
                quote_start + 20,
                cue="said",
            )
        )
    source_of = {d.article_id: "outlet-a" for d in decisions}
    fetch_log = [
        FetchLogEntry(
            source_id="outlet-a",
            url="http://a.test/feed.xml",
            final_url="http://a.test/feed.xml",
            status=200,
            reason="ok",
            attempts=1,
            bytes=1000,
            elapsed_ms=12,
            fetched_at=datetime.combine(run_date, time(5, 59), UTC),
            content_type="application/rss+xml",
            purpose="feed",
            etag=f'"feed-{run_date.isoformat()}-{variant}"',
        ),
        *(
            FetchLogEntry(
                source_id=p.source_id,
                url=p.url,
                final_url=p.final_url,
                status=200,
                reason="ok",
                attempts=1,
                bytes=len(p.body),
                elapsed_ms=5,
                fetched_at=p.fetched_at,
                content_type=p.content_type,
                raw_record_id=raw_ids[i],
            )
            for i, p in enumerate(fetched)
        ),
    ]
    rejected = [
        Rejected("outlet-a", f"http://a.test/missing-{variant}", "fetch", "http_404", "404"),
        Rejected("outlet-a", "http://a.test/about", "extract", "not_article", "about page"),
    ]
    signatures = [
        {
            "run_id": run_id,
            "source_id": "outlet-a",
            "article_id": d.article_id,
            "version": 1,
            "band": band,
            "band_hash": zlib.crc32(f"{d.body_hash}/{band}".encode()),
        }
        for d in decisions
        for band in range(2)
    ]
    run = {
        "run_id": run_id,
        "flow": "nightly-ingest",
        "scope": scope,
        "started_at": datetime.combine(run_date, time(5), UTC),
        "finished_at": datetime.combine(run_date, time(7), UTC),
        "status": "completed",
        "parameters": json.dumps({"variant": variant}),
        "sources": ["outlet-a"],
        "articles": sum(d.duplicate_of is None for d in decisions),
        "duplicates": sum(d.duplicate_of is not None for d in decisions),
    }
    source_run = {
        "run_id": run_id,
        "source_id": "outlet-a",
        "finished_at": datetime.combine(run_date, time(7), UTC),
        "discovered": len(fetched) + 1,
        "fetched": len(fetched),
        "articles": run["articles"],
        "duplicates": run["duplicates"],
        "rejected": len(rejected),
        "extracted": len(articles) + 1,
        "not_article": 1,
        "short_bodies": 0,
        "failed": False,
        "problem": None,
        "silent_after_days": 3,
        "drift_share": 0.3,
    }
    archive_file = {
        "run_id": run_id,
        "source_id": "outlet-a",
        "location": f"file:///archives/{run_date.isoformat()}-{variant}.warc.gz",
        "file_day": run_date,
        "settings_digest": variant,
        "records": len(fetched) + 2,
        "pages": len(fetched),
        "rejected": 1,
        "described": json.dumps({"warcinfo": 1}),
        "corrupt": 0,
        "skipped_bytes": 0,
        "problem": None,
        "finished_at": datetime.combine(run_date, time(7), UTC),
    }
    by_article: dict[str, list[Mention]] = {}
    for mention in mentions:
        by_article.setdefault(mention.article_id, []).append(mention)
    linked = [m for group in by_article.values() for m in link_mentions(group)]
    return {
        "articles": article_rows(articles, decisions, run_id),
        "mentions": to_table("mentions", linked, run_id=run_id, source_of=source_of),
        "entity_runs": to_table(
            "entity_runs", tally_entities(linked, source_of), run_id=run_id
        ),
        "quotes": to_table("quotes", quotes, run_id=run_id, source_of=source_of),
        "keywords": keyword_rows(list(zip(articles, decisions, strict=True)), run_id),
        "dedup_signatures": to_table("dedup_signatures", signatures),
        "fetch_log": to_table("fetch_log", fetch_log, run_id=run_id),
        "rejected": to_table("rejected", rejected, run_id=run_id),
        "runs": to_table("runs", [run]),
        "source_runs": to_table("source_runs", [source_run]),
        "archive_files": to_table("archive_files", [archive_file] if fetched else []),
    }


def publish_sample(
    data_dir: Path,
    run_date: date,
    scope: str,
    variant: str,
    on_step: Callable[[str], None] | None = None,
    batch_rows: int = 2,
) -> Path:
    """Publish one sample run the way the flow does: raw archive, batches, commit."""
    publication = Publication(data_dir, run_date, scope, on_step=on_step)
    try:
        with RawArchive(data_dir, run_date, scope) as archive:
            raw_ids = [archive.append(page) for page in pages(run_date, variant)]
            publication.add_raw(archive)
        for table, rows in tables(run_date, scope, variant, raw_ids).items():
            if rows.num_rows == 0:
                continue
            for batch in rows.to_batches(max_chunksize=batch_rows):
                publication.write(table, pa.Table.from_batches([batch]))
        return publication.commit()
    except BaseException:
        publication.abort()
        raise


HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def script_env() -> dict[str, str]:
    """The environment for a helper script: this repo and this folder importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE)])
    return env


def run_script(name: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / name), *args],
        cwd=cwd or REPO,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def snapshot(data_dir: Path) -> dict[str, object]:
    """Every published file under lake/ and raw/: Parquet as its rows, the rest as bytes."""
    files: dict[str, object] = {}
    for root in ("lake", "raw"):
        for path in sorted((data_dir / root).rglob("*")):
            if path.is_file():
                key = str(path.relative_to(data_dir))
                files[key] = (
                    pq.ParquetFile(path).read().to_pylist()
                    if path.suffix == ".parquet"
                    else path.read_bytes()
                )
    return files


def noise(size: int, seed: int = 0) -> str:
    """`size` characters of text that zstd and gzip cannot shrink much (the same for a seed)."""
    return base64.b64encode(random.Random(seed).randbytes(size)).decode()[:size]


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Within the block, this process's writes past `limit` bytes of a file fail with EFBIG.

    A real kernel limit (RLIMIT_FSIZE), in this process, so a test sees a write fail the way
    a full disk fails it, without mounting one.
    """
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, keep the process
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
