"""Archive benchmark: a day of CC-NEWS style WARC files into the warehouse, against a peer.

    .venv/bin/python benchmarks/archive.py GROUND_TRUTH_JSON [--records 20000] [--per-file 1000]
        [--hosts 24] [--copies 0.1] [--date 2026-11-01] [--rss-sizes 5000,20000]
        [--rss-modes plain] [--parts read,plain,resume,rss,enrich] [--rounds 1] [--runs-dir DIR]
        [--keep]

The library: news response records (`--records`, default 20,000, or the largest `--rss-sizes`
if larger) from real article bodies (a ground-truth JSON mapping ids to {"articleBody", "url"},
e.g. ../shared/bench/article-extraction/ground-truth.json), planned and rendered by
benchmarks/pipeline.py (`plan_stories`, `render_page`: each of `--hosts` outlets has its own
template, one of three layouts with its own class names; a share `--copies` of the stories are
syndicated copies of an earlier one on another outlet, half exact, half trimmed and retitled),
plus the sample site's story pages (seeds/sample_site). Each record's URL takes one of four
forms (canonical `https://www.<outlet>.example/...`, with `utm_` tracking parameters, plain
`http://` without `www.`, with `?ref=`), and its `WARC-Date` is a while after the story's
publication. The records, in capture order, are split into files of `--per-file` records named
`CC-NEWS-<D><hhmmss>-<NNNNN>.warc.gz` for the day D (`--date`), one gzip member per record,
written with fastwarc. Each file also has a `warcinfo` record, a `request` and a `metadata`
record for one of its captures, a 404 answer and a `revisit` of an earlier capture, so the
reader's other branches run; these are not counted in the records/s. A run reads the first
files that hold at least N records (a folder of links to them), N = `--records` for the
comparisons and the resume, each of `--rss-sizes` for the memory part. A copy is captured up
to about 5.5 hours after its origin and origins are spread over the day, so the first files of
a larger library hold fewer copies than `--copies` (the planted-copy check prints how many).

The runs, against one temporary Prefect server (`prefect_test_harness`; its start-up is not
counted), each a fresh process:
- newsflow as a user runs it: `newsflow backfill --start D --end D --sources FILE` with one
  `warc` source whose location is the folder of the files, each run into its own data dir;
  `NEWSFLOW_ENRICH=false` for the runs without enrichment.
- the peer, benchmarks/archive_peer.py: fastwarc's ArchiveIterator, `trafilatura.extract`,
  spaCy `nlp.pipe(n_process=2)` with newsflow's model (`Settings().spacy_model`, loaded the lean
  way of benchmarks/peers.py, without the components neither entities nor speakers need), and a
  pyarrow Parquet write; `--no-spacy` for the same peer without spaCy.

`--parts` (all by default, run in this order; each pair interleaved for `--rounds` rounds):
- read: the compared files read record by record as a run reads them (`tasks.archive.
  read_archive`, in this process, nothing else done with the pages): CPU ms per record, the
  part of a record's work that stays in the flow's process when the rest runs on a Dask
  cluster;
- plain: newsflow with NEWSFLOW_ENRICH=false vs the peer without spaCy;
- resume: newsflow without enrichment is started, killed (SIGKILL to its process group) once
  at least half the files have their checkpoint published
  (`<data_dir>/lake/archive_files/run_date=D/*.parquet`), then run again to completion;
  reported: (time before the kill + resume time) / the uninterrupted run's time, resume time /
  that time (target <= 0.55), the same in CPU seconds (the tree's CPU until the kill read from
  /proc, since killed workers are not waited for), and whether the resumed warehouse has the
  same article, duplicate and rejected counts as the uninterrupted one (plain's newsflow run,
  or one made for it);
- rss: newsflow on each of `--rss-sizes` in each of `--rss-modes` (`plain`, `enrich`), reusing
  the runs of plain and enrich for the size they ran;
- enrich: newsflow with enrichment vs the peer with spaCy.

Figures: wall time, records/s (news response records / wall), CPU seconds of the command and
every process it waited for (pool workers, spaCy's worker processes; `resource.RUSAGE_CHILDREN`,
as pipeline.py `--peers`), the Prefect server's CPU during a newsflow run (counted in CPU
ms/record, as pipeline.py does), and peak memory of the command's process tree (the Prefect
server excluded): /proc is sampled every 0.2 s and the largest sum over the tree is kept, of
RSS and of PSS (PSS shares the pages forked workers share, so it is the fair sum for the peer,
whose spaCy workers are forked). The 1-minute load average is printed with every figure: the
machine may be shared. Counts of what each wrote (articles, duplicates, rejected with reasons,
mentions, quotes, and for newsflow how the duplicate flags match the planted copies) show
quality beside speed. Targets (issue 13): records/s >= 2x the peer's, with and without
enrichment; peak memory flat from 5,000 to 20,000 records; resume <= 55% of a full run.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastwarc.warc import WarcRecord, WarcRecordType
from pipeline import (
    COPY_SHARE,
    ServerLoad,
    Story,
    _children,
    _median,
    _proc_cpu_s,
    _timed_command,
    load_bodies,
    make_outlets,
    plan_stories,
    planted_check,
    render_page,
    story_path,
    work_dir,
)

from flows.settings import SEEDS_DIR, Settings
from tasks import archive

URL_FORMS = ("https://www.{host}{path}", "https://www.{host}{path}?utm_source=rss&utm_medium=feed",
             "http://{host}{path}", "https://www.{host}{path}?ref=frontpage")  # fmt: skip
HTML = "text/html; charset=utf-8"
OK, NO = "200 OK", "404 Not Found"
RESPONSE, REVISIT = WarcRecordType.response, WarcRecordType.revisit


# ---------------------------------------------------------------- the WARC library


def _record(kind: WarcRecordType, url: str, captured: datetime, block: bytes, **http: str) -> bytes:
    """One WARC record, gzipped on its own. `http` (status, content_type) makes it an HTTP
    response; otherwise `block` is the record's content as is."""
    record = WarcRecord()
    record.init_headers(kind)
    if kind != WarcRecordType.warcinfo:
        record.headers["WARC-Target-URI"] = url
    record.headers["WARC-Date"] = captured.strftime("%Y-%m-%dT%H:%M:%SZ")
    if http:
        head = f"HTTP/1.1 {http['status']}\r\nContent-Type: {http['content_type']}\r\n"
        head += f"Content-Length: {len(block)}\r\n\r\n"
        record.set_bytes_content(head.encode() + block)
        record.is_http = True
    else:
        record.set_bytes_content(block)
        record.headers["Content-Type"] = "application/warc-fields"
    if kind == WarcRecordType.revisit:
        record.headers["WARC-Profile"] = (
            "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        )
    out = io.BytesIO()
    record.write(out, checksum_data=True)
    return gzip.compress(out.getvalue(), compresslevel=6, mtime=0)


@dataclass(frozen=True, slots=True)
class Capture:
    captured: datetime
    url: str
    html: bytes


@dataclass(frozen=True, slots=True)
class Library:
    files: tuple[Path, ...]
    records: tuple[int, ...]  # news response records per file
    stories: tuple[Story, ...]
    extras: int  # other records (warcinfo, request, metadata, 404, revisit)
    size: int  # bytes on disk


def sample_pages() -> list[tuple[str, bytes]]:
    """(path below the host, HTML) of the sample site's story pages, host = its outlet."""
    site = SEEDS_DIR / "sample_site"
    pages = sorted(p for p in site.rglob("*.html") if p.name != "index.html")
    return [(p.relative_to(site).as_posix(), p.read_bytes()) for p in pages]


def plan_captures(
    ground_truth: Path, records: int, hosts: int, day: date, copy_share: float
) -> tuple[list[Capture], list[Story]]:
    """`records` captures in capture order: the sample pages and pipeline.py's stories."""
    rng = random.Random(day.toordinal())
    samples = sample_pages()
    if records <= len(samples):
        raise SystemExit(f"--records must be more than the {len(samples)} sample pages")
    outlets = make_outlets(hosts)
    stories = plan_stories(
        load_bodies(ground_truth), records - len(samples), hosts, day, copy_share=copy_share
    )
    by_outlet: dict[int, list[Story]] = defaultdict(list)
    for story in stories:
        by_outlet[story.outlet].append(story)
    last = datetime.combine(day, datetime.max.time(), UTC).replace(microsecond=0)
    captures = []
    for outlet in outlets:
        host = f"{outlet.id}.example"
        mine = by_outlet[outlet.index]
        for position, story in enumerate(mine):
            related = [mine[(position + step) % len(mine)] for step in (1, 2, 3)]
            page = render_page(story, outlet, f"https://www.{host}", related).encode()
            url = rng.choice(URL_FORMS).format(host=host, path=story_path(story))
            captured = min(story.published_at + timedelta(minutes=rng.randrange(5, 90)), last)
            captures.append(Capture(captured, url, page))
    start = datetime.combine(day, datetime.min.time(), UTC)
    for path, page in samples:
        outlet, rest = path.split("/", 1)
        captured = start + timedelta(seconds=rng.randrange(86400))
        captures.append(Capture(captured, f"https://{outlet}.example/{rest}", page))
    captures.sort(key=lambda c: (c.captured, c.url))
    return captures, stories


def build_library(
    folder: Path, ground_truth: Path, records: int, per_file: int, hosts: int, day: date,
    copy_share: float,
) -> Library:  # fmt: skip
    """Write the day's WARC files into `folder` (module docstring)."""
    captures, stories = plan_captures(ground_truth, records, hosts, day, copy_share)
    folder.mkdir(parents=True, exist_ok=True)
    files, counts, extras, size = [], [], 0, 0
    previous: Capture | None = None
    for number, first in enumerate(range(0, len(captures), per_file), 1):
        chunk = captures[first : first + per_file]
        opened = chunk[0].captured
        path = folder / f"CC-NEWS-{opened:%Y%m%d%H%M%S}-{number:05d}.warc.gz"
        info = b"software: benchmarks/archive.py\r\nformat: WARC File Format 1.1\r\n"
        missing = f"https://www.{make_outlets(1)[0].id}.example/world/missing-{number}.html"
        with path.open("wb") as out:
            out.write(_record(WarcRecordType.warcinfo, "", opened, info))
            for position, capture in enumerate(chunk):
                url, when = capture.url, capture.captured
                out.write(_record(RESPONSE, url, when, capture.html, status=OK, content_type=HTML))
                if position == 0:
                    request = f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                    out.write(_record(WarcRecordType.request, url, when, request))
                    out.write(_record(WarcRecordType.metadata, url, when, b"fetchTimeMs: 120\r\n"))
                if position == len(chunk) // 2:
                    gone = b"<html><body>Not found</body></html>"
                    out.write(_record(RESPONSE, missing, when, gone, status=NO, content_type=HTML))
                    seen = (previous or chunk[0]).url
                    out.write(_record(REVISIT, seen, when, b"", status=OK, content_type=HTML))
            extras += 5
        previous = chunk[-1]
        files.append(path)
        counts.append(len(chunk))
        size += path.stat().st_size
    return Library(tuple(files), tuple(counts), tuple(stories), extras, size)


def write_warc_source(path: Path, folder: Path) -> None:
    path.write_text(
        f'[[source]]\nid = "ccnews"\nname = "CC-NEWS sample"\nkind = "warc"\n'
        f'location = "{folder}"\nlanguage = "en"\n',
        encoding="utf-8",
    )


# ---------------------------------------------------------------- measuring


def _descendants(roots: Sequence[int]) -> list[int]:
    """The live processes below `roots` (not the roots), from one scan of /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[parent].append(int(stat.parent.name))
    found, todo = [], list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a live process in kB; zeros when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


class TreeMemory:
    """Samples the summed RSS and PSS of this process's descendants, except `excluded` and
    theirs, every `interval` seconds while in the `with` block; keeps the peaks (MiB)."""

    def __init__(self, excluded: Sequence[int], interval: float = 0.2) -> None:
        self.excluded = set(excluded)
        self.interval = interval
        self.peak_rss_mb = 0.0
        self.peak_pss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            roots = [pid for pid in _children() if pid not in self.excluded]
            tree = roots + _descendants(roots)
            rss = pss = 0
            for pid in tree:
                one = _memory_kb(pid)
                rss, pss = rss + one[0], pss + one[1]
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024)
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Any
    ) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True, slots=True)
class Measured:
    name: str
    records: int  # news response records in the files read
    wall_s: float
    cpu_s: float  # the command and every process it waited for
    server_cpu_s: float  # the Prefect server during a newsflow run
    rss_mb: float  # peak summed RSS of the command's process tree
    pss_mb: float  # the same in PSS
    load: float  # 1-minute load average when it ended
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.records / self.wall_s

    @property
    def cpu_ms(self) -> float:
        return (self.cpu_s + self.server_cpu_s) * 1000 / self.records


def _measure(
    name: str, command: list[str], env: dict[str, str], server: int | None, records: int
) -> tuple[Measured, str]:
    with TreeMemory([server] if server else []) as memory:
        result, stdout = _timed_command(name, command, env, server, ServerLoad())
    measured = Measured(
        name=name,
        records=records,
        wall_s=result.wall_s,
        cpu_s=result.cpu_s,
        server_cpu_s=result.server_cpu_s,
        rss_mb=memory.peak_rss_mb,
        pss_mb=memory.peak_pss_mb,
        load=os.getloadavg()[0],
    )
    return measured, stdout


def _show(m: Measured) -> None:
    print(
        f"  {m.name:<24} {m.records:6d} rec {m.wall_s:7.1f} s {m.rate:7.1f} rec/s "
        f"{m.cpu_ms:6.1f} CPU ms/rec (server {m.server_cpu_s:5.1f} s) "
        f"peak RSS {m.rss_mb:5.0f} MiB, PSS {m.pss_mb:5.0f} MiB; load {m.load:.1f}\n"
        f"  {'':<24} {m.detail}",
        flush=True,
    )


# ---------------------------------------------------------------- the runs


@dataclass(frozen=True, slots=True)
class Subset:
    """The library's first files holding at least a number of records, and a sources file
    whose `warc` source reads just them (a folder of links to them)."""

    files: tuple[Path, ...]
    records: tuple[int, ...]
    sources: Path

    @property
    def total(self) -> int:
        return sum(self.records)


def subset(work: Path, library: Library, size: int) -> Subset:
    count = 0
    while count < len(library.files) and sum(library.records[:count]) < size:
        count += 1
    files, records = library.files[:count], library.records[:count]
    folder = library.files[0].parent
    if count < len(library.files):
        folder = work / f"warcs-{sum(records)}"
        folder.mkdir(exist_ok=True)
        for path in files:
            if not (folder / path.name).exists():
                (folder / path.name).symlink_to(path)
    sources = work / f"sources-{sum(records)}.toml"
    write_warc_source(sources, folder)
    return Subset(files, records, sources)


@dataclass(frozen=True, slots=True)
class Bench:
    work: Path
    day: date
    env: dict[str, str]
    server: int
    stories: tuple[Story, ...]
    model: str


def time_reading(files: Sequence[Path]) -> tuple[int, float]:
    """Outcomes `tasks.archive.read_archive` gives for `files`, and the CPU seconds it took."""
    rules = archive.ArchiveRules(max_bytes=Settings().max_bytes)
    records, start = 0, time.process_time()
    for path in files:
        tally = archive.FileTally()
        records += sum(1 for _ in archive.read_archive(path, str(path), "warc", rules, tally))
    return records, time.process_time() - start


def newsflow_command(bench: Bench, sources: Path) -> list[str]:
    newsflow = Path(sys.executable).with_name("newsflow")
    day = bench.day.isoformat()
    return [str(newsflow), "backfill", "--start", day, "--end", day, "--sources", str(sources)]


def newsflow_env(bench: Bench, data_dir: Path, enrich: bool) -> dict[str, str]:
    return {
        **bench.env,
        "NEWSFLOW_DATA_DIR": str(data_dir),
        "NEWSFLOW_ENRICH": "true" if enrich else "false",
    }


def warehouse_counts(data_dir: Path) -> dict[str, int]:
    import duckdb

    counts = {}
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        for table in ("articles", "duplicates", "rejected", "mentions", "quotes"):
            row = con.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            counts[table] = int(row[0]) if row else 0
        reasons = con.execute(
            "SELECT reason, count(*) FROM rejected GROUP BY ALL ORDER BY 2 DESC, 1"
        ).fetchall()
    counts.update({f"rejected:{reason}": int(n) for reason, n in reasons})
    return counts


def _describe(counts: dict[str, int]) -> str:
    reasons = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in counts.items() if ":" in k)
    return (
        f"{counts['articles']} articles, {counts['duplicates']} duplicates, "
        f"{counts['rejected']} rejected ({reasons}), {counts['mentions']} mentions, "
        f"{counts['quotes']} quotes"
    )


def run_newsflow(
    bench: Bench, name: str, part: Subset, enrich: bool
) -> tuple[Measured, dict[str, int]]:
    data_dir = bench.work / "runs" / name
    command = newsflow_command(bench, part.sources)
    env = newsflow_env(bench, data_dir, enrich)
    measured, _ = _measure(name, command, env, bench.server, part.total)
    counts = warehouse_counts(data_dir)
    detail = f"{_describe(counts)}; {planted_check(data_dir, bench.stories)}"
    measured = replace(measured, detail=detail)
    _show(measured)
    return measured, counts


def run_peer(bench: Bench, name: str, part: Subset, spacy: bool) -> Measured:
    out = bench.work / "runs" / name
    peer = Path(__file__).with_name("archive_peer.py")
    command = [sys.executable, str(peer), str(out), *map(str, part.files)]
    command += ["--model", bench.model] if spacy else ["--no-spacy"]
    measured, stdout = _measure(name, command, bench.env, None, part.total)
    found = json.loads(stdout.strip().splitlines()[-1])
    detail = (
        f"{found['records']} response records, {found['pages']} HTML pages -> "
        f"{found['articles']} articles, {found['entities']} entities, {found['quotes']} quotes"
    )
    measured = replace(measured, detail=detail)
    _show(measured)
    return measured


def run_pair(
    bench: Bench, part: Subset, enrich: bool, rounds: int
) -> tuple[list[Measured], dict[str, int]]:
    """newsflow and the peer on `part`, interleaved; newsflow's counts of its first run."""
    mode = "enrich" if enrich else "plain"
    results, first = [], {}
    for round_ in range(rounds):
        measured, counts = run_newsflow(bench, f"newsflow-{mode}-{round_}", part, enrich)
        first = first or counts
        results.append(measured)
        results.append(run_peer(bench, f"peer-{mode}-{round_}", part, spacy=enrich))
    return results, first


def _checkpoints(data_dir: Path, day: date) -> int:
    folder = data_dir / "lake" / "archive_files" / f"run_date={day.isoformat()}"
    return len(list(folder.glob("*.parquet")))


def run_resume(bench: Bench, part: Subset, full: Measured, full_counts: dict[str, int]) -> None:
    """Kill a backfill when half the files are published, resume it, compare with `full`."""
    data_dir = bench.work / "runs" / "newsflow-resume"
    command = newsflow_command(bench, part.sources)
    env = newsflow_env(bench, data_dir, enrich=False)
    half = -(-len(part.files) // 2)  # at least half
    log = (bench.work / "resume-killed.log").open("wb")
    server_cpu = _proc_cpu_s(bench.server)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    while _checkpoints(data_dir, bench.day) < half and process.poll() is None:
        time.sleep(0.05)
    before = time.perf_counter() - started
    if process.poll() is not None:
        raise SystemExit(f"the backfill ended before {half} files were published")
    # CPU until the kill: the process tree from /proc (killed workers are not waited for).
    tree = [process.pid, *_descendants([process.pid])]
    before_cpu = sum(map(_proc_cpu_s, tree)) + _proc_cpu_s(bench.server) - server_cpu
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    log.close()
    at_kill = _checkpoints(data_dir, bench.day)
    records = sum(part.records[at_kill:])
    resumed, _ = _measure("newsflow-resumed", command, env, bench.server, records)
    counts = warehouse_counts(data_dir)
    resumed = replace(resumed, detail=_describe(counts))
    print(
        f"  killed after {before:.1f} s with {at_kill}/{len(part.files)} files published; "
        f"the rerun read the other {records} records",
        flush=True,
    )
    _show(resumed)
    same = all(counts[k] == full_counts[k] for k in ("articles", "duplicates", "rejected"))
    print(
        f"  resume cost: (before kill + resume) / full = "
        f"({before:.1f} + {resumed.wall_s:.1f}) / {full.wall_s:.1f} = "
        f"{(before + resumed.wall_s) / full.wall_s:.2f}; resume / full = "
        f"{resumed.wall_s / full.wall_s:.2f} (target <= 0.55); "
        f"same article, duplicate and rejected counts as the uninterrupted run: {same}; "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    full_cpu = full.cpu_s + full.server_cpu_s
    resumed_cpu = resumed.cpu_s + resumed.server_cpu_s
    print(
        f"  in CPU seconds (the process trees and the Prefect server; steadier than wall time "
        f"on a shared machine): ({before_cpu:.1f} + {resumed_cpu:.1f}) / {full_cpu:.1f} = "
        f"{(before_cpu + resumed_cpu) / full_cpu:.2f}; resume / full = "
        f"{resumed_cpu / full_cpu:.2f}",
        flush=True,
    )


def run_rss(
    bench: Bench, parts: Sequence[Subset], modes: Sequence[bool],
    done: dict[tuple[int, bool], Measured],
) -> None:  # fmt: skip
    """newsflow on each part in each mode (enrichment on or off), unless already run."""
    for part in parts:
        for enrich in modes:
            if (part.total, enrich) not in done:
                name = f"newsflow-{'enrich' if enrich else 'plain'}-{part.total}"
                done[(part.total, enrich)], _ = run_newsflow(bench, name, part, enrich)


def report(
    pairs: dict[bool, list[Measured]], rss: dict[tuple[int, bool], Measured]
) -> None:
    print("\nSummary (medians over rounds)")
    for enrich, results in pairs.items():
        mode = "with enrichment vs peer with spaCy"
        if not enrich:
            mode = "without enrichment vs peer without spaCy"
        ours = [m for m in results if m.name.startswith("newsflow")]
        peer = [m for m in results if m.name.startswith("peer")]
        rate, peer_rate = _median([m.rate for m in ours]), _median([m.rate for m in peer])
        cpu, peer_cpu = _median([m.cpu_ms for m in ours]), _median([m.cpu_ms for m in peer])
        print(
            f"  {mode}: newsflow {rate:.1f} rec/s, {cpu:.1f} CPU ms/rec, peak RSS "
            f"{max(m.rss_mb for m in ours):.0f} MiB (PSS {max(m.pss_mb for m in ours):.0f}); "
            f"peer {peer_rate:.1f} rec/s, {peer_cpu:.1f} CPU ms/rec, peak RSS "
            f"{max(m.rss_mb for m in peer):.0f} MiB (PSS {max(m.pss_mb for m in peer):.0f})\n"
            f"    ratio {rate / peer_rate:.2f}x the records/s (target >= 2x), "
            f"{peer_cpu / cpu:.2f}x less CPU per record"
        )
    for enrich in (False, True):
        sizes = sorted(r for r, e in rss if e == enrich)
        if len(sizes) > 1:
            figures = ", ".join(
                f"{r} records {rss[(r, enrich)].rss_mb:.0f} MiB RSS / "
                f"{rss[(r, enrich)].pss_mb:.0f} MiB PSS"
                for r in sizes
            )
            growth = rss[(sizes[-1], enrich)].pss_mb / rss[(sizes[0], enrich)].pss_mb
            mode = "with" if enrich else "without"
            print(f"  newsflow peak memory {mode} enrichment: {figures} ({growth:.2f}x PSS)")
    load = os.getloadavg()[0]
    print(f"  (1-minute load average at the end: {load:.1f} on {os.cpu_count()} CPUs)")


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ground_truth", type=Path)
    parser.add_argument("--records", type=int, default=20_000, help="news response records")
    parser.add_argument("--per-file", type=int, default=1000, help="records per WARC file")
    parser.add_argument("--hosts", type=int, default=24)
    parser.add_argument("--copies", type=float, default=COPY_SHARE, help="syndicated share")
    parser.add_argument("--date", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--rss-sizes", default="5000,20000", help="records, comma separated")
    parser.add_argument(
        "--rss-modes", default="plain", help="plain, enrich or plain,enrich: the rss part's runs"
    )
    parser.add_argument("--parts", default="read,plain,resume,rss,enrich")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of each pair")
    parser.add_argument("--runs-dir", type=Path, default=None, help="parent of the temp dir")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if unknown := parts - {"read", "plain", "resume", "rss", "enrich"}:
        parser.error(f"unknown --parts {sorted(unknown)}")
    modes = [{"plain": False, "enrich": True}[m] for m in args.rss_modes.split(",")]
    sizes = sorted({int(s) for s in args.rss_sizes.split(",") if s})

    work = work_dir("archive-", args.runs_dir, args.keep)

    started = time.perf_counter()
    size = max([args.records, *(sizes if "rss" in parts else [])])
    library = build_library(
        work / "warcs", args.ground_truth, size, args.per_file, args.hosts, args.date, args.copies
    )
    copies = sum(s.copy_of is not None for s in library.stories)
    print(
        f"library: {len(library.files)} WARC files, {sum(library.records)} news response records "
        f"({copies} syndicated copies, {args.hosts} outlets + the sample site) and "
        f"{library.extras} other records, {library.size / 1e6:.0f} MB gzipped, built in "
        f"{time.perf_counter() - started:.0f} s; day {args.date}; {os.cpu_count()} CPUs",
        flush=True,
    )
    compared = subset(work, library, args.records)
    print(f"compared: the first {len(compared.files)} files, {compared.total} records")
    if "read" in parts:
        records, cpu = time_reading(compared.files)
        print(
            f"\nread: {records} records (response records and the others) read in "
            f"{cpu:.2f} CPU s, {cpu / records * 1000:.2f} CPU ms a record; "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    if not parts - {"read"}:
        return 0
    os.environ.update(
        {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_HOME": str(work / "prefect-home"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
    )
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        print(f"Prefect server up in {time.perf_counter() - started:.1f} s (not counted)")
        [server] = _children()
        bench = Bench(
            work=work,
            day=args.date,
            env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
            server=server,
            stories=library.stories,
            model=Settings().spacy_model,
        )
        pairs: dict[bool, list[Measured]] = {}
        rss: dict[tuple[int, bool], Measured] = {}
        plain_counts: dict[str, int] = {}
        for part in ("plain", "resume", "rss", "enrich"):
            if part not in parts:
                continue
            print(f"\n{part}:", flush=True)
            if part in ("plain", "enrich"):
                enrich = part == "enrich"
                pairs[enrich], counts = run_pair(bench, compared, enrich, args.rounds)
                rss[(compared.total, enrich)] = pairs[enrich][0]
                plain_counts = plain_counts if enrich else counts
            elif part == "resume":
                if not plain_counts:
                    rss[(compared.total, False)], plain_counts = run_newsflow(
                        bench, "newsflow-plain-0", compared, False
                    )
                run_resume(bench, compared, rss[(compared.total, False)], plain_counts)
            else:
                run_rss(bench, [subset(work, library, n) for n in sizes], modes, rss)
        report(pairs, rss)
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ru_maxrss of this benchmark process: {self_mb:.0f} MiB (not counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
