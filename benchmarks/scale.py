"""Scaling benchmark: the CPU stages on Dask workers, against each other and the local pool.

    .venv/bin/python benchmarks/scale.py [--copies 20] [--batch 50] [--workers 2] [--rounds 2]

The workload is the CPU part of a run, as `flows.pipeline` does it (its `start_batch`,
`finish_batch` and `start_enrichment`): the sample site's story pages (seeds/sample_site,
`--copies` times over) as fetched pages, extracted, cleaned and signed in batches
(extract-batch then clean-batch; on Dask one prepare-batch task), then their articles
enriched in batches (enrich-batch), every batch a Prefect task of a flow run against a
temporary Prefect server
(`prefect_test_harness`; its start-up is not counted). Each mode batches as a run does in it:
on Dask a batch is one task on one worker, so batches are `--batch` pages (a run's
`batch_size`; stories enriched in batches of as many, at most 50); with the pool a batch is
shared by the processes, and batches are the default `batch_size` (200 pages; stories in
batches of 50); in `tasks.pages`, a batch under 64 pages is not worth the pool.

Modes, each timed around the flow call, best of `--rounds` after one untimed warm-up run:
- "dask W": the flow on Prefect's Dask task runner (`flows.cluster`) connected to a local
  cluster of W single-threaded worker processes as `NEWSFLOW_DASK_WORKERS=W` starts it
  (`flows.cluster.local_cluster`), for W = 1 and W = `--workers`; each batch is one
  prepare-batch task then enrich-batch tasks on a worker, the model loaded once per worker
  before timing;
- "pool N": the flow on its thread runner with `flows.pipeline.cpu_pool(N)`, the spawned
  process pool of a single-machine run (N = `--workers`), whose processes share each batch.

Printed: the wall time and articles/s of each mode, the speed-up of `--workers` Dask workers
over one (target >= 1.7x on two free cores), Dask against the pool with as many processes
(target within 15%), and a measured model: worker seconds per 1,000 articles (the tasks'
compute time, from the scheduler's task stream of the one-worker run) and the overhead per
task (the workers' wall time not spent computing, per task: scheduling, moving batches,
Prefect's task-run bookkeeping), and from those the workers a nightly volume needs. The
machine may be shared: the load average before and after is printed beside the figures.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="newsflow-scale-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

from distributed import Client, LocalCluster, get_task_stream
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.testing.utilities import prefect_test_harness
from prefect_dask import DaskTaskRunner

from flows import cluster
from flows.cluster_worker import WarmUp
from flows.pipeline import ENRICH_BATCH, cpu_pool, finish_batch, start_batch, start_enrichment
from flows.settings import SEEDS_DIR, Settings
from tasks.enrich import DEFAULT_MODEL
from tasks.frontier import chunks
from tasks.records import FetchedPage

POOL_BATCH = Settings().batch_size  # pages per CPU batch of a single-machine run
POOLS: dict[int, Executor] = {}  # the warm process pool of the "pool N" runs, by N
NIGHTLY = (10_000, 100_000, 1_000_000)  # articles a night, for the model's table
WINDOW_H = 1.0  # hours the CPU stages may take


def sample_pages(copies: int) -> list[FetchedPage]:
    """The sample site's story pages, `copies` times over, as the fetcher returns them."""
    site = SEEDS_DIR / "sample_site"
    files = sorted(p for p in site.rglob("*.html") if p.name != "index.html")
    fetched_at = datetime(2023, 10, 15, 2, 30, tzinfo=UTC)
    pages = []
    for copy in range(copies):
        for path in files:
            outlet, rest = path.relative_to(site).as_posix().split("/", 1)
            url = f"http://{outlet}.localhost/{rest}?copy={copy}"
            pages.append(
                FetchedPage(outlet, url, url, 200, "text/html", path.read_bytes(), fetched_at)
            )
    return pages


@flow(name="scale-cpu-stages", task_runner=ThreadPoolTaskRunner(max_workers=8))  # type: ignore[arg-type]
def cpu_stages(copies: int, batch: int, pool_workers: int) -> int:
    """Extract, clean and enrich `sample_pages(copies)` in batches; returns the articles
    enriched. On a Dask task runner every batch is a task on a worker; else the batches share
    the warm process pool of `pool_workers` processes (the flow's own single-machine way)."""
    pages = sample_pages(copies)  # built here: Prefect keeps flow parameters small
    on_dask = cluster.dask_runner() is not None
    pool = None if on_dask else POOLS[pool_workers]
    preparing = [start_batch(chunk, {}, pool) for chunk in chunks(pages, batch)]
    enriching = []
    articles = 0
    for future in preparing:
        cleaned = finish_batch(future, pool)
        stories = [
            (s.article_id, a) for a, s in zip(cleaned.articles, cleaned.signatures, strict=True)
        ]
        articles += len(stories)
        size = min(ENRICH_BATCH, batch) if on_dask else ENRICH_BATCH
        enriching += [start_enrichment(c, DEFAULT_MODEL, pool) for c in chunks(stories, size)]
    for future in enriching:
        future.result()
    return articles


