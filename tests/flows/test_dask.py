"""The flows on a Dask cluster (issue 14), through Prefect's Dask task runner.

A Dask scheduler and two workers run here as processes of their own on 127.0.0.1, each in a
temporary directory of its own (no shared path: the workers never see the data dir). The
sample site is ingested once with the single-machine runner and once through the cluster;
the two warehouses hold the same rows. A worker killed with SIGKILL in the middle of a task
costs the run nothing: the scheduler runs its tasks again elsewhere and every URL still ends
exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import cloudpickle
import duckdb
import pytest
from distributed import Client, Worker, get_task_stream, get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from flowenv import environment
from prefect import flow, task
from prefectserver import free_port, stop
from s3store import make_bucket, s3_server
from servers import LoopbackServer, Reply

from flows import cluster
from flows.cli import main
from flows.ingest import nightly_ingest, reprocess, with_task_runner
from flows.pipeline import RunSummary
from flows.settings import load_settings
from warehouse import store

pytestmark = pytest.mark.timeout(900)  # two whole runs of the sample site on a shared machine

RUN_DATE = date(2023, 10, 15)
WORKERS = ("w0", "w1")
# Columns that differ between two runs of a date whatever their runner: when things happened,
# and where the raw archive (whose file name and offsets follow the fetch times) holds a page.
WHEN = {"fetched_at", "elapsed_ms", "started_at", "finished_at", "raw_record_id"}
TABLES = (
    "article_versions",
    "rejected",
    "fetch_log",
    "mentions",
    "quotes",
    "keywords",
    "dedup_signatures",
    "entities",
)
RUN = {"NEWSFLOW_PER_HOST_DELAY_S": "0.05", "NEWSFLOW_BATCH_SIZE": "8"}  # batches: many tasks


@dataclass
class DaskCluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]]
    logs: Path

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
            for log in sorted(self.logs.glob("*.log"))
        )


def _spawn(command: list[str], folder: Path, log: Path) -> subprocess.Popen[bytes]:
    """A process working in `folder` (its own), with a Prefect home of its own."""
    env = {
        **os.environ,
        "PREFECT_HOME": str(folder / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def start_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Starts a scheduler and two worker processes (no nanny: a killed worker stays dead),
    each in a temporary directory of its own; returns once both workers have joined. Every
    process is stopped at the end, whatever happened."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> DaskCluster:
        logs = tmp_path_factory.mktemp("dask-logs")
        address = f"tcp://127.0.0.1:{free_port()}"
        port = address.rsplit(":", 1)[1]
        scheduler = _spawn(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", port, "--no-dashboard"],
            tmp_path_factory.mktemp("dask-scheduler"),
            logs / "scheduler.log",
        )
        started.append(scheduler)
        workers = {}
        for name in WORKERS:
            folder = tmp_path_factory.mktemp(f"dask-{name}")
            workers[name] = _spawn(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", name,
                 "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--local-directory", str(folder / "scratch")],
                folder,
                logs / f"{name}.log",
            )
            started.append(workers[name])
        cluster = DaskCluster(address, scheduler, workers, logs)
        try:
            with Client(address, timeout=120) as client:  # retries until the scheduler listens
                client.wait_for_workers(len(WORKERS), timeout=120)
        except Exception as error:
            log = cluster.log_tail()
            raise RuntimeError(f"the Dask cluster did not start: {error}\n{log}") from None
        return cluster

    try:
        yield start
    finally:
        for process in reversed(started):
            stop(process)


@pytest.fixture(scope="module")
def local_run(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunSummary, Path]:
    data_dir = tmp_path_factory.mktemp("local-warehouse")
    with environment({**RUN, "NEWSFLOW_DATA_DIR": str(data_dir)}):
        return nightly_ingest(run_date=RUN_DATE), data_dir


def dask_run(address: str, data_dir: Path, flow: Any = nightly_ingest) -> RunSummary:
    """`flow` for the date with the task runner that NEWSFLOW_DASK_ADDRESS asks for."""
    with environment({**RUN, "NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_DASK_ADDRESS": address}):
        summary: RunSummary = with_task_runner(flow, load_settings())(run_date=RUN_DATE)
        return summary


def ran_on(stream: Any) -> dict[str, set[str]]:
    """The workers each kind of task ran on, from a task stream."""
    ran: dict[str, set[str]] = {}
    for item in stream.data:
        ran.setdefault(item["key"].split("-", 1)[0], set()).add(item["worker"])
    return ran


def sql(data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


def snapshot(data_dir: Path) -> dict[str, list[str]]:
    """Every table's rows (sorted, as text), without the columns that say when."""
    tables = {}
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        for table in TABLES:
            columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in WHEN)
            tables[table] = sorted(map(repr, con.execute(f"SELECT {kept} FROM {table}").fetchall()))
    return tables


