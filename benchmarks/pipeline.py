"""End-to-end pipeline benchmark: throughput, time per stage and peak memory of a real run.

    .venv/bin/python benchmarks/pipeline.py GROUND_TRUTH_JSON [--articles 600] [--hosts 6]
        [--runs-dir DIR] [--date 2023-10-15] [--stages] [--keep]
        [--peers [--rounds N] [--no-naive]]

It builds a synthetic site of N article pages from real article bodies (a ground-truth JSON
mapping ids to {"articleBody", "url"}, e.g. ../shared/bench/article-extraction/ground-truth.json)
spread over H outlets, each with its own HTML template (title, byline, JSON-LD date,
paragraphs, navigation, cookie banner, related links, footer) and an RSS feed. Most pages are
distinct stories: each takes a real body's length and is filled with paragraphs (long ones cut
into runs of sentences) dealt in shuffled rounds from the whole pool, so that no two stories
share enough text to be near duplicates. A share `--copies` of the pages (default 0.1) are
syndicated copies of an earlier story on another outlet (half exact, half trimmed, retitled
and credited to a wire service); the report checks that deduplication flags exactly those.
Every outlet is served by its own ThreadingHTTPServer on 127.0.0.1 inside this process.

Default mode: runs the real flow `flows.ingest.nightly_ingest` twice for the same date (the
second is the idempotent rerun, which replaces the partition and does all the work again)
against a temporary Prefect server. The server is started first by
`prefect_test_harness()`, and its start-up is reported but not counted: the wall time of a
run is measured around the flow call alone ("flow s" is the flow run's own run time as the
server recorded it). The time per stage comes from the Prefect task runs of the flow run (read
back through the client; frontier and publish are listed as other task runs); "rest" is the
wall time not spent in any task: artifacts, the run's own bookkeeping and Prefect's overhead.
"CPU s" is this process's CPU time during the run: close to the wall time means one busy core.
The machine may be shared, so the 1-minute load average is printed beside it.

`--peers`: newsflow against the pipelines a user would write instead (benchmarks/peers.py:
a batched one with 8 fetch threads, `trafilatura.extract` and spaCy `nlp.pipe(n_process=2)`,
and a naive one, a page at a time), each a fresh process on the same site, interleaved for
`--rounds` rounds. newsflow runs as users run it, `newsflow run` against a running Prefect
server, so its imports, worker start-up and the server's CPU during the run are counted; the
peers' imports and model loads are counted too. Printed: medians of wall time, CPU time
(the command and every process it waited for), articles/s and CPU ms per article, the
ratios, and what each wrote (newsflow's planted-copy check, mentions and quotes).

`--stages`: no Prefect. Calls the stage functions (`tasks.discover`, `tasks.fetch`, the raw
archive, `tasks.pages.extract_pages`, `tasks.pages.clean_pages`, `tasks.dedupe.sign` and
`decide`, `tasks.enrich`, the publisher) on the same pages, serially, timing each; then times
extract + clean and enrich again with `--workers` processes (a spawned ProcessPoolExecutor as
the flow uses) to show what a process pool gains.

Peak RSS: Linux's high-water mark of this process (VmHWM) is reset before each run, so each
run reports its own peak; `ru_maxrss` of this process and of its waited-for children (the
Prefect server, pool workers) is printed at the end.
"""

from __future__ import annotations

