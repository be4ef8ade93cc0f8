"""History benchmark: what a year of stored dates costs a night and a query.

    .venv/bin/python benchmarks/history.py [--dates 366] [--per-day 500] [--outlets 6]
        [--mentions 40] [--runs 5] [--runs-dir DIR] [--keep]

It builds two warehouses synthetically through the project's own publisher
(`warehouse.publish.Publication`, so every file, the verified-files record, the decisions about
latest versions, the copies of closed months, the weekly parts of the open month and the catalog
are what runs leave): one holding 1 date, one holding `--dates` dates, each date with `--per-day`
articles (2% of them new versions of an earlier day's story) and, per article, `--mentions`
entity mentions, 2 quotes, 6 keywords, its dedup signature (a document row and 42 band rows), a
fetch_log row; plus rejected rows, entity tallies, source_runs and the run record. The last
stored date is the same in both warehouses.

Then, in one process, with `prefect_test_harness` started first (not counted):

1. A nothing-new run: the real flow `flows.ingest.nightly_ingest` for the day after the last
   stored date, against one loopback server per outlet whose RSS feed lists only URLs the
   warehouse already holds (the last date's), so nothing is fetched beyond the feeds. One
   uncounted warm-up run on each warehouse first (the process's first flow runs pay for
   Prefect's client and lazy imports, whichever warehouse they run on), then `--runs` runs
   alternately on the 1-date and the N-date warehouse; wall time and the process's CPU time
   (best and median of the runs) and peak RSS (VmHWM reset before each run).
   Target: N dates within 1.2x of 1 date (best against best: the machine may be shared).
   Prefect's flow-run heartbeat is off for these runs
   (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY`, both warehouses alike): its thread sleeps in whole
   seconds and the flow joins it on exit, which rounds every run's wall time up to the next
   second after it started, so a ratio of walls read 1.0x or 1.9x depending on which side of a
   second the work ended (a run of 1.05 s took 2.09 s).
   Building the history also times what each publication spends computing `story_spread`'s
   summary again (`warehouse.spread`), printed for the last dates.
2. Five analyst queries through the catalog (a read-only DuckDB session, as `newsflow sql`
   opens it), each the median of 5 after one warm-up, on both warehouses. Target: within 3x.
   Q1 articles per source per day over the last 7 dates (`articles`)
   Q2 top 20 entities of the last 7 dates (`mentions`)
   Q3 one URL's history, every stored version (`article_versions WHERE url = ...`)
   Q4 how far the stories first published in the last 7 days spread (`story_spread`)
   Q5 titles containing a word over the last 7 dates (`articles`, ILIKE)
3. `newsflow sql "SELECT 1"` as a subprocess on the N-date warehouse, median of 5.
   Target: under 0.3 s.

It prints each figure, the ratio and whether the target holds. Expect a few minutes (most of
it building the history); the machine may be shared, so the load average is printed too.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.dedupe import NUM_PERM, StoredSignature  # noqa: E402
from warehouse.dedup_index import signatures_table  # noqa: E402
from warehouse.lake import catalog_path  # noqa: E402
from warehouse.publish import Publication  # noqa: E402
from warehouse.schema import TABLES  # noqa: E402

UPDATE_SHARE = 0.02
QUOTES, KEYWORDS = 2, 6
WORDS = [
    "harbour", "council", "budget", "election", "storm", "river", "school", "hospital",
    "police", "court", "market", "energy", "bridge", "festival", "strike", "museum",
    "airport", "climate", "housing", "transport",
]
PEOPLE = [f"Person {i}" for i in range(400)]
PLACES = [f"Place {i}" for i in range(200)]


# ---------------------------------------------------------------- the synthetic history


def full(table: str, columns: dict[str, Any], rows: int) -> pa.Table:
    """A table of `table`'s schema: the given columns, nulls in the others."""
    schema = TABLES[table]
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else pa.nulls(rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def url_of(base: str, day: date, i: int) -> str:
    return f"{base}/{day.isoformat()}/story-{i}.html"


def day_tables(
    day: date, first: date, scope: str, outlets: Sequence[tuple[str, str]], per_day: int,
    mentions: int,
) -> dict[str, pa.Table]:
    """Every table's rows for one date (deterministic for the date)."""
    rng = np.random.default_rng(int(day.strftime("%Y%m%d")))
    run_id = f"{scope}@{day.isoformat()}"
    n = per_day
    src = [outlets[i % len(outlets)][0] for i in range(n)]
    urls = [url_of(outlets[i % len(outlets)][1], day, i) for i in range(n)]
    ids = [hashlib.sha256(u.encode()).hexdigest()[:16] for u in urls]
    versions = [1] * n
    updates = int(n * UPDATE_SHARE) if day > first else 0
    for k in range(updates):  # a new version of a story of an earlier day
        back = int(rng.integers(1, max(2, min(30, (day - first).days + 1))))
        earlier = day - timedelta(days=back)
        base = outlets[k % len(outlets)][1]
        urls[k] = url_of(base, earlier, k)
        ids[k] = hashlib.sha256(urls[k].encode()).hexdigest()[:16]
        versions[k] = 2
    start = datetime(day.year, day.month, day.day, 2, 30, tzinfo=UTC)
    fetched = [start + timedelta(seconds=i) for i in range(n)]
    published = [start - timedelta(hours=int(h)) for h in rng.integers(1, 20, n)]
    titles = [
        " ".join(rng.choice(WORDS, 6)).capitalize() + f" {day.isoformat()} #{i}" for i in range(n)
    ]
    bodies = [t + ". " + " ".join(rng.choice(WORDS, 80)) for t in titles]
    clusters = list(ids)
    for i in range(n - n // 10, n):  # 10% syndicated copies of another story of the day
        clusters[i] = ids[i - n // 2]
    dup = [None] * (n - n // 10) + [ids[i - n // 2] for i in range(n - n // 10, n)]
    articles = full(
        "articles",
        {
            "run_id": [run_id] * n, "source_id": src, "article_id": ids, "version": versions,
            "url": urls, "final_url": urls, "canonical_url": urls, "title": titles,
            "published_at": published, "body": bodies, "word_count": [86] * n,
            "paywalled": [False] * n, "page_kind": ["article"] * n, "fetched_at": fetched,
            "body_hash": [hashlib.sha256(b.encode()).hexdigest() for b in bodies],
            "cluster_id": clusters, "duplicate_of": dup,
            "duplicate_kind": [None if d is None else "near" for d in dup],
            "similarity": [1.0 if d is None else 0.9 for d in dup], "language": ["en"] * n,
            "enrichment": ["full" if d is None else "copy" for d in dup],
        },
        n,
    )
    m = n * mentions
    who = rng.integers(0, len(PEOPLE) + len(PLACES), m)
    names = [PEOPLE[w] if w < len(PEOPLE) else PLACES[w - len(PEOPLE)] for w in who]
    labels = ["PERSON" if w < len(PEOPLE) else "GPE" for w in who]
    owner = np.repeat(np.arange(n), mentions)
    mention_table = full(
        "mentions",
        {
            "run_id": [run_id] * m, "source_id": [src[i] for i in owner],
            "article_id": [ids[i] for i in owner], "text": names, "label": labels,
            "start_char": np.arange(m, dtype=np.int32) % 500,
            "end_char": np.arange(m, dtype=np.int32) % 500 + 8,
            "field": ["body"] * m, "item": np.zeros(m, dtype=np.int16),
            "entity_id": [f"{lab[0]}:{name}" for lab, name in zip(labels, names, strict=True)],
            "entity_name": names,
        },
        m,
    )
    q = n * QUOTES
    qo = np.repeat(np.arange(n), QUOTES)
    quotes = full(
        "quotes",
        {
            "run_id": [run_id] * q, "source_id": [src[i] for i in qo],
            "article_id": [ids[i] for i in qo], "text": ["We will see."] * q,
            "speaker": [PEOPLE[i % len(PEOPLE)] for i in qo], "start_char": [10] * q,
            "end_char": [22] * q, "method": ["cue"] * q, "kind": ["direct"] * q,
            "speaker_entity_id": [f"P:{PEOPLE[i % len(PEOPLE)]}" for i in qo],
        },
        q,
    )
    k = n * KEYWORDS
    ko = np.repeat(np.arange(n), KEYWORDS)
    words = list(rng.choice(WORDS, k))
    keywords = full(
        "keywords",
        {
            "run_id": [run_id] * k, "source_id": [src[i] for i in ko],
            "article_id": [ids[i] for i in ko], "keyword": words, "normalised": words,
            "source": ["computed"] * k,
        },
        k,
    )
    tally: dict[tuple[str, str, str], int] = {}
    for i, name, label in zip(owner.tolist(), names, labels, strict=True):
        key = (src[i], name, label)
        tally[key] = tally.get(key, 0) + 1
    entity_runs = full(
        "entity_runs",
        {
            "run_id": [run_id] * len(tally), "source_id": [s for s, _, _ in tally],
            "entity_id": [f"{lab[0]}:{name}" for _, name, lab in tally],
            "entity_name": [name for _, name, _ in tally], "label": [lab for _, _, lab in tally],
            "aliases": [[] for _ in tally], "articles": list(tally.values()),
            "mentions": list(tally.values()),
        },
        len(tally),
    )
    minhash = rng.integers(0, 1 << 32, (n, NUM_PERM), dtype=np.uint32).astype("<u4")
    signatures = signatures_table(
        [
            StoredSignature(
                article_id=ids[i], version=versions[i], cluster_id=clusters[i],
                source_id=src[i], body_hash=articles["body_hash"][i].as_py(), shingles=80,
                minhash=minhash[i].tobytes(), published_at=published[i],
                duplicate_of=dup[i], duplicate_kind=None if dup[i] is None else "near",
            )
            for i in range(n)
        ],
        run_id=run_id,
    )
    fetch_log = full(
        "fetch_log",
        {
            "run_id": [run_id] * n, "source_id": src, "url": urls, "final_url": urls,
            "status": [200] * n, "reason": ["ok"] * n, "attempts": [1] * n,
            "bytes": [4000] * n, "elapsed_ms": [20] * n, "fetched_at": fetched,
            "content_type": ["text/html"] * n, "purpose": ["article"] * n,
            "etag": [f'"{i}"' for i in ids],
        },
        n,
    )
    r = n // 25
    rejected = full(
        "rejected",
        {
            "run_id": [run_id] * r, "source_id": src[:r],
            "url": [u.replace("story", "gone") for u in urls[:r]], "stage": ["fetch"] * r,
            "reason": ["http_404"] * r,
        },
        r,
    )
    ids_of = [o for o, _ in outlets]
    source_runs = full(
        "source_runs",
        {
            "run_id": [run_id] * len(ids_of), "source_id": ids_of,
            "finished_at": [start + timedelta(minutes=30)] * len(ids_of),
            "discovered": [n // len(ids_of)] * len(ids_of),
            "fetched": [n // len(ids_of)] * len(ids_of),
            "articles": [n // len(ids_of)] * len(ids_of), "duplicates": [0] * len(ids_of),
            "rejected": [0] * len(ids_of), "extracted": [n // len(ids_of)] * len(ids_of),
            "not_article": [0] * len(ids_of), "short_bodies": [0] * len(ids_of),
            "failed": [False] * len(ids_of), "silent_after_days": [3] * len(ids_of),
            "drift_share": [0.3] * len(ids_of),
        },
        len(ids_of),
    )
    runs = full(
        "runs",
        {
            "run_id": [run_id], "flow": ["nightly-ingest"], "scope": [scope],
            "started_at": [start], "finished_at": [start + timedelta(minutes=30)],
            "status": ["completed"], "sources": [ids_of], "articles": [n],
        },
        1,
    )
    return {
        "articles": articles, "mentions": mention_table, "quotes": quotes,
        "keywords": keywords, "entity_runs": entity_runs, "dedup_signatures": signatures,
        "fetch_log": fetch_log, "rejected": rejected, "source_runs": source_runs, "runs": runs,
    }


def build_history(
    data_dir: Path, days: Sequence[date], scope: str, outlets: Sequence[tuple[str, str]],
    per_day: int, mentions: int,
) -> list[float]:
    """Publish `days`; returns the seconds each publication spent keeping story_spread's
    summary (`warehouse.spread`: from its `spread` step to the next, `summaries`)."""
    spent = []
    for day in days:
        marks: dict[str, float] = {}

        def mark(step: str, marks: dict[str, float] = marks) -> None:
            marks[step] = time.perf_counter()

        with Publication(data_dir, day, scope, on_step=mark) as publication:
            for table, rows in day_tables(day, days[0], scope, outlets, per_day, mentions).items():
                publication.write(table, rows)
        spent.append(marks["summaries"] - marks["spread"])
    return spent


# ---------------------------------------------------------------- the loopback outlets


class _Feed(BaseHTTPRequestHandler):
    def __init__(self, *args: Any, feed: bytes, **kw: Any) -> None:
        self.feed = feed
        super().__init__(*args, **kw)

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/feed.xml":
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(self.feed)))
            self.end_headers()
            self.wfile.write(self.feed)
        else:  # robots.txt and anything else: nothing here
            self.send_error(404, "Not Found")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(outlets: int) -> Iterator[tuple[list[tuple[str, str]], list[ThreadingHTTPServer]]]:
    """One loopback server per outlet; the feeds are set once the URLs are known."""
    servers: list[ThreadingHTTPServer] = []
    try:
        for _ in range(outlets):
            server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Feed, feed=b""))
            server.daemon_threads = True
            servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        named = [(f"outlet-{i}", f"http://127.0.0.1:{s.server_address[1]}") for i, s in
                 enumerate(servers)]
        yield named, servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def set_feeds(
    servers: Sequence[ThreadingHTTPServer], outlets: Sequence[tuple[str, str]], day: date,
    per_day: int,
) -> None:
    """Each outlet's feed lists its stories of `day` (all already stored)."""
    for index, (server, (_, base)) in enumerate(zip(servers, outlets, strict=True)):
        items = "".join(
            f"<item><title>Story {i}</title><link>{url_of(base, day, i)}</link>"
            f"<pubDate>{day:%a, %d %b %Y} 01:00:00 +0000</pubDate></item>"
            for i in range(index, per_day, len(outlets))
            if i >= int(per_day * UPDATE_SHARE)  # the updated URLs point at other days
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>o</title>{items}' \
            "</channel></rss>"
        server.RequestHandlerClass = partial(_Feed, feed=feed.encode())  # type: ignore[assignment]


def write_sources(path: Path, outlets: Sequence[tuple[str, str]]) -> None:
    path.write_text(
        "".join(
            f'[[source]]\nid = "{name}"\nname = "{name}"\nkind = "feed"\n'
            f'location = "{base}/feed.xml"\nenabled = true\nlanguage = "en"\n\n'
            for name, base in outlets
        ),
        encoding="utf-8",
    )


# ---------------------------------------------------------------- measuring


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # not Linux: the peak is since the process started
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Run(NamedTuple):
    wall: float  # s
    cpu: float  # s, of this process (the test harness's server runs in another)
    peak_rss: float  # MiB
    new: int  # articles stored


def forget_what_a_process_learnt() -> None:
    """Empty the warehouse's per-process caches (folder listings and the record of them as
    read, the verified record, summary headers, copy digests), so that the next run starts as
    a new process does: a nightly run or a served run is a process of its own."""
    from warehouse import compact, lake, summaries, verified

    compact._digests.clear()
    lake._scanned.clear()
    lake._loaded.clear()
    summaries._read.clear()
    verified._read = None


def nothing_new_run(data_dir: Path, sources: Path, run_date: date, *, fresh: bool) -> Run:
    """One nightly run, without Prefect's heartbeat thread (see the docstring); `fresh`: with
    the warehouse's per-process caches emptied first."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.ingest import nightly_ingest

    if fresh:
        forget_what_a_process_learnt()
    os.environ["NEWSFLOW_DATA_DIR"] = str(data_dir)
    reset_peak_rss()
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        cpu = time.process_time()
        started = time.perf_counter()
        state = nightly_ingest(run_date=run_date, sources_file=str(sources), return_state=True)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    summary = state.result()
    return Run(wall, cpu, peak_rss_mb(), sum(c.new for c in summary.per_source))


def queries(last: date, url: str) -> dict[str, str]:
    """The five analyst queries (dates and the URL are ours, not input)."""
    week = (last - timedelta(days=6)).isoformat()
    return {
        "Q1 articles/source/day, 7 dates": (
            f"SELECT run_date, source_id, count(*) AS n FROM articles "  # noqa: S608 (our dates)
            f"WHERE run_date >= DATE '{week}' GROUP BY ALL ORDER BY ALL"
        ),
        "Q2 top entities, 7 dates": (
            f"SELECT entity_name, count(*) AS n FROM mentions WHERE run_date >= DATE '{week}' "  # noqa: S608 (our dates)
            "AND entity_id IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT 20"
        ),
        "Q3 one URL's versions": (
            "SELECT run_date, version, is_latest, title FROM article_versions "  # noqa: S608 (our dates)
            f"WHERE url = '{url}' ORDER BY run_date"
        ),
        "Q4 story_spread, 7 days": (
            "SELECT * FROM story_spread WHERE first_published_at >= "  # noqa: S608 (our dates)
            f"TIMESTAMPTZ '{week} 00:00:00+00' ORDER BY outlets DESC, cluster_id LIMIT 20"
        ),
        "Q5 title ILIKE, 7 dates": (
            f"SELECT run_date, source_id, title FROM articles WHERE run_date >= DATE '{week}' "  # noqa: S608 (our dates)
            "AND title ILIKE '%harbour storm%' ORDER BY ALL"
        ),
    }


def updated_url(data_dir: Path, last: date) -> str:
    """A URL stored on `last` as a new version of an earlier day's story."""
    import duckdb

    with duckdb.connect(str(catalog_path(data_dir)), read_only=True) as con:
        row = con.execute(
            "SELECT url FROM stg_articles WHERE run_date = ? AND version = 2 ORDER BY url",
            [last],
        ).fetchone()
    assert row is not None, "no updated story on the last date"
    return str(row[0])


def time_queries(data_dir: Path, asked: dict[str, str]) -> dict[str, tuple[float, int]]:
    """name -> (median seconds of 5 after a warm-up, rows) through a read-only session."""
    import duckdb

    out = {}
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        for name, sql in asked.items():
            rows = len(con.sql(sql).fetchall())
            times = []
            for _ in range(5):
                started = time.perf_counter()
                con.sql(sql).fetchall()
                times.append(time.perf_counter() - started)
            out[name] = (statistics.median(times), rows)
    finally:
        con.close()
    return out


def time_select_one(data_dir: Path) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "newsflow"), "--data-dir", str(data_dir), "sql",
             "SELECT 1"],
            check=True, capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dates", type=int, default=366)
    parser.add_argument("--per-day", type=int, default=500)
    parser.add_argument("--outlets", type=int, default=6)
    parser.add_argument("--mentions", type=int, default=40, help="mentions per article")
    parser.add_argument(
        "--runs", type=int, default=5, help="counted nothing-new runs on each warehouse"
    )
    parser.add_argument("--runs-dir", type=Path, default=None, help="parent of the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    if args.dates < 2 or args.per_day < 50:
        parser.error("--dates must be at least 2 and --per-day at least 50")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="history-", dir=args.runs_dir))
    tempfile.tempdir = str(work / "tmp")
    Path(tempfile.tempdir).mkdir()
    if args.keep:
        print(f"keeping {work}")
    else:
        atexit.register(shutil.rmtree, work, ignore_errors=True)

    last = date.today() - timedelta(days=2)
    run_date = last + timedelta(days=1)
    days = [last - timedelta(days=n) for n in range(args.dates - 1, -1, -1)]
    small, large = work / "one-date", work / f"{args.dates}-dates"
    with ExitStack() as stack:
        outlets, servers = stack.enter_context(serve(args.outlets))
        sources = work / "sources.toml"
        write_sources(sources, outlets)
        scope = "ingest-" + hashlib.sha256(
            ",".join(sorted(o for o, _ in outlets)).encode()
        ).hexdigest()[:10]  # as flows.runs.run_scope names a run of these sources
        started = time.perf_counter()
        build_history(small, days[-1:], scope, outlets, args.per_day, args.mentions)
        spread = build_history(large, days, scope, outlets, args.per_day, args.mentions)
        files = sum(1 for _ in (large / "lake").rglob("*.parquet"))
        size = sum(p.stat().st_size for p in (large / "lake").rglob("*.parquet"))
        copies = list((large / "compacted").rglob("*.parquet"))
        print(
            f"history: {args.dates} dates x {args.per_day} articles "
            f"({args.per_day * args.dates:,} articles, "
            f"{args.per_day * args.dates * args.mentions:,} mentions), {files} Parquet files, "
            f"{size / 1e6:.0f} MB, built in {time.perf_counter() - started:.0f} s; "
            f"{os.cpu_count()} CPUs\n"
            f"   copies the publications made (closed months, parts of the open month): "
            f"{len(copies)} files, {sum(p.stat().st_size for p in copies) / 1e6:.0f} MB\n"
            f"   story_spread summary computed again by each publication: "
            f"{spread[-1] * 1000:.0f} ms at {args.dates} dates (median of the last 10: "
            f"{statistics.median(spread[-10:]) * 1000:.0f} ms; at 1 date {spread[0] * 1000:.0f} ms)"
        )
        set_feeds(servers, outlets, last, args.per_day)
        os.environ.update(
            {
                "NEWSFLOW_ALLOW_PRIVATE_HOSTS": json.dumps(
                    sorted(urlsplit(b).netloc for _, b in outlets)
                ),
                "NEWSFLOW_PER_HOST_DELAY_S": "0",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "PREFECT_HOME": str(work / "prefect-home"),
                "PREFECT_LOGGING_LEVEL": "WARNING",
            }
        )
        from prefect.testing.utilities import prefect_test_harness

        started = time.perf_counter()
        stack.enter_context(prefect_test_harness(server_startup_timeout=120))
        print(f"Prefect temporary server up in {time.perf_counter() - started:.1f} s (not counted)")

        results: dict[Path, list[Run]] = {small: [], large: []}
        warm: dict[Path, list[Run]] = {small: [], large: []}
        for data_dir in (small, large):  # warm-up, not counted
            nothing_new_run(data_dir, sources, run_date, fresh=True)
        for _ in range(args.runs):
            for data_dir in (small, large):
                results[data_dir].append(nothing_new_run(data_dir, sources, run_date, fresh=True))
                warm[data_dir].append(nothing_new_run(data_dir, sources, run_date, fresh=False))
        print(f"\n1. nothing-new run for {run_date} (load {os.getloadavg()[0]:.1f}), each "
              "as a new process starts (the warehouse's per-process caches emptied)")
        best = {d: min(r.wall for r in rs) for d, rs in results.items()}
        cpu = {d: min(r.cpu for r in rs) for d, rs in results.items()}
        peak = {d: max(r.peak_rss for r in rs) for d, rs in results.items()}
        new = {d: max(r.new for r in rs) for d, rs in results.items()}
        for label, data_dir in (("1 date", small), (f"{args.dates} dates", large)):
            walls = ", ".join(f"{r.wall:.2f}" for r in results[data_dir])
            print(
                f"   {label:>10}: best {best[data_dir]:.2f} s (runs {walls}), "
                f"CPU {cpu[data_dir]:.2f} s, peak RSS {peak[data_dir]:.0f} MiB, "
                f"new articles {new[data_dir]}"
            )
        middle = {d: statistics.median(r.wall for r in rs) for d, rs in results.items()}
        print(f"   median {middle[small]:.2f} s vs {middle[large]:.2f} s "
              f"({middle[large] / middle[small]:.2f}x)")
        warm_best = {d: min(r.wall for r in rs) for d, rs in warm.items()}
        print(f"   right after another run in the same process: best {warm_best[small]:.2f} s "
              f"vs {warm_best[large]:.2f} s ({warm_best[large] / warm_best[small]:.2f}x)")
        ratio = best[large] / best[small]
        rss = peak[large] / peak[small]
        print(f"   ratio {ratio:.2f}x (target <= 1.2x: {verdict(ratio <= 1.2)}); "
              f"CPU ratio {cpu[large] / cpu[small]:.2f}x; "
              f"peak RSS ratio {rss:.2f}x (flat: {verdict(rss <= 1.2)})")

        asked = queries(last, updated_url(large, last))
        one = time_queries(small, asked)
        many = time_queries(large, asked)
        print(f"\n2. analyst queries through the catalog (median of 5; load "
              f"{os.getloadavg()[0]:.1f})")
        for name in asked:
            (t1, r1), (tn, rn) = one[name], many[name]
            print(
                f"   {name:<34} 1 date {t1 * 1000:7.1f} ms ({r1} rows)  "
                f"{args.dates} dates {tn * 1000:7.1f} ms ({rn} rows)  "
                f"{tn / t1:5.1f}x {verdict(tn / t1 <= 3)}"
            )
        for name, sql in asked.items():
            print(f"   {name}: {sql}")

        select_one = time_select_one(large)
        print(f"\n3. newsflow sql \"SELECT 1\" on {args.dates} dates: {select_one:.3f} s "
              f"(target < 0.3 s: {verdict(select_one < 0.3)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