def assert_every_url_once(summary: RunSummary, data_dir: Path) -> None:
    """Each URL discovery found is an article (maybe a duplicate) or a rejection, once."""
    twice = sql(
        data_dir,
        "WITH outcomes AS (SELECT url FROM article_versions UNION ALL SELECT url FROM rejected"
        " WHERE reason <> 'duplicate_url') SELECT url, count(*) FROM outcomes GROUP BY url"
        " HAVING count(*) <> 1",
    )
    assert twice == []
    total = sql(
        data_dir, "SELECT (SELECT count(*) FROM article_versions) + (SELECT count(*) FROM rejected)"
    )[0][0]
    assert total == sum(c.discovered for c in summary.per_source)


def model_loads(dask_worker: Worker) -> tuple[int, int, int]:
    """(pid, spaCy model loads, uses of the loaded model) of the worker process it runs in."""
    from tasks.enrich import load_nlp

    info = load_nlp.cache_info()
    return os.getpid(), info.misses, info.hits


def test_a_dask_run_and_reprocess_publish_the_local_rows_with_the_cpu_stages_on_the_workers(
    local_run: tuple[RunSummary, Path], start_cluster: Any, tmp_path: Path
) -> None:
    local, local_dir = local_run
    cluster: DaskCluster = start_cluster()
    with Client(cluster.address) as client, get_task_stream(client) as stream:
        summary = dask_run(cluster.address, tmp_path)
        loads = client.run(model_loads)
        names = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
    assert summary.status == local.status == "completed", summary.failures
    assert summary.rows_written == local.rows_written
    assert snapshot(tmp_path) == snapshot(local_dir)
    assert_every_url_once(summary, tmp_path)
    # The CPU stages ran as tasks on both workers; discovery, fetching and publishing did not
    # (they stay in the flow's process).
    ran = ran_on(stream)
    assert set(ran) == {"prepare_task", "enrich_task"}, ran
    assert set().union(*ran.values()) == set(names.values())
    # One spaCy model load per worker process (as it joined), however many enrichment
    # batches it ran; each batch used the loaded model.
    pids = {pid for pid, _, _ in loads.values()}
    assert len(pids) == len(WORKERS)
    assert os.getpid() not in pids
    assert sorted(misses for _, misses, _ in loads.values()) == [1, 1]
    enrich_batches = sum(1 for item in stream.data if item["key"].startswith("enrich_task"))
    assert sum(hits for _, _, hits in loads.values()) == enrich_batches > len(WORKERS)
    # Reprocessing the date through the cluster gives the same rows again.
    with Client(cluster.address) as client, get_task_stream(client) as stream:
        rebuilt = dask_run(cluster.address, tmp_path, reprocess)
    assert rebuilt.status == "completed", rebuilt.failures
    assert set(ran_on(stream)) == {"prepare_task", "enrich_task"}
    assert snapshot(tmp_path) == snapshot(local_dir)


class KillOnFirstTask(WorkerPlugin):
    """SIGKILLs the worker named `victim` as it starts executing its first task."""

    def __init__(self, victim: str) -> None:
        self.victim = victim
        self.name = ""

    def setup(self, worker: Worker) -> None:
        self.name = str(worker.name)

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if self.name == self.victim and finish == "executing":
            os.kill(os.getpid(), signal.SIGKILL)


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests


def run_into_store(address: str, folder: Path) -> tuple[RunSummary, Path]:
    """A run on the cluster into an S3 store (moto on loopback), and another machine's
    working copy of the store once the run is over."""
    with s3_server():
        make_bucket("cluster-lake")
        url = "s3://cluster-lake/nightly"
        settings = {
            **RUN,
            "NEWSFLOW_DATA_DIR": url,
            "NEWSFLOW_STORE_CACHE_DIR": str(folder / "flow-machine"),
            "NEWSFLOW_DASK_ADDRESS": address,
        }
        with environment(settings):
            summary: RunSummary = with_task_runner(nightly_ingest, load_settings())(
                run_date=RUN_DATE
            )
        with store.working_copy(url, folder / "reader-machine") as copy:
            assert copy.pull() == [RUN_DATE]
    return summary, folder / "reader-machine"


