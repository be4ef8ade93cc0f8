"""Scaling benchmark: the CPU stages on Dask workers, against each other and the local pool.

    .venv/bin/python benchmarks/scale.py [--copies 20] [--batch 200] [--workers 2] [--rounds 2]
        [--store-dates 3]

The workload is the CPU part of a run, as `flows.pipeline` does it (its `start_batch`,
`finish_batch` and `start_enrichment`): the sample site's story pages (seeds/sample_site,
`--copies` times over) as fetched pages, extracted, cleaned and signed in batches
(extract-batch then clean-batch; on Dask one prepare-batch task), then their articles
enriched in batches (enrich-batch), every batch a Prefect task of a flow run against a
temporary Prefect server
(`prefect_test_harness`; its start-up is not counted). Each mode batches as a run does in it:
on Dask a batch is one task on one worker, so batches are `--batch` pages (by default a run's
`batch_size`, 200; stories enriched in batches of as many, at most 50); with the pool a batch
is shared by the processes, and batches are the default `batch_size` (200 pages; stories in
batches of 50); in `tasks.pages`, a batch under 64 pages is not worth the pool.

Modes, each timed around the flow call, best of `--rounds` after one untimed warm-up run:
- "dask W": the flow on Prefect's Dask task runner (`flows.cluster`) connected to a local
  cluster of W single-threaded worker processes as `NEWSFLOW_DASK_WORKERS=W` starts it
  (`flows.cluster.local_cluster`), for W = 1 and W = `--workers`; each batch is one
  prepare-batch task then enrich-batch tasks on a worker, the model loaded once per worker
  before timing;
- "pool N": the flow on its thread runner with `flows.pipeline.cpu_pool(N)`, the spawned
  process pool of a single-machine run (N = `--workers`), whose processes share each batch.

Then the storage part of the model (`--store-dates`, 0 to skip): that many dates of as many
articles as the CPU run enriched, built through the real publisher as `benchmarks/history.py`
builds its history (every table, 40 entity mentions an article; no raw archive), pushed one
date at a time to an S3-compatible store (moto's server on loopback, from the dev extra) as a
run on an `s3://` data dir pushes its date, then pulled into an empty working copy, and read
in place (`newsflow sql`'s `warehouse.remote.sql_rows`, median of 3) after the first date and
after the last. Loopback has no network latency: the requests and bytes per date printed
beside the seconds are what a real store's round trips and bandwidth multiply.

Printed: the wall time and articles/s of each mode, the speed-up of `--workers` Dask workers
over one (target >= 1.7x on two free cores), Dask against the pool with as many processes
(target within 15%), and a measured model: worker seconds per 1,000 articles (the tasks'
compute time, from the scheduler's task stream of the one-worker run; it holds Prefect's
bookkeeping of each task on the worker, printed apart as the time a task that does nothing
takes there), the workers' time idle per task (their wall time not spent computing: the
scheduler's round trips, the last tasks of a run), and from those the workers a nightly
volume needs; then the storage figures. The
machine may be shared: the load average before and after is printed beside the figures.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="newsflow-scale-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

from distributed import Client, LocalCluster, get_task_stream
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
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
NO_OPS = 30  # tasks that do nothing, timed on the workers for the per-task cost


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


@task(name="no-op", cache_policy=NO_CACHE)
def no_op(i: int) -> int:
    return i


@flow(name="scale-no-op-tasks")
def no_op_tasks(n: int) -> int:
    """`n` tasks that do nothing: on a worker, what each costs is Prefect's and Dask's own."""
    return sum(f.result() for f in [no_op.submit(i) for i in range(n)])


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
        idle_flow = no_op_tasks.with_options(task_runner=runner.duplicate())
        idle_flow(4)
        with get_task_stream(client) as idle:
            idle_flow(NO_OPS)
        bookkeeping = [
            s["stop"] - s["start"]
            for item in idle.data
            for s in item["startstops"]
            if s["action"] == "compute"
        ]
    return {
        "wall": wall,
        "articles": articles,
        "tasks": len(stream.data),
        "compute": compute,
        "streamed_wall": streamed_wall,
        "per_task": sum(bookkeeping) / len(bookkeeping),
    }


def on_pool(workers: int, copies: int, rounds: int) -> dict[str, Any]:
    """Timings of the flow on its thread runner with a process pool of `workers`, started
    (and its processes' model loaded) by the untimed first run."""
    with cpu_pool(workers, DEFAULT_MODEL) as pool:
        assert pool is not None, "--workers must be 2 or more"
        POOLS[workers] = pool
        wall, articles = timed(lambda: cpu_stages(copies, POOL_BATCH, workers), rounds)
    return {"wall": wall, "articles": articles}


def storage(dates: int, per_day: int) -> dict[str, float]:
    """Seconds, objects and MB of pushing `dates` dates of `per_day` articles to a store on
    loopback, of pulling them into an empty working copy, and of reading them in place."""
    import history
    from moto.server import ThreadedMotoServer

    from warehouse import remote
    from warehouse.store import WorkingCopy, date_files, filesystem

    port = 45000 + os.getpid() % 10000
    os.environ.update(
        AWS_ACCESS_KEY_ID="scale",
        AWS_SECRET_ACCESS_KEY="scale",  # noqa: S106  (moto's, on loopback)
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(dates)]
    outlets = [(f"outlet-{i}", f"http://outlet-{i}.example") for i in range(6)]
    count = "SELECT count(*) FROM articles"
    result: dict[str, float] = {"push_s": 0.0, "objects": 0, "mb": 0.0}
    try:
        with tempfile.TemporaryDirectory(prefix="newsflow-scale-store-") as tmp:
            writer, reader = Path(tmp) / "writer", Path(tmp) / "reader"
            history.build_history(writer, days, "ingest-scale", outlets, per_day, 40)
            filesystem().mkdir("scale-lake")
            url = "s3://scale-lake/newsflow"
            for i, day in enumerate(days):
                files = date_files(writer, day)
                result["objects"] += len(files) + 1  # and the date's manifest
                result["mb"] += sum(p.stat().st_size for p in files.values()) / 2**20
                start = time.perf_counter()
                with WorkingCopy(url, writer) as copy:
                    copy.push(day)
                result["push_s"] += time.perf_counter() - start
                if i == 0:
                    result["query_1"] = median_time(lambda: remote.sql_rows(url, count))
            result["query_n"] = median_time(lambda: remote.sql_rows(url, count))
            start = time.perf_counter()
            with WorkingCopy(url, reader) as copy:
                copy.pull()
            result["pull_s"] = time.perf_counter() - start
    finally:
        server.stop()
    return result


def median_time(call: Any, times: int = 3) -> float:
    laps = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        laps.append(time.perf_counter() - start)
    return sorted(laps)[times // 2]


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def report(
    modes: dict[str, dict[str, Any]], workers: int, pages: int, stored: dict[str, float] | None
) -> None:
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
    idle = max(0.0, many["streamed_wall"] * workers - many["compute"]) / tasks
    print(
        f"\nModel ({pages} pages, {one['articles']} articles a run, {tasks} tasks a run):\n"
        f"  worker seconds per 1,000 articles (the tasks' compute): {per_1000:.1f}\n"
        f"  of which per task, Prefect's and Dask's own (a task that does nothing, on a "
        f"worker): {one['per_task'] * 1000:.0f} ms\n"
        f"  worker time idle per task with {workers} workers (scheduling, the last tasks): "
        f"{idle * 1000:.0f} ms"
    )
    per_article = per_1000 / 1000 + idle * tasks / many["articles"]
    print(f"  => {per_article * 1000:.0f} worker ms per article, all in")
    for nightly in NIGHTLY:
        needed = math.ceil(nightly * per_article / (WINDOW_H * 3600))
        print(f"  {nightly:>9,} articles a night in {WINDOW_H:g} h: {needed} worker(s)")
    if stored is None:
        return
    dates, articles = stored["dates"], stored["per_day"]
    extra = (stored["query_n"] - stored["query_1"]) / max(1, dates - 1)
    print(
        f"\nStorage (S3 on loopback; {dates:g} dates of {articles:g} articles, no raw archive):\n"
        f"  push, in the flow's process: {stored['push_s'] / dates:.2f} s a date, "
        f"{stored['objects'] / dates:.0f} objects, {stored['mb'] / dates:.1f} MB a date "
        f"({stored['push_s'] / dates / articles * 1000:.2f} s per 1,000 articles)\n"
        f"  pull into an empty working copy: {stored['pull_s'] / dates:.2f} s a date\n"
        f"  `newsflow sql` in place, the count of articles: {stored['query_1']:.2f} s "
        f"over 1 date, {stored['query_n']:.2f} s over {dates:g} ({extra * 1000:+.0f} ms a date)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # 20 copies: 720 pages, 4 prepare batches of a run's 200 pages and 15 enrichment batches
    # of 50 stories. With fewer, the last batch leaves one worker idle for longer, whatever
    # the engine: with 216 pages (`--copies 6`) in batches of 50, one worker runs 3 of 5.
    parser.add_argument("--copies", type=int, default=20, help="the sample pages, this many times")
    parser.add_argument(
        "--batch", type=int, default=POOL_BATCH, help="pages per CPU batch on Dask (a run's)"
    )
    parser.add_argument("--workers", type=int, default=2, help="Dask workers and pool processes")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per mode (best kept)")
    parser.add_argument(
        "--store-dates", type=int, default=3, help="dates pushed to a loopback S3 (0: none)"
    )
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
    stored = None
    if args.store_dates:
        per_day = modes["dask 1"]["articles"]
        stored = {"dates": args.store_dates, "per_day": per_day}
        stored |= storage(args.store_dates, per_day)
    report(modes, args.workers, pages, stored)


if __name__ == "__main__":
    main()
