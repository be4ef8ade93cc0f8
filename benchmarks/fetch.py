"""Fetch benchmark: do hosts really run in parallel under per-host politeness?

Starts N loopback servers ("hosts", one port each: the politeness key is host:port), each
serving P pages with a fixed response delay and a robots.txt Crawl-delay. It times one host
alone (the politeness-bound time of the slowest host) and then all hosts in one
`fetch_batch`, and reports the ratio (target <= 1.5), peak memory, and how many requests
each connection carried (the servers keep connections alive and count the ones they accept;
robots.txt included).

    .venv/bin/python benchmarks/fetch.py [--hosts 20] [--pages 50] [--delay 0.1] [--crawl-delay 0.2]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.pipeline import fetch_policy
from flows.settings import Settings
from tasks.fetch import FetchPolicy, HttpFetcher, fetch_batch
from tests.servers import LoopbackServer, Reply

PARAGRAPH = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8 + "</p>"


def _now() -> datetime:
    return datetime.now(UTC)


def _server(pages: int, delay: float, crawl_delay: float) -> LoopbackServer:
    routes: dict[str, Reply] = {
        "/robots.txt": Reply(
            body=f"User-agent: *\nCrawl-delay: {crawl_delay}\n".encode(),
            content_type="text/plain",
            delay=delay,
        )
    }
    for page in range(pages):
        body = f"<html><head><title>Page {page}</title></head><body>{PARAGRAPH * 20}</body></html>"
        routes[f"/article/{page}"] = Reply(body=body.encode(), delay=delay)
    return LoopbackServer(routes, keep_alive=True)


def _policy(servers: list[LoopbackServer]) -> FetchPolicy:
    """The configured defaults (no .env), allowed onto the benchmark's servers."""
    settings = Settings(
        _env_file=None,
        user_agent="newsflow-bench/0.1",
        contact_url="https://example.invalid/bench",
        request_deadline_s=10.0,
        allow_private_hosts=frozenset(s.netloc for s in servers),
    )
    return fetch_policy(settings)


def _run(servers: list[LoopbackServer], pages: int, max_hosts: int) -> tuple[float, int, int]:
    items = [("bench", s.url(f"/article/{p}")) for p in range(pages) for s in servers]
    with HttpFetcher(_policy(servers)) as fetcher:
        started = time.perf_counter()
        outcomes = fetch_batch(fetcher, items, max_hosts_in_parallel=max_hosts, now=_now)
        elapsed = time.perf_counter() - started
    ok = sum(1 for o in outcomes if o.ok)
    return elapsed, ok, len(outcomes)


def _per_connection(servers: list[LoopbackServer]) -> str:
    requests = sum(s.hits() for s in servers)
    connections = sum(s.connections for s in servers)
    ratio = requests / max(1, connections)
    return f"{ratio:7.1f}    ({requests} requests, {connections} connections)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.1, help="response delay (s)")
    parser.add_argument("--crawl-delay", type=float, default=0.2, help="robots.txt Crawl-delay")
    parser.add_argument("--max-hosts", type=int, default=None, help="hosts in parallel")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(_server(args.pages, args.delay, args.crawl_delay))
            for _ in range(args.hosts + 1)
        ]
        alone, spare = servers[:-1], servers[-1]
        single, single_ok, _ = _run([spare], args.pages, 1)
        bound = (args.pages + 1) * args.delay + args.pages * args.crawl_delay
        tracemalloc.start()
        wall, ok, total = _run(alone, args.pages, args.max_hosts or args.hosts)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        reuse_single, reuse_all = _per_connection([spare]), _per_connection(alone)
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"hosts={args.hosts} pages/host={args.pages} delay={args.delay}s "
        f"crawl-delay={args.crawl_delay}s"
    )
    print(
        f"one host alone:         {single:7.2f} s  ({single_ok}/{args.pages} ok; "
        f"theoretical politeness bound {bound:.2f} s)"
    )
    print(f"all hosts in one batch: {wall:7.2f} s  ({ok}/{total} ok)")
    print(f"ratio to one host:      {wall / single:7.2f}x  (target <= 1.5x)")
    print(f"ratio to the bound:     {wall / bound:7.2f}x")
    print(f"requests/connection:    {reuse_single}  one host alone")
    print(f"requests/connection:    {reuse_all}  all hosts")
    print(f"peak traced memory:     {peak / 2**20:7.1f} MiB (fetch_batch, servers included)")
    print(f"max RSS of the process: {maxrss_mb:7.1f} MiB")
    return 0 if wall / single <= 1.5 and ok == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