def timed(run: Any, rounds: int) -> tuple[float, int]:
    """Best wall time of `rounds` calls after an untimed one; the articles of a call."""
    articles = run()
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best, articles


def on_dask(workers: int, copies: int, batch: int, rounds: int) -> dict[str, Any]:
    """Timings of the flow on a local Dask cluster of `workers` processes, and its task
    stream (every task's compute time) of one timed run."""
    with LocalCluster(**cluster.local_cluster(workers)) as local, Client(local) as client:
        runner = DaskTaskRunner(cluster=local)
        client.register_plugin(WarmUp(DEFAULT_MODEL), name="warm-up")
        dask_flow = cpu_stages.with_options(task_runner=runner.duplicate())
        wall, articles = timed(lambda: dask_flow(copies, batch, 0), rounds)
        with get_task_stream(client) as stream:
            start = time.perf_counter()
            dask_flow(copies, batch, 0)
            streamed_wall = time.perf_counter() - start
        compute = sum(
            stop - begin
            for item in stream.data
            for kind, begin, stop in (
                (s["action"], s["start"], s["stop"]) for s in item["startstops"]
            )
            if kind == "compute"
        )
    return {
        "wall": wall,
        "articles": articles,
        "tasks": len(stream.data),
        "compute": compute,
        "streamed_wall": streamed_wall,
    }


def on_pool(workers: int, copies: int, rounds: int) -> dict[str, Any]:
    """Timings of the flow on its thread runner with a process pool of `workers`, started
    (and its processes' model loaded) by the untimed first run."""
    with cpu_pool(workers, DEFAULT_MODEL) as pool:
        assert pool is not None, "--workers must be 2 or more"
        POOLS[workers] = pool
        wall, articles = timed(lambda: cpu_stages(copies, POOL_BATCH, workers), rounds)
    return {"wall": wall, "articles": articles}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def report(modes: dict[str, dict[str, Any]], workers: int, pages: int) -> None:
    print(f"{'mode':<10}{'wall s':>9}{'articles/s':>12}")
    for name, result in modes.items():
        print(f"{name:<10}{result['wall']:>9.2f}{result['articles'] / result['wall']:>12.1f}")
    one, many, pool = modes["dask 1"], modes[f"dask {workers}"], modes[f"pool {workers}"]
    speedup = one["wall"] / many["wall"]
    against_pool = many["wall"] / pool["wall"] - 1
    print(f"\n{workers} Dask workers against 1: {speedup:.2f}x (target >= 1.7x)")
    print(
        f"dask {workers} against pool {workers}: {against_pool:+.1%} wall time (target within 15%)"
    )
    per_1000 = one["compute"] / one["articles"] * 1000
    tasks = many["tasks"]
    overhead = max(0.0, many["streamed_wall"] * workers - many["compute"]) / tasks
    print(
        f"\nModel ({pages} pages, {one['articles']} articles a run, {tasks} tasks a run):\n"
        f"  worker seconds per 1,000 articles (compute): {per_1000:.1f}\n"
        f"  overhead per task with {workers} workers (worker time not computing): "
        f"{overhead * 1000:.0f} ms"
    )
    per_article = per_1000 / 1000 + overhead * tasks / many["articles"]
    print(f"  => {per_article * 1000:.0f} worker ms per article, all in")
    for nightly in NIGHTLY:
        needed = math.ceil(nightly * per_article / (WINDOW_H * 3600))
        print(f"  {nightly:>9,} articles a night in {WINDOW_H:g} h: {needed} worker(s)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 20 copies: 720 pages, 15 batches of each stage. With 6 (216 pages, 5 batches) two
    # workers cannot beat one by more than 5/3, whatever the engine: one of them runs 3.
    parser.add_argument("--copies", type=int, default=20, help="the sample pages, this many times")
    parser.add_argument("--batch", type=int, default=50, help="pages per CPU batch on Dask")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers and pool processes")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per mode (best kept)")
    args = parser.parse_args(argv)
    pages = len(sample_pages(args.copies))
    print(
        f"{pages} pages, in batches of {args.batch} on Dask and {POOL_BATCH} with the pool; "
        f"{load()}",
        flush=True,
    )
    with prefect_test_harness(server_startup_timeout=180):
        modes = {"dask 1": on_dask(1, args.copies, args.batch, args.rounds)}
        print(f"dask 1 done; {load()}", flush=True)
        modes[f"dask {args.workers}"] = on_dask(args.workers, args.copies, args.batch, args.rounds)
        print(f"dask {args.workers} done; {load()}", flush=True)
        modes[f"pool {args.workers}"] = on_pool(args.workers, args.copies, args.rounds)
        print(f"pool {args.workers} done; {load()}\n", flush=True)
    report(modes, args.workers, pages)


if __name__ == "__main__":
    main()
