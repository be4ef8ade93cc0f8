"""Source health end to end: nightly runs against a loopback site, read back from the
warehouse (`source_runs`, `source_health`) and from Prefect's events API.

Three sources on one loopback site, three nightly runs:
- `steady` publishes three new stories every night, and one story for subscribers the first
  night (a `paywall` rejection, fetched again every night): clean, no problem, no event;
- `quiet` publishes three stories the first night and nothing after: with
  `silent_after_days = 2` it is silent on the third night, not before;
- `shifty` publishes three stories a night, but on the third night its template changes:
  two pages carry only a teaser (a short body) and one is an empty JavaScript shell
  (`not_article`): it has drifted on the third night;
- `broken`'s feed answers 404 every night: it is failing, three runs in a row.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from servers import LoopbackServer, Reply

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary
from warehouse.checks import failed_checks

NIGHTS = [date(2024, 5, d) for d in (6, 7, 8)]
RSS = "application/rss+xml"
VOCABULARY = (
    "council harbour budget river school market library bridge festival railway hospital museum "
    "garden station village mayor teacher farmer engineer nurse volunteer court weather ferry "
    "district plan vote report project repair opening closure funding residents visitors traffic "
    "season shop trail tower park road water energy housing survey award"
)
WORDS = VOCABULARY.split()


def sentences(seed: str, count: int) -> list[str]:
    """`count` sentences of 8 to 14 words, the same for the same seed."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize() + "."
        for _ in range(count)
    ]


def story_page(title: str, seed: str) -> bytes:
    """An article page of six paragraphs (about 200 words)."""
    paragraphs = "".join(
        f"<p>{' '.join(sentences(f'{seed}/{n}', 3))}</p>" for n in range(6)
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta property="og:type" content="article"></head><body><header><nav>'
        '<a href="/">Home</a></nav></header><main><article>'
        f'<h1>{title}</h1><p class="byline">By Ann Writer</p>{paragraphs}</article></main>'
        "<footer>Test Gazette</footer></body></html>"
    ).encode()


def teaser_page(title: str, seed: str) -> bytes:
    """The new template: the story is rendered by a script; the page holds a teaser only."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta property="og:type" content="article"></head><body><div id="root">'
        f"<h1>{title}</h1><p>{' '.join(sentences(seed, 3))}</p></div>"
        '<script src="/static/app.js"></script>'
        "<noscript>Please enable JavaScript to read this story.</noscript></body></html>"
    ).encode()


def paywall_page(title: str, seed: str) -> bytes:
    """A story for subscribers: a teaser that extraction rejects as `paywall`."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        f'"@type": "NewsArticle", "headline": "{title}", "isAccessibleForFree": false}}'
        "</script></head><body><main><article>"
        f"<h1>{title}</h1><p>{' '.join(sentences(seed, 3))}</p>"
        f"<p>{' '.join(sentences(seed + '/2', 2))}</p>"
        '<div class="locked"><p>Subscribe to continue reading this article.</p></div>'
        "</article></main></body></html>"
    ).encode()


def shell_page(title: str) -> bytes:
    """The new template with nothing rendered at all."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '</head><body><div id="root"></div><script src="/static/app.js"></script>'
        "<noscript>Please enable JavaScript to read this story.</noscript></body></html>"
    ).encode()


@dataclass
class Site:
    """One loopback server holding every source's feed and pages; feeds grow night by night."""

    server: LoopbackServer
    items: dict[str, list[tuple[str, date]]] = field(default_factory=dict)

    def publish(self, source: str, night: date, pages: list[bytes]) -> None:
        items = self.items.setdefault(source, [])
        for body in pages:
            path = f"/{source}/{night.isoformat()}/{len(items)}.html"
            self.server.route(path, Reply(body=body))
            items.append((path, night))
        self.server.route(f"/{source}/feed.xml", Reply(body=self.feed(source), content_type=RSS))

    def feed(self, source: str) -> bytes:
        items = "".join(
            f"<item><title>{path}</title><link>{self.server.url(path)}</link>"
            f"<guid>{self.server.url(path)}</guid>"
            f"<pubDate>{night.strftime('%d %b %Y')} 06:00:00 GMT</pubDate></item>"
            for path, night in self.items.get(source, [])
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{source}</title><link>{self.server.url('/')}</link>"
            f"<description>test feed</description>{items}</channel></rss>"
        ).encode()

    def stories(self, source: str, night: date) -> list[bytes]:
        return [story_page(f"{source} story {n}", f"{source}/{night}/{n}") for n in range(3)]