import argparse
import atexit
import html
import json
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COPY_SHARE = 0.10
MIN_WORDS, MAX_WORDS = 150, 1500  # story length: a real body's length, clipped to this
MAX_PIECE_WORDS = 60  # long paragraphs are split into pieces of whole sentences about this long
WIRES = ("Reuters", "AP", "AFP", "Bloomberg")
SECTIONS = ("world", "business", "politics", "science", "culture", "sport", "tech", "health")
OUTLET_NAMES = (
    "The Harbour Gazette",
    "Valley Tribune",
    "Northgate Post",
    "The Evening Lantern",
    "Riverside Herald",
    "Coastline Daily",
    "The Upland Observer",
    "Metro Bulletin",
)
FIRST = ("Alex", "Maria", "Sam", "Priya", "Jonas", "Lena", "Tom", "Grace", "Omar", "Ines")
LAST = ("Carter", "Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Reyes", "Walsh")
_SLUG = re.compile(r"[^a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SENTENCE = re.compile(r"^(.{20,140}?[a-z0-9])[.!?:;,](\s|$)")


# ---------------------------------------------------------------- the synthetic site


@dataclass(frozen=True, slots=True)
class Outlet:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Story:
    index: int
    outlet: int
    section: str
    slug: str
    title: str
    author: str
    published_at: datetime
    paragraphs: tuple[str, ...]
    copy_of: int | None = None  # the story this one syndicates


def load_bodies(path: Path) -> list[list[str]]:
    """The paragraphs of every ground-truth body, in id order."""
    truth = json.loads(path.read_text(encoding="utf-8"))
    bodies = []
    for key in sorted(truth):
        paragraphs = [p.strip() for p in truth[key]["articleBody"].split("\n") if p.strip()]
        if paragraphs:
            bodies.append(paragraphs)
    if not bodies:
        raise SystemExit(f"{path}: no article bodies")
    return bodies


def make_outlets(hosts: int) -> list[Outlet]:
    outlets = []
    for index in range(hosts):
        name = OUTLET_NAMES[index % len(OUTLET_NAMES)]
        if index >= len(OUTLET_NAMES):
            name += f" {index // len(OUTLET_NAMES) + 1}"
        outlets.append(Outlet(index=index, id=_slug(name.removeprefix("The ")), name=name))
    return outlets


def _slug(text: str, words: int = 8) -> str:
    return "-".join(_SLUG.sub(" ", text.lower()).split()[:words]) or "story"


def _headline(paragraph: str) -> str:
    match = _SENTENCE.match(paragraph)
    text = match.group(1) if match else " ".join(paragraph.split()[:12])
    return text[:1].upper() + text[1:]


def split_paragraph(paragraph: str, max_words: int = MAX_PIECE_WORDS) -> list[str]:
    """A long paragraph as runs of whole sentences of at most about `max_words` words.

    Stories are drawn from these pieces, so that two stories sharing one piece share little.
    """
    if len(paragraph.split()) <= max_words:
        return [paragraph]
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if current and len(" ".join([*current, sentence]).split()) > max_words:
            pieces.append(" ".join(current))
            current = []
        current.append(sentence)
    pieces.append(" ".join(current))
    return pieces


def _deck(items: Sequence[str], rng: random.Random) -> Callable[[], str]:
    """Deal `items` in shuffled rounds: each is used once before any is used again."""
    order: list[str] = []

    def deal() -> str:
        if not order:
            order.extend(items)
            rng.shuffle(order)
        return order.pop()

    return deal


def plan_stories(
    bodies: Sequence[Sequence[str]],
    articles: int,
    hosts: int,
    run_date: date,
    *,
    copy_share: float = COPY_SHARE,
    seed: int = 20231015,
) -> list[Story]:
    """`articles` stories, the last `copy_share` of them syndicated copies of earlier ones."""
    rng = random.Random(seed)
    pieces = [[piece for p in body for piece in split_paragraph(p)] for body in bodies]
    pool = list(dict.fromkeys(p for body in pieces for p in body if len(p.split()) >= 3))
    leads = list(dict.fromkeys(p for body in pieces for p in body[:3] if len(p.split()) >= 12))
    next_lead, next_paragraph = _deck(leads, rng), _deck(pool, rng)
    copies = round(articles * copy_share) if hosts > 1 else 0
    originals = articles - copies
    day = datetime.combine(run_date, datetime.min.time(), UTC)
    stories: list[Story] = []
    for index in range(originals):
        target = min(MAX_WORDS, max(MIN_WORDS, sum(len(p.split()) for p in rng.choice(bodies))))
        paragraphs = [next_lead()]
        words = len(paragraphs[0].split())
        for _ in range(len(pool)):
            if words >= target:
                break
            paragraph = next_paragraph()
            if paragraph not in paragraphs:
                paragraphs.append(paragraph)
                words += len(paragraph.split())
        title = _headline(rng.choice(paragraphs[:3]))
        stories.append(
            Story(
                index=index,
                outlet=index % hosts,
                section=SECTIONS[rng.randrange(len(SECTIONS))],
                slug=f"{_slug(title)}-{index}",
                title=title,
                author=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                published_at=day + timedelta(seconds=int(index * 18 * 3600 / max(originals, 1))),
                paragraphs=tuple(paragraphs),
            )
        )
    for number in range(copies):
        index = originals + number
        origin = stories[rng.randrange(originals)]
        outlet = (origin.outlet + 1 + rng.randrange(hosts - 1)) % hosts
        wire = WIRES[number % len(WIRES)]
        paragraphs = list(origin.paragraphs)
        title = origin.title
        if number % 2:  # trimmed, retitled, credited, with a few edited words
            keep = max(1, len(paragraphs) - max(1, len(paragraphs) // 6))
            paragraphs = paragraphs[:keep]
            paragraphs[0] = f"LONDON ({wire}) - {paragraphs[0]}"
            tokens = paragraphs[-1].split()
            for position in range(3, len(tokens), 9):
                tokens[position] = tokens[position].upper()
            paragraphs[-1] = " ".join(tokens)
            paragraphs.append(
                f"Reporting by {rng.choice(FIRST)} {rng.choice(LAST)}; editing by "
                f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            )
            title = f"{title} ({wire})"
        stories.append(
            Story(
                index=index,
                outlet=outlet,
                section=origin.section,
                slug=f"{_slug(title)}-{index}",
                title=title,
                author=wire,
                published_at=min(
                    origin.published_at + timedelta(minutes=30 + rng.randrange(300)),
                    day + timedelta(hours=23, minutes=59),
                ),
                paragraphs=tuple(paragraphs),
                copy_of=origin.index,
            )
        )
    return stories


def story_path(story: Story) -> str:
    return f"/{story.section}/{story.published_at:%Y/%m/%d}/{story.slug}.html"


def render_page(story: Story, outlet: Outlet, base: str, related: Sequence[Story]) -> str:
    """One article page in the outlet's own template (one of three layouts)."""
    e = html.escape
    url = base + story_path(story)
    published = story.published_at.isoformat()
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.title,
        "url": url,
        "datePublished": published,
        "dateModified": published,
        "author": [{"@type": "Person", "name": story.author}],
        "publisher": {"@type": "Organization", "name": outlet.name, "url": base + "/"},
        "articleSection": story.section.title(),
        "inLanguage": "en",
    }
    ld_text = json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
    p = f"{outlet.id[:2]}-"  # class prefix of this outlet
    nav = "".join(f'<li><a href="/{s}/">{s.title()}</a></li>' for s in SECTIONS)
    links = "".join(f'<li><a href="{base}{story_path(r)}">{e(r.title)}</a></li>' for r in related)
    paragraphs = [f"<p>{e(text)}</p>" for text in story.paragraphs]
    layout = outlet.index % 3
    if layout == 0:
        body = "\n".join(paragraphs)
        article = (
            f'<article class="{p}article"><h1 class="{p}headline">{e(story.title)}</h1>'
            f'<p class="{p}byline">By <a rel="author" href="/profile/{_slug(story.author)}">'
            f'{e(story.author)}</a> · <time datetime="{published}">'
            f"{story.published_at:%d %B %Y %H:%M}</time></p>"
            f'<div class="{p}body">{body}'
            f'<aside class="{p}related"><h2>Related</h2><ul>{links}</ul></aside></div></article>'
        )
    elif layout == 1:
        middle = len(paragraphs) // 2
        promo = (
            f'<div class="{p}newsletter"><p>Get the morning briefing from {e(outlet.name)} in '
            'your inbox every day.</p><a href="/newsletters/">Sign up</a></div>'
        )
        body = "\n".join([*paragraphs[:middle], promo, *paragraphs[middle:]])
        article = (
            f'<main id="main"><div class="{p}story"><header><h1>{e(story.title)}</h1>'
            f'<div class="{p}meta"><span class="{p}author">{e(story.author)}</span> | '
            f'<span class="{p}date">{story.published_at:%b %d, %Y}</span></div></header>'
            f'<section class="{p}story-body">{body}</section>'
            f'<div class="{p}more"><h3>More from {e(outlet.name)}</h3><ul>{links}</ul></div>'
            "</div></main>"
        )
    else:
        body = "\n".join(paragraphs)
        tags = "".join(f'<a href="/tag/{s}/">{s}</a> ' for s in SECTIONS[:4])
        article = (
            f'<div id="content" class="{p}content"><h1 itemprop="headline">{e(story.title)}</h1>'
            f'<div class="{p}credits">Written by {e(story.author)}, '
            f"{story.published_at:%A %d %B %Y}</div>"
            f'<div class="{p}text" itemprop="articleBody">{body}</div>'
            f'<div class="{p}tags">Tags: {tags}</div>'
            f'<div class="{p}share"><a href="#">Share on X</a> <a href="#">Email</a></div>'
            f'<ul class="{p}teasers">{links}</ul></div>'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(story.title)} | {e(outlet.name)}</title>"
        f'<meta name="description" content="{e(story.paragraphs[0][:150])}">'
        f'<link rel="canonical" href="{url}">'
        f'<meta property="og:type" content="article"><meta property="og:title" '
        f'content="{e(story.title)}"><meta property="og:url" content="{url}">'
        f'<meta property="og:site_name" content="{e(outlet.name)}">'
        f'<script type="application/ld+json">{ld_text}</script>'
        '<script>window.dataLayer = window.dataLayer || []; dataLayer.push({"page": "article"});'
        "</script></head>\n"
        f'<body class="{p}page"><div class="{p}cookies"><p>We use cookies to improve your '
        "experience and to show you personalised adverts.</p><button>Accept all</button></div>"
        f'<header class="{p}masthead"><a class="{p}logo" href="/">{e(outlet.name)}</a>'
        f'<nav class="{p}nav"><ul>{nav}</ul></nav><a href="/subscribe/">Subscribe</a> '
        '<a href="/signin/">Sign in</a></header>\n'
        f"{article}\n"
        f'<footer class="{p}footer"><ul><li><a href="/about/">About us</a></li>'
        '<li><a href="/contact/">Contact</a></li><li><a href="/privacy/">Privacy policy</a></li>'
        '<li><a href="/terms/">Terms</a></li></ul>'
        f"<p>© {story.published_at:%Y} {e(outlet.name)}. All rights reserved.</p></footer>"
        "</body></html>\n"
    )


def render_feed(outlet: Outlet, base: str, stories: Sequence[Story]) -> str:
    items = []
    for story in sorted(stories, key=lambda s: s.published_at, reverse=True):
        url = base + story_path(story)
        items.append(
            f"<item><title>{html.escape(story.title)}</title><link>{url}</link>"
            f'<guid isPermaLink="true">{url}</guid>'
            f"<pubDate>{format_datetime(story.published_at)}</pubDate>"
            f"<dc:creator>{html.escape(story.author)}</dc:creator>"
            f"<description>{html.escape(story.paragraphs[0][:200])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{html.escape(outlet.name)}</title><link>{base}/</link>"
        f"<description>Latest news from {html.escape(outlet.name)}</description>"
        + "\n".join(items)
        + "</channel></rss>\n"
    )


def write_site(
    root: Path, outlets: Sequence[Outlet], bases: dict[str, str], stories: Sequence[Story]
) -> int:
    """Write every outlet's pages, feed and robots.txt under root/<outlet id>/; total bytes."""
    by_outlet: dict[int, list[Story]] = defaultdict(list)
    for story in stories:
        by_outlet[story.outlet].append(story)
    written = 0
    for outlet in outlets:
        base = bases[outlet.id]
        mine = by_outlet[outlet.index]
        folder = root / outlet.id
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "/robots.txt": "User-agent: *\nAllow: /\n",
            "/feed.xml": render_feed(outlet, base, mine),
        }
        for position, story in enumerate(mine):
            related = [mine[(position + step) % len(mine)] for step in (1, 2, 3)]
            files[story_path(story)] = render_page(story, outlet, base, related)
        for path, text in files.items():
            target = folder / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            data = text.encode("utf-8")
            target.write_bytes(data)
            written += len(data)
    return written


