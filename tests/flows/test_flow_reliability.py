"""The whole flow against loopback servers (RELIABILITY.md rows 15 and 20).

Row 15: a feed with ETag/Last-Modified polled on two dates gets a conditional request and a
304, adds no rows, and its validator only advances once a run has published.
Row 20: good and bad sources in one run: the run completes with the failures listed, the
good source is published, and the Prefect artifacts carry the per-source counts.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from servers import LoopbackServer, Reply, Request

from flows.ingest import backfill, nightly_ingest
from flows.pipeline import RunSummary
from flows.settings import SEEDS_DIR

D1, D2, D3, D4 = (date(2023, 10, d) for d in (15, 16, 17, 18))
RSS = "application/rss+xml"
SITE = SEEDS_DIR / "sample_site" / "daily-courier"
PAGES = {  # path on the loopback server -> a daily-courier article of the sample site
    "/news/bees.html": "science/2023/09/21/wild-bees-in-decline-across-southern-england-"
    "survey-finds.html",
    "/news/macbeth.html": "culture/2023/10/11/macbeth-review-courtyard-theatre-norwich.html",
    "/news/docks.html": "culture/2023/10/02/lost-victorian-photographs-of-liverpool-docks-"
    "go-on-display.html",
    "/news/port.html": "world/2023/10/06/chilean-port-strike-leaves-fishing-fleets-idle.html",
}


def article_routes(server: LoopbackServer) -> None:
    """Serve the sample-site articles under /news/, their links pointing at `server`."""
    base = server.url("").rstrip("/").encode()
    for path, name in PAGES.items():
        body = (SITE / name).read_bytes().replace(b"{{site:daily-courier}}", base)
        server.route(path, Reply(body=body))


def rss(server: LoopbackServer, paths: list[str], days: list[int] | None = None) -> bytes:
    """An RSS 2.0 feed of `paths` on `server`, item n dated October `days[n]` 2023."""
    dated = zip(paths, days or [15] * len(paths), strict=True)
    items = "".join(
        f"<item><title>Story {n}</title><link>{server.url(p)}</link><guid>{server.url(p)}</guid>"
        f"<pubDate>{day:02d} Oct 2023 0{n}:00:00 GMT</pubDate></item>"
        for n, (p, day) in enumerate(dated)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Loopback Courier</title><link>{server.url('/')}</link>"
        f"<description>test feed</description>{items}</channel></rss>"
    ).encode()


@dataclass
class ConditionalFeed:
    """A feed document that answers 304 when the request carries its current validators."""

    etag: str
    last_modified: str
    body: bytes
    seen: list[tuple[str | None, str | None]] = field(default_factory=list)

    def __call__(self, request: Request) -> Reply:
        sent = (request.headers.get("if-none-match"), request.headers.get("if-modified-since"))
        self.seen.append(sent)
        validators = (("ETag", self.etag), ("Last-Modified", self.last_modified))
        if sent[0] == self.etag or (sent[0] is None and sent[1] == self.last_modified):
            return Reply(status=304, content_type=None, headers=validators)
        return Reply(body=self.body, content_type=RSS, headers=validators)


def write_sources(path: Path, entries: dict[str, str]) -> str:
    """A sources file with one feed source per `id -> location`."""
    path.write_text(
        "".join(
            f'[[source]]\nid = "{sid}"\nkind = "feed"\nlocation = "{url}"\n\n'
            for sid, url in entries.items()
        ),
        encoding="utf-8",
    )
    return str(path)


def flow_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path, netlocs: list[str]) -> None:
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0.05")
    monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps(netlocs))
    monkeypatch.setenv("NEWSFLOW_BACKOFF_BASE_S", "0.05")
    monkeypatch.setenv("NEWSFLOW_MAX_RETRIES", "1")
    monkeypatch.setenv("NEWSFLOW_REQUEST_DEADLINE_S", "5")


def sql(data_dir: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def feed_log(data_dir: Path, url: str) -> list[tuple[Any, ...]]:
    return sql(
        data_dir,
        "SELECT run_date, status, reason, etag, last_modified FROM fetch_log"
        " WHERE url = ? AND purpose = 'feed' ORDER BY run_date",
        [url],
    )


def article_urls(data_dir: Path) -> list[str]:
    return [u for (u,) in sql(data_dir, "SELECT url FROM article_versions ORDER BY url")]


# ---------------------------------------------------------------- row 15


@dataclass
class PolledFeed:
    server: LoopbackServer
    feed: ConditionalFeed
    sources: str
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url("/feed.xml")


@pytest.fixture
def polled_feed(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PolledFeed]:
    with LoopbackServer() as server:
        article_routes(server)
        feed = ConditionalFeed(
            etag='"v1"',
            last_modified="Sun, 15 Oct 2023 06:00:00 GMT",
            body=rss(server, ["/news/bees.html", "/news/macbeth.html"]),
        )
        server.route("/feed.xml", feed)
        data_dir = tmp_path / "data"
        flow_env(monkeypatch, data_dir, [server.netloc])
        sources = write_sources(tmp_path / "sources.toml", {"courier": server.url("/feed.xml")})
        yield PolledFeed(server, feed, sources, data_dir)


def test_second_poll_sends_the_validators_gets_304_and_adds_no_rows(
    polled_feed: PolledFeed,
) -> None:
    data_dir, feed = polled_feed.data_dir, polled_feed.feed
    first = nightly_ingest(run_date=D1, sources_file=polled_feed.sources)
    assert first.status == "completed", first.failures
    assert feed.seen == [(None, None)]
    assert feed_log(data_dir, polled_feed.url) == [
        (D1, 200, "ok", '"v1"', "Sun, 15 Oct 2023 06:00:00 GMT")
    ]
    published = article_urls(data_dir)
    server = polled_feed.server
    assert published == sorted([server.url("/news/bees.html"), server.url("/news/macbeth.html")])

    second = nightly_ingest(run_date=D2, sources_file=polled_feed.sources)

    assert second.status == "completed", second.failures
    assert feed.seen[1] == ('"v1"', "Sun, 15 Oct 2023 06:00:00 GMT")
    assert [row[:3] for row in feed_log(data_dir, polled_feed.url)] == [
        (D1, 200, "ok"),
        (D2, 304, "not_modified"),
    ]
    assert article_urls(data_dir) == published
    assert second.rows_written["articles"] == 0
    assert polled_feed.server.hits("/news/bees.html") == 1
    assert sum(c.discovered for c in second.per_source) == 0


def test_rerun_of_an_earlier_date_keeps_its_articles(polled_feed: PolledFeed) -> None:
    """Rerunning D1 after D2 must not turn D2's validators into an empty D1 partition."""
    data_dir = polled_feed.data_dir
    assert nightly_ingest(run_date=D1, sources_file=polled_feed.sources).status == "completed"
    before = sql(data_dir, "SELECT url FROM articles WHERE run_date = ? ORDER BY url", [D1])
    assert len(before) == 2
    assert nightly_ingest(run_date=D2, sources_file=polled_feed.sources).status == "completed"

    rerun = nightly_ingest(run_date=D1, sources_file=polled_feed.sources)

    assert rerun.status == "completed", rerun.failures
    after = sql(data_dir, "SELECT url FROM articles WHERE run_date = ? ORDER BY url", [D1])
    assert after == before