@dataclass
class Nights:
    data_dir: Path
    summaries: list[RunSummary]
    flow_runs: list[UUID]


def write_sources(path: Path, site: Site) -> None:
    feed = site.server.url
    path.write_text(
        f'[[source]]\nid = "steady"\nkind = "feed"\nlocation = "{feed("/steady/feed.xml")}"\n\n'
        f'[[source]]\nid = "quiet"\nkind = "feed"\nlocation = "{feed("/quiet/feed.xml")}"\n'
        "silent_after_days = 2\n\n"
        f'[[source]]\nid = "shifty"\nkind = "feed"\nlocation = "{feed("/shifty/feed.xml")}"\n\n'
        f'[[source]]\nid = "broken"\nkind = "feed"\nlocation = "{feed("/broken/feed.xml")}"\n',
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def nights(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nights]:
    tmp = tmp_path_factory.mktemp("health")
    data_dir = tmp / "data"
    with LoopbackServer() as server, pytest.MonkeyPatch.context() as mp:
        site = Site(server)
        write_sources(tmp / "sources.toml", site)
        mp.setenv("NEWSFLOW_SOURCES_FILE", str(tmp / "sources.toml"))
        mp.setenv("NEWSFLOW_DATA_DIR", str(data_dir))
        mp.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0.01")
        mp.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([server.netloc]))
        mp.setenv("NEWSFLOW_MAX_RETRIES", "1")
        summaries, flow_runs = [], []
        for index, night in enumerate(NIGHTS):
            site.publish("steady", night, site.stories("steady", night))
            if index == 0:
                site.publish("steady", night, [paywall_page("Members only", "paywall")])
                site.publish("quiet", night, site.stories("quiet", night))
            if index < 2:
                site.publish("shifty", night, site.stories("shifty", night))
            else:  # the template change
                site.publish(
                    "shifty",
                    night,
                    [
                        teaser_page("shifty teaser 0", f"shifty/{night}/0"),
                        teaser_page("shifty teaser 1", f"shifty/{night}/1"),
                        shell_page("shifty shell"),
                    ],
                )
            state = nightly_ingest(run_date=night, return_state=True)
            summary = state.result()
            assert isinstance(summary, RunSummary)
            assert summary.status == "completed_with_failures"
            assert summary.failures == ("broken: discovery: http_404",)
            assert state.state_details.flow_run_id is not None
            summaries.append(summary)
            flow_runs.append(state.state_details.flow_run_id)
        yield Nights(data_dir, summaries, flow_runs)