@pytest.mark.parametrize("lake", ["local", "s3"])
def test_a_worker_killed_mid_task_costs_the_run_nothing(
    local_run: tuple[RunSummary, Path], start_cluster: Any, tmp_path: Path, lake: str
) -> None:
    # With the lake in S3 this is the whole of issue 14 at once: workers with no shared path,
    # the store on loopback, a worker SIGKILLed mid-task, the run read on another machine.
    local, local_dir = local_run
    cluster: DaskCluster = start_cluster()
    with Client(cluster.address) as client:
        client.register_plugin(KillOnFirstTask("w1"), name="kill-w1")
    if lake == "s3":
        summary, published = run_into_store(cluster.address, tmp_path)
    else:
        summary, published = dask_run(cluster.address, tmp_path), tmp_path
    assert cluster.workers["w1"].wait(timeout=30) == -signal.SIGKILL  # died in its first task
    assert cluster.workers["w0"].poll() is None
    assert summary.status == "completed", summary.failures
    assert summary.rows_written == local.rows_written
    assert_every_url_once(summary, published)
    assert snapshot(published) == snapshot(local_dir)


def test_newsflow_run_on_dask_fetches_a_host_one_request_at_a_time(
    prefect_harness: None, start_cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`newsflow run` with NEWSFLOW_DASK_ADDRESS, two workers, pages of one host in several
    batches that extract on the workers while the next are fetched: the host still never sees
    two requests at once (fetching stays in the flow's one fetcher)."""
    hold = 0.3  # each page is answered this long after its request arrives
    pages = [f"/story-{n}.html" for n in range(8)]
    page = b"<html><head><title>A story</title></head><body>" + b"<p>Words.</p>" * 50 + b"</body>"
    with LoopbackServer({p: Reply(body=page, delay=hold) for p in pages}) as server:
        items = "".join(f"<item><link>{server.url(p)}</link></item>" for p in pages)
        server.route("/feed.xml", Reply(body=f"<rss><channel>{items}</channel></rss>".encode(),
                                        content_type="application/rss+xml"))
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nid = "one-host"\nname = "One host"\nkind = "feed"\n'
            f'location = "{server.url("/feed.xml")}"\n',
            encoding="utf-8",
        )
        dask: DaskCluster = start_cluster()
        settings = {
            "NEWSFLOW_DASK_ADDRESS": dask.address,
            "NEWSFLOW_ALLOW_PRIVATE_HOSTS": f'["{server.netloc}"]',
            "NEWSFLOW_PER_HOST_DELAY_S": "0",
            "NEWSFLOW_BATCH_SIZE": "2",
            "NEWSFLOW_ENRICH": "false",
        }
        command = ["--data-dir", str(tmp_path / "data"), "run", "--date", RUN_DATE.isoformat()]
        with environment(settings), Client(dask.address) as client, get_task_stream(client) as ts:
            code = main([*command, "--sources", str(sources)])
        arrivals = sorted(r.at for r in server.requests if r.path in pages)
    assert code == 0, capsys.readouterr()
    assert "prepare_task" in ran_on(ts)  # the command ran its flow on the cluster
    assert len(arrivals) == len(pages)
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert min(gaps) >= hold  # each request came after the answer to the one before


@task
def where() -> tuple[int, bool]:
    """The process the task ran in, and whether Dask's statistical profiler samples it."""
    return os.getpid(), "profile" in get_worker().periodic_callbacks


@flow
def probe() -> tuple[int, set[tuple[int, bool]]]:
    """The worker threads of the flow's Dask cluster, and where six tasks ran."""
    runner = cluster.dask_runner()
    assert runner is not None
    futures = [where.submit() for _ in range(6)]
    return cluster.worker_slots(runner), {future.result() for future in futures}


def test_dask_workers_runs_the_flow_on_a_local_cluster_of_that_many_processes(
    prefect_harness: None,
) -> None:
    slots, ran = with_task_runner(probe, load_settings(dask_workers=2))()
    assert slots == 2
    assert os.getpid() not in {pid for pid, _ in ran}
    # Its workers run without the profiler (it took a busy worker's CPU: `flows.cluster`).
    assert {profiled for _, profiled in ran} == {False}
    assert with_task_runner(probe, load_settings()) is probe  # unset: the flow's own runner