def block_articles_partition(data_dir: Path, day: date) -> Callable[[], None]:
    """A file where the run's `articles` partition directory must go: its commit fails."""
    blocker = data_dir / "lake" / "articles" / f"run_date={day.isoformat()}"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a directory")
    return blocker.unlink


def missing_spacy_model(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """A model that is not installed: enrichment fails after discovery and fetching."""
    monkeypatch.setenv("NEWSFLOW_SPACY_MODEL", "no_such_model_installed")
    return lambda: monkeypatch.delenv("NEWSFLOW_SPACY_MODEL")


@pytest.mark.parametrize(
    ("failure", "error"),
    [("enrich", RuntimeError), ("publish", OSError)],
    ids=["enrich-fails", "commit-fails"],
)
def test_validators_advance_only_after_the_run_publishes(
    polled_feed: PolledFeed,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
    error: type[Exception],
) -> None:
    data_dir, feed, server = polled_feed.data_dir, polled_feed.feed, polled_feed.server
    assert nightly_ingest(run_date=D1, sources_file=polled_feed.sources).status == "completed"
    feed.etag, feed.last_modified = '"v2"', "Mon, 16 Oct 2023 06:00:00 GMT"
    feed.body = rss(server, ["/news/bees.html", "/news/macbeth.html", "/news/docks.html"])
    if failure == "enrich":
        repair = missing_spacy_model(monkeypatch)
    else:
        repair = block_articles_partition(data_dir, D2)

    with pytest.raises(error):
        nightly_ingest(run_date=D2, sources_file=polled_feed.sources)

    assert feed.seen[-1][0] == '"v1"'
    assert server.hits("/news/docks.html") == 1  # discovery saw v2 and its new item
    assert [row[0] for row in feed_log(data_dir, polled_feed.url)] == [D1]
    repair()

    third = nightly_ingest(run_date=D3, sources_file=polled_feed.sources)

    assert third.status == "completed", third.failures
    assert feed.seen[-1] == ('"v1"', "Sun, 15 Oct 2023 06:00:00 GMT")
    assert server.url("/news/docks.html") in article_urls(data_dir)
    fourth = nightly_ingest(run_date=D4, sources_file=polled_feed.sources)
    assert fourth.status == "completed", fourth.failures
    assert feed.seen[-1] == ('"v2"', "Mon, 16 Oct 2023 06:00:00 GMT")
    assert [row[:3] for row in feed_log(data_dir, polled_feed.url)][-1] == (
        D4,
        304,
        "not_modified",
    )


def test_backfill_fetches_each_dates_items_from_a_feed_with_validators(
    polled_feed: PolledFeed,
) -> None:
    server, feed = polled_feed.server, polled_feed.feed
    feed.body = rss(server, ["/news/bees.html", "/news/port.html"], days=[15, 16])

    summaries = backfill(start=D1, end=D2, sources_file=polled_feed.sources)

    assert [s.status for s in summaries] == ["completed", "completed"]
    published = dict(sql(polled_feed.data_dir, "SELECT url, run_date FROM articles"))
    assert published == {server.url("/news/bees.html"): D1, server.url("/news/port.html"): D2}


# ---------------------------------------------------------------- row 20


def refused_netloc() -> str:
    """A loopback host:port that nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@dataclass
class MixedRun:
    summary: RunSummary
    flow_run_id: UUID
    data_dir: Path
    urls: dict[str, str]  # source id -> feed URL
    articles: list[str]


@pytest.fixture(scope="module")
def mixed_run(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MixedRun]:
    tmp = tmp_path_factory.mktemp("mixed")
    with (
        LoopbackServer() as good,
        LoopbackServer() as bad,
        LoopbackServer() as down,
        pytest.MonkeyPatch.context() as mp,
    ):
        article_routes(good)
        articles = ["/news/bees.html", "/news/port.html"]
        good.route("/feed.xml", Reply(body=rss(good, articles), content_type=RSS))
        bad.route("/feed.xml", Reply(body=b"<html><p>this is not a feed", content_type=RSS))
        down.route("/feed.xml", Reply(status=503, body=b"down for maintenance"))
        refused = refused_netloc()
        urls = {
            "good": good.url("/feed.xml"),
            "missing": bad.url("/gone.xml"),
            "not-xml": bad.url("/feed.xml"),
            "refused": f"http://{refused}/feed.xml",
            "down": down.url("/feed.xml"),
        }
        data_dir = tmp / "data"
        flow_env(mp, data_dir, [good.netloc, bad.netloc, down.netloc, refused])
        sources = write_sources(tmp / "sources.toml", urls)
        state = nightly_ingest(run_date=D1, sources_file=sources, return_state=True)
        summary = state.result()
        assert isinstance(summary, RunSummary)
        flow_run_id = state.state_details.flow_run_id
        assert flow_run_id is not None
        yield MixedRun(summary, flow_run_id, data_dir, urls, [good.url(p) for p in articles])


def failures_of(run: MixedRun, source_id: str) -> list[str]:
    return [f for f in run.summary.failures if f.startswith(f"{source_id}:")]


def test_mixed_run_completes_with_failures_listed(mixed_run: MixedRun) -> None:
    assert mixed_run.summary.status == "completed_with_failures"
    assert failures_of(mixed_run, "good") == []
    assert failures_of(mixed_run, "missing") == ["missing: discovery: http_404"]
    [refused] = failures_of(mixed_run, "refused")
    assert refused.startswith("refused: discovery: ")
    assert "robots_unavailable" in refused  # robots.txt unreachable: nothing is fetched
    [down] = failures_of(mixed_run, "down")
    assert "http_5xx" in down
    assert sql(mixed_run.data_dir, "SELECT status FROM runs") == [("completed_with_failures",)]


def test_feed_that_is_not_xml_is_listed_as_a_failure(mixed_run: MixedRun) -> None:
    assert len(failures_of(mixed_run, "not-xml")) == 1


def test_failure_lists_the_feeds_reason_not_the_robots_txt_status(mixed_run: MixedRun) -> None:
    assert failures_of(mixed_run, "down") == ["down: discovery: http_5xx"]


def test_bad_sources_leave_their_reasons_in_the_warehouse(mixed_run: MixedRun) -> None:
    logged = dict(
        sql(
            mixed_run.data_dir,
            "SELECT source_id, reason FROM fetch_log WHERE purpose = 'feed'",
        )
    )
    assert logged["good"] == "ok"
    assert logged["missing"] == "http_404"
    assert logged["down"] == "http_5xx"
    assert logged.get("refused", "no row") not in ("ok", "no row")
    assert sql(
        mixed_run.data_dir, "SELECT source_id, stage, reason, url FROM rejected ORDER BY 1"
    ) == [("not-xml", "discover", "parse_error", mixed_run.urls["not-xml"])]


def test_good_source_is_published_despite_the_bad_ones(mixed_run: MixedRun) -> None:
    assert article_urls(mixed_run.data_dir) == sorted(mixed_run.articles)
    assert sql(mixed_run.data_dir, "SELECT DISTINCT source_id FROM articles") == [("good",)]


def read_artifacts(flow_run_id: UUID) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in artifacts if a.key}


EXPECTED_COUNTS = {
    # source: (discovered, fetched, new, duplicate, rejected)
    "good": (2, 2, 2, 0, 0),
    "missing": (0, 0, 0, 0, 0),
    "not-xml": (1, 0, 0, 0, 1),
    "refused": (0, 0, 0, 0, 0),
    "down": (0, 0, 0, 0, 0),
}


def test_summary_counts_each_source(mixed_run: MixedRun) -> None:
    counts = {
        c.source_id: (c.discovered, c.fetched, c.new, c.duplicate, sum(c.rejected.values()))
        for c in mixed_run.summary.per_source
    }
    assert counts == EXPECTED_COUNTS
    rejected = {c.source_id: c.rejected for c in mixed_run.summary.per_source}
    assert rejected["not-xml"] == {"parse_error": 1}


def test_per_source_counts_artifact_carries_the_counts(mixed_run: MixedRun) -> None:
    artifact = read_artifacts(mixed_run.flow_run_id)["per-source-counts"]
    assert artifact.type == "table"
    data = artifact.data
    rows = json.loads(data) if isinstance(data, str) else data
    table = {
        r["source"]: (r["discovered"], r["fetched"], r["new"], r["duplicate"], r["rejected"])
        for r in rows
    }
    assert table == EXPECTED_COUNTS
    by_reason = {r["source"]: r["rejected by reason"] for r in rows}
    assert by_reason["not-xml"] == "parse_error=1"


def test_run_report_artifact_names_status_rows_and_failures(mixed_run: MixedRun) -> None:
    artifact = read_artifacts(mixed_run.flow_run_id)["run-report"]
    assert artifact.type == "markdown"
    text = str(artifact.data)
    assert "**completed_with_failures**" in text
    assert "| articles | 2 |" in text
    for failure in mixed_run.summary.failures:
        assert f"- {failure}" in text
    assert "- good:" not in text


# RELIABILITY row 24: the Prefect state tells a run with failed sources from a clean one, and
# an event names each failed source; both read back through the Prefect API.


def test_flow_run_state_read_through_the_api_is_completed_with_failures(
    mixed_run: MixedRun,
) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(mixed_run.flow_run_id).state
    assert state is not None
    assert state.type.value == "COMPLETED"
    assert state.name == "Completed with failures"
    assert "missing: discovery: http_404" in (state.message or "")
    assert "good:" not in (state.message or "")


def source_failed_events(flow_run_id: UUID, wanted: int) -> dict[str, dict[str, Any]]:
    """The `newsflow.source.failed` events related to a flow run, by source id.

    Events travel through Prefect's events worker: wait (bounded) until all have arrived.
    """
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    event_filter = EventFilter(
        event=EventNameFilter(name=["newsflow.source.failed"]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    found: dict[str, dict[str, Any]] = {}
    for _ in range(60):
        with get_client(sync_client=True) as client:
            page = client.read_events(filter=event_filter, limit=50)
        found = {e.resource["prefect.resource.name"]: e.payload for e in page.events}
        if len(found) >= wanted:
            break
        time.sleep(0.5)
    return found


def test_each_failed_source_emits_an_event_naming_it(mixed_run: MixedRun) -> None:
    events = source_failed_events(mixed_run.flow_run_id, wanted=4)
    assert sorted(events) == ["down", "missing", "not-xml", "refused"]
    assert events["missing"]["problem"] == "discovery: http_404"
    assert events["missing"]["run_id"] == mixed_run.summary.run_id


def test_a_run_in_which_every_source_fails_is_failed_and_still_publishes_why(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import NothingIngested

    with LoopbackServer() as bad:
        urls = {"missing": bad.url("/gone.xml"), "empty": bad.url("/empty.xml")}
        bad.route("/empty.xml", Reply(body=b"<rss><channel></channel></rss>", content_type=RSS))
        flow_env(monkeypatch, tmp_path / "data", [bad.netloc])
        sources = write_sources(tmp_path / "sources.toml", urls)
        state = nightly_ingest(run_date=D1, sources_file=sources, return_state=True)
        assert state.is_failed()
        with pytest.raises(NothingIngested, match="every source failed"):
            nightly_ingest(run_date=D2, sources_file=sources)
    error = state.result(raise_on_failure=False)
    assert isinstance(error, NothingIngested)
    assert error.summary.status == "failed"
    assert sorted(f.split(":")[0] for f in error.summary.failures) == ["empty", "missing"]
    assert sql(tmp_path / "data", "SELECT DISTINCT status FROM runs") == [("failed",)]
    query = "SELECT source_id, reason FROM rejected WHERE run_date = ?"
    reasons = sql(tmp_path / "data", query, [D1])
    assert reasons == [("empty", "no_items")]