_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/rss+xml",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(slots=True)
class ServerLoad:
    """Requests served and CPU time the serving threads used (they share this process)."""

    requests: int = 0
    cpu_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, *args: Any, root: Path, load: ServerLoad, **kw: Any) -> None:
        self.root = root
        self.load = load
        super().__init__(*args, **kw)

    def do_GET(self) -> None:
        started = time.thread_time()
        target = (self.root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
        if target.is_relative_to(self.root) and target.is_file():
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", _TYPES.get(target.suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self.send_error(404, "Not Found")
        with self.load.lock:
            self.load.requests += 1
            self.load.cpu_s += time.thread_time() - started

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_outlets(
    root: Path, outlets: Sequence[Outlet]
) -> Iterator[tuple[dict[str, str], ServerLoad]]:
    """One loopback server per outlet (port 0): outlet id -> base URL."""
    load = ServerLoad()
    servers: list[ThreadingHTTPServer] = []
    bases: dict[str, str] = {}
    try:
        for outlet in outlets:
            folder = (root / outlet.id).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            server = ThreadingHTTPServer(
                ("127.0.0.1", 0), partial(_Handler, root=folder, load=load)
            )
            server.daemon_threads = True
            servers.append(server)
            bases[outlet.id] = f"http://127.0.0.1:{server.server_address[1]}"
            threading.Thread(target=server.serve_forever, daemon=True).start()
        yield bases, load
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def write_sources(path: Path, outlets: Sequence[Outlet], bases: dict[str, str]) -> None:
    lines = ["# Synthetic outlets of benchmarks/pipeline.py\n"]
    for outlet in outlets:
        lines.append(
            f'[[source]]\nid = "{outlet.id}"\nname = "{outlet.name}"\nkind = "feed"\n'
            f'location = "{bases[outlet.id]}/feed.xml"\nenabled = true\nlanguage = "en"\n'
        )
    path.write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------- measuring


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU time so far of this process (all its threads) or its ended children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _status_mb(key: str) -> float | None:
    """A memory line of /proc/self/status ("VmRSS", "VmHWM") in MiB; None without /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def current_rss_mb() -> float:
    return _status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    """VmHWM of this process in MiB (ru_maxrss where /proc is missing)."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True, slots=True)
class RunResult:
    label: str
    wall_s: float
    flow_s: float | None
    articles: int
    new: int
    duplicates: int
    rejected: int
    fetched: int
    status: str
    stages: dict[str, tuple[int, float]]  # task name -> (task runs, seconds)
    busy_s: float  # seconds during which at least one task ran
    cpu_s: float  # CPU time of this process during the run (the server is another process)
    workers_cpu_s: float  # CPU time of child processes that ended during the run (pools)
    load: float  # 1-minute load average when the run ended (other work on the machine)
    start_rss_mb: float
    peak_rss_mb: float
    planted: str  # how the duplicate decisions compare with the planted copies


def _task_times(
    flow_run_id: Any, expected_min: int
) -> tuple[dict[str, tuple[int, float]], float, float]:
    """Task name -> (count, summed run seconds) of a flow run; the seconds during which at
    least one task ran (tasks overlap: extraction of a batch runs during the next fetch); the
    flow run's own time.

    Task run states reach the server as events, so this waits (up to 30 s) until every task
    run the server knows of is final and there are at least `expected_min` of them.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=flow_filter, limit=200)
            final = all(r.state is not None and r.state.is_final() for r in runs)
            if (final and len(runs) >= expected_min) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        flow_run = client.read_flow_run(flow_run_id)
    stages: dict[str, list[float]] = defaultdict(list)
    spans = []
    for run in runs:
        name = run.name.rsplit("-", 1)[0]
        seconds = run.total_run_time.total_seconds()
        if run.start_time and run.end_time:
            spans.append((run.start_time, run.end_time))
            if seconds == 0:
                seconds = (run.end_time - run.start_time).total_seconds()
        stages[name].append(seconds)
    busy = 0.0
    covered_to = None
    for start, end in sorted(spans):
        if covered_to is None or start > covered_to:
            busy += (end - start).total_seconds()
            covered_to = end
        elif end > covered_to:
            busy += (end - covered_to).total_seconds()
            covered_to = end
    flow_s = flow_run.total_run_time.total_seconds()
    return {k: (len(v), sum(v)) for k, v in stages.items()}, busy, flow_s


def planted_check(data_dir: Path, stories: Sequence[Story]) -> str:
    """Compare the published duplicate flags with the planted syndicated copies."""
    import duckdb

    pattern = str(data_dir / "lake" / "articles" / "**" / "*.parquet")
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT url, duplicate_of IS NOT NULL FROM read_parquet(?)", [pattern]
        ).fetchall()
    copies = {s.index for s in stories if s.copy_of is not None}
    planned = {s.index for s in stories}  # other pages (a sample site's) are not counted
    index_of = re.compile(r"-(\d+)\.html$")
    flagged = set()
    seen = set()
    for url, duplicate in rows:
        match = index_of.search(urlsplit(url).path)
        if match is None or int(match.group(1)) not in planned:
            continue
        seen.add(int(match.group(1)))
        if duplicate:
            flagged.add(int(match.group(1)))
    return (
        f"copies flagged {len(flagged & copies)}/{len(copies & seen)}, "
        f"distinct stories flagged {len(flagged - copies)}"
    )


def run_flow_twice(
    sources: Path, run_date: date, expected_tasks: int, data_dir: Path, stories: Sequence[Story]
) -> list[RunResult]:
    """Run `nightly_ingest` for `run_date` twice; the Prefect server is already up."""
    from flows.ingest import nightly_ingest

    results = []
    for label in ("first run", "same-date rerun"):
        start_rss = current_rss_mb()
        reset_peak_rss()
        cpu, children_cpu = cpu_seconds(), cpu_seconds(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        state = nightly_ingest(run_date=run_date, sources_file=str(sources), return_state=True)
        wall = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        children_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - children_cpu
        peak = peak_rss_mb()
        summary = state.result()
        stages, busy, flow_s = _task_times(state.state_details.flow_run_id, expected_tasks)
        per_source = summary.per_source
        results.append(
            RunResult(
                label=label,
                wall_s=wall,
                flow_s=flow_s,
                articles=summary.rows_written.get("articles", 0),
                new=sum(c.new for c in per_source),
                duplicates=sum(c.duplicate for c in per_source),
                rejected=sum(sum(c.rejected.values()) for c in per_source),
                fetched=sum(c.fetched for c in per_source),
                status=summary.status,
                stages=stages,
                busy_s=busy,
                cpu_s=cpu,
                workers_cpu_s=children_cpu,
                load=os.getloadavg()[0],
                start_rss_mb=start_rss,
                peak_rss_mb=peak,
                planted=planted_check(data_dir, stories),
            )
        )
    return results


def print_runs(results: Sequence[RunResult], expected_duplicates: int) -> None:
    names = ["discover", "fetch-batch", "extract-batch", "clean-batch", "dedupe", "enrich-batch"]
    header = (
        f"{'run':<16} {'wall s':>7} {'flow s':>7} {'CPU s':>6} {'+pool':>6} {'load':>5} "
        f"{'pages':>6} {'articles':>8} {'dups':>5} {'rej':>4} {'art/s':>6} "
        f"{'RSS before':>10} {'peak MiB':>8}  status"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.label:<16} {r.wall_s:7.1f} {r.flow_s or 0:7.1f} {r.cpu_s:6.1f} "
            f"{r.workers_cpu_s:6.1f} {r.load:5.1f} "
            f"{r.fetched:6d} {r.articles:8d} {r.duplicates:5d} {r.rejected:4d} "
            f"{r.articles / r.wall_s:6.1f} "
            f"{r.start_rss_mb:10.0f} {r.peak_rss_mb:8.0f}  {r.status}"
        )
    print(
        f"(planted syndicated copies: {expected_duplicates}; "
        + "; ".join(f"{r.label}: {r.planted}" for r in results)
        + ")"
    )
    print()
    print(
        "time per stage: summed Prefect task run times (s, share of wall, task runs); tasks "
        "overlap (discover tasks run together, a batch is extracted while the next one is "
        "fetched), so 'rest' is the wall time during which no task ran"
    )
    header = f"{'run':<16} " + " ".join(f"{n:>19}" for n in [*names, "rest"])
    print(header)
    print("-" * len(header))
    for r in results:
        cells = []
        for name in names:
            count, seconds = r.stages.get(name, (0, 0.0))
            cells.append(f"{seconds:6.1f} {seconds / r.wall_s:4.0%} x{count:<3d}")
        rest = r.wall_s - r.busy_s
        cells.append(f"{rest:6.1f} {rest / r.wall_s:4.0%}     ")
        print(f"{r.label:<16} " + " ".join(f"{c:>19}" for c in cells))
    others = sorted({k for r in results for k in r.stages} - set(names))
    if others:
        print(f"(other task runs: {', '.join(others)})")


# ---------------------------------------------------------------- --stages: no Prefect


def run_stages(sources_file: Path, run_date: date, data_dir: Path, workers: int) -> None:
    """Time every stage function directly, then extract and enrich with `workers` processes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from flows.pipeline import ENRICH_BATCH, fetch_policy
    from flows.settings import load_settings
    from flows.sources import load_sources
    from tasks import discover as discover_stage
    from tasks import fetch as fetch_stage
    from tasks.dedupe import decide, sign
    from tasks.enrich import enrich_articles, enrich_with_model, load_nlp
    from tasks.frontier import chunks, plan_frontier
    from tasks.pages import clean_pages, extract_page, extract_pages
    from tasks.records import Article, Discovered
    from warehouse.convert import article_rows, to_table
    from warehouse.dedup_index import ParquetSignatureIndex, signatures_table
    from warehouse.publish import Publication
    from warehouse.raw import RawArchive

    settings = load_settings()
    sources = load_sources(sources_file)
    by_id = {s.id: s for s in sources}
    times: dict[str, float] = {}
    cpus: dict[str, float] = {}
    peaks: dict[str, float] = {}

    @contextmanager
    def timed(name: str) -> Iterator[None]:
        reset_peak_rss()
        cpu = cpu_seconds()
        started = time.perf_counter()
        yield
        times[name] = time.perf_counter() - started
        cpus[name] = cpu_seconds() - cpu
        peaks[name] = peak_rss_mb()

    def now() -> datetime:
        return datetime.now(UTC)

    fetcher = fetch_stage.HttpFetcher(fetch_policy(settings))
    scope = "pipebench-stages"
    with timed("discover (sequential)"):
        found: list[Discovered] = []
        for source in sources:
            found.extend(
                discover_stage.discover(source, fetcher, validators={}, now=now).discovered
            )
        frontier = plan_frontier(found, seen=frozenset(), caps={s.id: None for s in sources})
    pages = []
    spent = {"fetch": [0.0, 0.0], "raw archive": [0.0, 0.0]}  # name -> [wall, CPU]

    def add(name: str, started: float, cpu: float) -> None:
        spent[name][0] += time.perf_counter() - started
        spent[name][1] += cpu_seconds() - cpu

    reset_peak_rss()
    with RawArchive(data_dir, run_date, scope) as archive:
        for batch in chunks(frontier.to_fetch, settings.batch_size):
            started, cpu = time.perf_counter(), cpu_seconds()
            outcomes = fetch_stage.fetch_batch(
                fetcher, batch, max_hosts_in_parallel=settings.max_hosts_in_parallel, now=now
            )
            add("fetch", started, cpu)
            started, cpu = time.perf_counter(), cpu_seconds()
            for outcome in outcomes:
                if outcome.page is not None:
                    record_id = archive.append(outcome.page)
                    pages.append(replace(outcome.page, raw_record_id=record_id))
            add("raw archive", started, cpu)
    for name, (wall, cpu) in spent.items():
        times[name], cpus[name], peaks[name] = wall, cpu, peak_rss_mb()

    with timed("extract"):
        extracted = extract_pages(pages, by_id)
    with timed("clean"):
        articles = [a for a in clean_pages(extracted) if isinstance(a, Article)]
    with timed("sign"):
        signatures = [sign(a) for a in articles]
    index = ParquetSignatureIndex(data_dir / "lake", exclude=(run_date, scope))
    with timed("dedupe decide"), index:
        result = decide(signatures, index)
    stories = [
        (d.article_id, a)
        for a, d in zip(articles, result.decisions, strict=True)
        if d.duplicate_of is None
    ]
    with timed("spaCy model load"):
        nlp = load_nlp(settings.spacy_model)
    with timed("enrich"):
        enrichments = [
            enrich_articles(stories[i : i + settings.batch_size], nlp)
            for i in range(0, len(stories), settings.batch_size)
        ]
    with timed("publish"):
        publication = Publication(data_dir, run_date, scope)
        publication.write("articles", article_rows(articles, result.decisions, "bench"))
        publication.write("dedup_signatures", signatures_table(result.signatures, run_id="bench"))
        source_of = {aid: a.source_id for aid, a in stories}
        for enrichment in enrichments:
            publication.write(
                "mentions",
                to_table("mentions", enrichment.mentions, run_id="bench", source_of=source_of),
            )
            publication.write(
                "quotes",
                to_table("quotes", enrichment.quotes, run_id="bench", source_of=source_of),
            )
        publication.commit()
    serial = set(times)
    serial_total = sum(times.values())

    # The same CPU stages with `workers` processes (spawned, as the flow's pool is).
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        with timed(f"pool start ({workers} spawned, imports)"):
            warm = pages[: 4 * workers]  # one page at a time: every worker starts and imports
            list(pool.map(extract_page, warm, [by_id.get(p.source_id) for p in warm]))
        with timed(f"extract + clean, {workers} processes"):
            parallel = [
                clean_pages(extract_pages(pages[i : i + settings.batch_size], by_id, pool), pool)
                for i in range(0, len(pages), settings.batch_size)
            ]
        with timed(f"enrich, {workers} processes"):
            parallel_enrichment = [
                pool.submit(enrich_with_model, stories[i : i + ENRICH_BATCH], settings.spacy_model)
                for i in range(0, len(stories), ENRICH_BATCH)
            ]
            parallel_found = [future.result() for future in parallel_enrichment]
    parallel_articles = sum(isinstance(item, Article) for batch in parallel for item in batch)
    same = sum(len(e.mentions) for e in enrichments) == sum(
        len(e.mentions) for e in parallel_found
    )

    words = sum(len(a.body.split()) for a in articles)
    print(
        f"{len(pages)} pages, {len(articles)} articles ({words} words), "
        f"{sum(d.duplicate_of is not None for d in result.decisions)} duplicates, "
        f"{len(stories)} enriched"
    )
    header = (
        f"{'stage (no Prefect)':<40} {'seconds':>8} {'CPU s':>7} {'share':>6} "
        f"{'per article':>12} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, seconds in times.items():
        share = f"{seconds / serial_total:6.0%}" if name in serial else "      "
        per = seconds / max(len(articles), 1) * 1000
        print(
            f"{name:<40} {seconds:8.2f} {cpus[name]:7.2f} {share} {per:9.1f} ms {peaks[name]:9.0f}"
        )
    print(f"{'total, serial stages':<40} {serial_total:8.2f}")
    print("(CPU s: this process only; pool workers and spaCy's worker processes not included)")
    print(f"(1-minute load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(
        f"(parallel extract gave {parallel_articles} articles vs "
        f"{len(articles)} serial; parallel enrich mentions equal to serial: {same})"
    )


# ---------------------------------------------------------------- --peers


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children() -> list[int]:
    """The pids of this process's live child processes."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


@dataclass(frozen=True, slots=True)
class PeerResult:
    name: str
    wall_s: float
    cpu_s: float  # the command and every process it started and waited for
    server_cpu_s: float  # the Prefect server during the run (newsflow only)
    web_cpu_s: float  # the loopback outlets (this process's threads): not counted
    articles: int
    detail: str


def _timed_command(
    name: str, command: list[str], env: dict[str, str], server: int | None, load: ServerLoad
) -> tuple[PeerResult, str]:
    import subprocess

    cpu, web = cpu_seconds(resource.RUSAGE_CHILDREN), load.cpu_s
    server_cpu = _proc_cpu_s(server) if server else 0.0
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = PeerResult(
        name=name,
        wall_s=wall,
        cpu_s=cpu_seconds(resource.RUSAGE_CHILDREN) - cpu,
        server_cpu_s=(_proc_cpu_s(server) - server_cpu) if server else 0.0,
        web_cpu_s=load.cpu_s - web,
        articles=0,
        detail="",
    )
    return result, done.stdout


def run_peers(
    args: argparse.Namespace,
    work: Path,
    sources: Path,
    bases: dict[str, str],
    stories: Sequence[Story],
    load: ServerLoad,
) -> None:
    """newsflow's CLI against a running Prefect server, and the peers of benchmarks/peers.py,
    each a fresh process on the same site, interleaved for `--rounds` rounds."""
    import duckdb
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        print(f"Prefect server up in {time.perf_counter() - started:.1f} s (not counted)")
        [server] = _children()  # the harness's server: its CPU during a run is counted
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        feeds = [f"{base}/feed.xml" for base in bases.values()]
        peers = Path(__file__).with_name("peers.py")
        newsflow = Path(sys.executable).with_name("newsflow")
        names = ["newsflow", "batched", *([] if args.no_naive else ["naive"])]
        results: list[PeerResult] = []
        for round_ in range(args.rounds):
            for name in names:
                out = work / f"{name}-{round_}"
                if name == "newsflow":
                    command = [str(newsflow), "run", "--date", str(args.date)]
                    command += ["--sources", str(sources)]
                    run_env = {**env, "NEWSFLOW_DATA_DIR": str(out)}
                    result, _ = _timed_command(name, command, run_env, server, load)
                    pattern = str(out / "lake" / "articles" / "**" / "*.parquet")
                    with duckdb.connect() as con:
                        row = con.execute(
                            "SELECT count(*), count(duplicate_of) FROM read_parquet(?)", [pattern]
                        ).fetchone()
                    assert row is not None
                    mentions, quotes = _count(out, "mentions"), _count(out, "quotes")
                    detail = (
                        f"{row[1]} flagged copies; {mentions} mentions, {quotes} quotes; "
                        f"{planted_check(out, stories)}"
                    )
                    result = replace(result, articles=int(row[0]), detail=detail)
                else:
                    command = [sys.executable, str(peers), name, str(out), *feeds]
                    result, stdout = _timed_command(name, command, env, None, load)
                    counts = json.loads(stdout.strip().splitlines()[-1])
                    detail = f"{counts['entities']} entities, {counts['quotes']} quotes"
                    result = replace(result, articles=counts["articles"], detail=detail)
                results.append(result)
                print(
                    f"  round {round_ + 1} {name:<9} {result.wall_s:6.1f} s wall, "
                    f"{result.articles / result.wall_s:5.2f} articles/s",
                    flush=True,
                )
    print_peers(results)


def _count(data_dir: Path, table: str) -> int:
    import duckdb

    pattern = str(data_dir / "lake" / table / "**" / "*.parquet")
    with duckdb.connect() as con:
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [pattern]).fetchone()
    return int(row[0]) if row else 0


def print_peers(results: Sequence[PeerResult]) -> None:
    header = (
        f"{'pipeline':<10} {'runs':>4} {'wall s':>7} {'CPU s':>7} {'server':>7} {'web':>5} "
        f"{'articles':>8} {'art/s':>6} {'CPU ms/art':>10}  (medians)"
    )
    print()
    print(header)
    print("-" * len(header))
    by_name: dict[str, list[PeerResult]] = defaultdict(list)
    for result in results:
        by_name[result.name].append(result)
    medians: dict[str, tuple[float, float]] = {}
    for name, runs in by_name.items():
        rate = _median([r.articles / r.wall_s for r in runs])
        cpu = _median([(r.cpu_s + r.server_cpu_s) * 1000 / max(r.articles, 1) for r in runs])
        medians[name] = (rate, cpu)
        print(
            f"{name:<10} {len(runs):4d} {_median([r.wall_s for r in runs]):7.1f} "
            f"{_median([r.cpu_s for r in runs]):7.1f} "
            f"{_median([r.server_cpu_s for r in runs]):7.1f} "
            f"{_median([r.web_cpu_s for r in runs]):5.1f} "
            f"{_median([float(r.articles) for r in runs]):8.0f} {rate:6.2f} {cpu:10.0f}"
        )
    for name, runs in by_name.items():
        print(f"  {name}: {runs[-1].detail}")
    print(
        "(CPU s: the command's process and every process it waited for (pool workers, spaCy's "
        "n_process workers); server: the Prefect server's CPU during the newsflow run, counted "
        "in CPU ms/article; web: the loopback outlets, not counted)"
    )
    if "newsflow" in medians:
        rate, cpu = medians["newsflow"]
        for name, (peer_rate, peer_cpu) in medians.items():
            if name != "newsflow":
                print(
                    f"newsflow vs {name}: {rate / peer_rate:.2f}x the articles/s, "
                    f"{peer_cpu / cpu:.2f}x less CPU per article"
                )
    print(f"(1-minute load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ground_truth", type=Path)
    parser.add_argument("--articles", type=int, default=600)
    parser.add_argument("--hosts", type=int, default=6)
    parser.add_argument("--copies", type=float, default=COPY_SHARE, help="syndicated share")
    parser.add_argument("--date", type=date.fromisoformat, default=date(2023, 10, 15))
    parser.add_argument("--runs-dir", type=Path, default=None, help="parent of the temp dir")
    parser.add_argument("--stages", action="store_true", help="time stage functions, no Prefect")
    parser.add_argument("--peers", action="store_true", help="newsflow vs benchmarks/peers.py")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of --peers")
    parser.add_argument("--no-naive", action="store_true", help="--peers without the naive peer")
    parser.add_argument("--workers", type=int, default=2, help="processes in --stages variants")
    parser.add_argument("--log-level", default="WARNING", help="Prefect and newsflow logging")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    if args.articles < 1 or args.hosts < 1:
        parser.error("--articles and --hosts must be at least 1")

    return _bench(args, work_dir("pipeline-", args.runs_dir, args.keep))


def work_dir(prefix: str, runs_dir: Path | None, keep: bool) -> Path:
    """A fresh folder for a benchmark's files (and temporary files), removed at exit unless
    `keep`."""
    if runs_dir:
        runs_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=runs_dir))
    tempfile.tempdir = str(work / "tmp")  # Prefect's harness database goes here too
    Path(tempfile.tempdir).mkdir()
    if keep:
        print(f"keeping {work}")
    else:  # at exit, after Prefect's harness removed its database (atexit runs in reverse)
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    return work


def _bench(args: argparse.Namespace, work: Path) -> int:
    bodies = load_bodies(args.ground_truth)
    outlets = make_outlets(args.hosts)
    stories = plan_stories(bodies, args.articles, args.hosts, args.date, copy_share=args.copies)
    copies = sum(s.copy_of is not None for s in stories)
    with ExitStack() as stack:
        bases, load = stack.enter_context(serve_outlets(work / "site", outlets))
        started = time.perf_counter()
        size = write_site(work / "site", outlets, bases, stories)
        sources = work / "sources.toml"
        write_sources(sources, outlets, bases)
        print(
            f"site: {len(stories)} pages ({copies} syndicated copies) on {len(outlets)} outlets, "
            f"{size / 1e6:.1f} MB, built in {time.perf_counter() - started:.1f} s; "
            f"run date {args.date}; {os.cpu_count()} CPUs"
        )
        os.environ.update(
            {
                "NEWSFLOW_DATA_DIR": str(work / "data"),
                "NEWSFLOW_ALLOW_PRIVATE_HOSTS": json.dumps(
                    sorted(urlsplit(b).netloc for b in bases.values())
                ),
                "NEWSFLOW_PER_HOST_DELAY_S": "0",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "PREFECT_HOME": str(work / "prefect-home"),
                "PREFECT_LOGGING_LEVEL": args.log_level,
            }
        )
        import logging

        logging.basicConfig(level=args.log_level)
        if args.stages:
            run_stages(sources, args.date, work / "stages-data", args.workers)
        elif args.peers:
            run_peers(args, work, sources, bases, stories, load)
        else:
            from prefect.testing.utilities import prefect_test_harness

            started = time.perf_counter()
            stack.enter_context(prefect_test_harness(server_startup_timeout=120))
            print(
                f"Prefect temporary server up in {time.perf_counter() - started:.1f} s "
                "(not counted)"
            )
            batches = -(-len(stories) // 200)
            expected = len(outlets) + 2 * batches
            results = run_flow_twice(sources, args.date, expected, work / "data", stories)
            print()
            print_runs(results, copies)
        served = load.requests
        print(
            f"\nloopback servers: {served} requests, {load.cpu_s:.1f} s thread CPU in this process"
        )
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"ru_maxrss: this process {self_mb:.0f} MiB, largest waited-for child "
        f"{children_mb:.0f} MiB (Prefect server / pool workers)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