def sql(data_dir: Path, query: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        cursor = con.execute(query)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_events(names: list[str], flow_runs: list[UUID]) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    event_filter = EventFilter(
        event=EventNameFilter(name=names),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{r}" for r in flow_runs]),
    )
    with get_client(sync_client=True) as client:
        return list(client.read_events(filter=event_filter, limit=50).events)


def health_events(flow_runs: list[UUID]) -> list[tuple[str, str, UUID, dict[str, Any]]]:
    """(source, event, flow run, payload) of every silent or drifted event of these runs.

    Events travel through this process's events worker, in the order they were emitted: a
    marker event emitted now arrives after every event the runs emitted, so once it can be
    read back, so can all of theirs (bounded wait).
    """
    from prefect.events import emit_event

    marker = f"marker-{time.monotonic_ns()}"
    emit_event(
        event="newsflow.test.marker",
        resource={"prefect.resource.id": f"newsflow.test.{marker}"},
        related=[
            {
                "prefect.resource.id": f"prefect.flow-run.{flow_runs[-1]}",
                "prefect.resource.role": "flow-run",
            }
        ],
    )
    for _ in range(120):
        if any(
            e.resource.id == f"newsflow.test.{marker}"
            for e in read_events(["newsflow.test.marker"], flow_runs)
        ):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the marker event never arrived")
    events = read_events(["newsflow.source.silent", "newsflow.source.drifted"], flow_runs)
    return sorted(
        (
            e.resource["prefect.resource.name"],
            e.event,
            next(UUID(r.id.split(".")[-1]) for r in e.related if r.role == "flow-run"),
            e.payload,
        )
        for e in events
    )


def test_a_silent_and_a_drifted_source_each_emit_one_event_on_the_night_they_turn(
    nights: Nights,
) -> None:
    events = health_events(nights.flow_runs)
    third_night = nights.flow_runs[2]
    assert [(s, e, run) for s, e, run, _ in events] == [
        ("quiet", "newsflow.source.silent", third_night),
        ("shifty", "newsflow.source.drifted", third_night),
    ]
    payloads = {source: payload for source, _, _, payload in events}
    quiet, shifty = payloads["quiet"], payloads["shifty"]
    assert quiet["run_id"] == nights.summaries[2].run_id
    assert (quiet["days_silent"], quiet["silent_after_days"]) == (2, 2)
    assert quiet["last_article_run_date"] == "2024-05-06"
    assert quiet["problem"].startswith("silent: no new article since run date 2024-05-06, 2 days")
    assert (shifty["latest_share"], shifty["history_share"]) == (1.0, 0.0)
    assert (shifty["latest_pages"], shifty["history_runs"], shifty["drift_share"]) == (3, 2, 0.3)
    assert shifty["problem"].startswith("drifted: 100% of 3 pages were not_article or shorter")


def test_source_health_names_each_problem_and_none_for_the_clean_source(nights: Nights) -> None:
    rows = {r["source_id"]: r for r in sql(nights.data_dir, "SELECT * FROM source_health")}
    assert {s: r["problem"] for s, r in rows.items()} == {
        "steady": None,
        "quiet": "silent",
        "shifty": "drifted",
        "broken": "failing",
    }
    assert {s: r["days_silent"] for s, r in rows.items()} == {
        "steady": 0,
        "quiet": 2,
        "shifty": 0,
        "broken": 2,  # never had an article: counted from its first run
    }
    assert rows["quiet"]["last_article_run_date"] == NIGHTS[0]
    assert rows["steady"]["latest_share"] == 0.0
    assert {s: r["failures_in_a_row"] for s, r in rows.items()} == {
        "steady": 0,
        "quiet": 0,
        "shifty": 0,
        "broken": 3,
    }


def test_source_runs_count_each_nights_pages_per_source(nights: Nights) -> None:
    rows = sql(
        nights.data_dir,
        "SELECT run_date, source_id, discovered, fetched, articles, extracted, not_article,"
        " short_bodies, failed FROM source_runs WHERE source_id <> 'broken'"
        " ORDER BY run_date, source_id",
    )
    table = {(r["run_date"], r["source_id"]): tuple(list(r.values())[2:]) for r in rows}
    d1, d2, d3 = NIGHTS
    # (discovered, fetched, articles, extracted, not_article, short_bodies, failed)
    assert table == {
        (d1, "quiet"): (3, 3, 3, 3, 0, 0, False),
        (d1, "shifty"): (3, 3, 3, 3, 0, 0, False),
        (d1, "steady"): (4, 4, 3, 4, 0, 0, False),  # the paywalled page: extracted, rejected
        (d2, "quiet"): (3, 0, 0, 0, 0, 0, False),  # the same three items, already stored
        (d2, "shifty"): (6, 3, 3, 3, 0, 0, False),
        (d2, "steady"): (7, 4, 3, 4, 0, 0, False),
        (d3, "quiet"): (3, 0, 0, 0, 0, 0, False),
        (d3, "shifty"): (9, 3, 2, 3, 1, 2, False),  # two teasers stored, one shell rejected
        (d3, "steady"): (10, 4, 3, 4, 0, 0, False),
    }
    summary = {c.source_id: c.new for c in nights.summaries[2].per_source}
    assert summary == {"steady": 3, "quiet": 0, "shifty": 2, "broken": 0}
    broken = sql(
        nights.data_dir,
        "SELECT failed, problem, count(*) AS runs FROM source_runs"
        " WHERE source_id = 'broken' GROUP BY ALL",
    )
    assert broken == [{"failed": True, "problem": "discovery: http_404", "runs": 3}]


def test_the_warehouse_passes_its_data_checks_after_the_nights(nights: Nights) -> None:
    with duckdb.connect(str(nights.data_dir / "newsflow.duckdb"), read_only=True) as con:
        assert failed_checks(con) == {}


def test_rerunning_the_third_night_replaces_its_source_runs(nights: Nights) -> None:
    query = "SELECT * EXCLUDE (finished_at) FROM source_runs ORDER BY run_date, source_id"
    before = sql(nights.data_dir, query)
    assert len(before) == 12

    nightly_ingest(run_date=NIGHTS[2])

    assert sql(nights.data_dir, query) == before
    rows = sql(nights.data_dir, "SELECT source_id, problem FROM source_health ORDER BY 1")
    assert rows == [
        {"source_id": "broken", "problem": "failing"},
        {"source_id": "quiet", "problem": "silent"},
        {"source_id": "shifty", "problem": "drifted"},
        {"source_id": "steady", "problem": None},
    ]


def test_an_earlier_night_run_again_emits_no_health_event(nights: Nights) -> None:
    state = nightly_ingest(run_date=NIGHTS[0] - timedelta(days=1), return_state=True)
    flow_run = state.state_details.flow_run_id
    assert flow_run is not None
    assert health_events([flow_run]) == []


def test_a_warehouse_that_cannot_be_read_back_is_logged_and_the_run_ends(
    prefect_harness: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Reporting comes after publication: an unreadable file makes a warning, not a failure."""
    from datetime import UTC, datetime

    from prefect import flow

    from flows.health import report_health
    from flows.pipeline import RunPlan
    from tasks.records import RunContext, Source

    broken = tmp_path / "lake" / "source_runs" / "run_date=2024-05-08" / "ingest-x.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet at all")
    context = RunContext("ingest-x@2024-05-08", NIGHTS[2], datetime.now(UTC), "ingest-x")
    plan = RunPlan("nightly-ingest", context, (Source("quiet", "feed", "http://a.test/f"),), "")
    summary = RunSummary(
        context.run_id, "2024-05-08", "completed", str(tmp_path), "", {}, ()
    )

    @flow
    def report() -> str:
        report_health(summary, plan)
        return "ended"

    assert report() == "ended"
    assert "Run ingest-x@2024-05-08 is published, but its source health was not reported" in (
        caplog.text
    )


def test_the_run_report_of_the_night_they_turn_names_the_silent_and_drifted_sources(
    nights: Nights,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    def report(flow_run: UUID) -> str:
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run]))
            )
        (artifact,) = [a for a in found if a.key == "run-report"]
        return str(artifact.data)

    third = report(nights.flow_runs[2])
    assert "Source health" in third
    assert "quiet: silent" in third
    assert "shifty: drifted" in third
    assert "steady" not in third.split("Source health", 1)[1].split("##", 1)[0]
    first = report(nights.flow_runs[0])  # only the broken feed had a problem on night 1
    assert "broken: failing" in first
    assert "quiet:" not in first
    assert "shifty:" not in first
