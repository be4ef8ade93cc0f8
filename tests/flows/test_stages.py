"""A run as the Prefect UI shows it: its graph (`flows/stages.py`), the progress of its stages
while it works and its report once it is published (`flows/report.py`), read back through the
Prefect client from runs of a small loopback site under Prefect's test harness.

The site: source `alpha` lists three sample-site stories and a page that is gone; source
`beta` lists a story, a copy of one of alpha's stories under its own canonical URL, and an
index page. Batches hold two URLs, so each batched stage runs more than once.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flowenv import environment
from servers import LoopbackServer, Reply, Request

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary
from flows.settings import SEEDS_DIR

D1, D2 = date(2023, 10, 15), date(2023, 10, 16)
SITE = SEEDS_DIR / "sample_site" / "daily-courier"
PAGES = {  # path on the loopback server -> a daily-courier page of the sample site
    "/news/bees.html": "science/2023/09/21/wild-bees-in-decline-across-southern-england-"
    "survey-finds.html",
    "/news/port.html": "world/2023/10/06/chilean-port-strike-leaves-fishing-fleets-idle.html",
    "/news/macbeth.html": "culture/2023/10/11/macbeth-review-courtyard-theatre-norwich.html",
    "/news/docks.html": "culture/2023/10/02/lost-victorian-photographs-of-liverpool-docks-"
    "go-on-display.html",
    "/news/rower.html": "sport/2023/10/08/yorkshire-rower-completes-solo-atlantic-crossing-in-"
    "52-days.html",
    "/news/index.html": "index.html",
}
ALPHA = ["/news/bees.html", "/news/port.html", "/news/macbeth.html", "/news/gone.html"]
BETA = ["/news/docks.html", "/wire/bees.html", "/news/index.html"]
STAGES = {  # task runs of the first run, written out: one per source, run or batch of 2 URLs
    "discover": 2,
    "frontier": 1,
    "fetch-batch": 4,
    "extract-batch": 4,
    "clean-batch": 4,
    "dedupe": 1,
    "enrich-batch": 3,
    "publish": 1,
}


def rss(server: LoopbackServer, paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Story {n}</title><link>{server.url(p)}</link>"
        f"<guid>{server.url(p)}</guid><pubDate>15 Oct 2023 0{n}:00:00 GMT</pubDate></item>"
        for n, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Loopback</title><link>{server.url('/')}</link>"
        f"<description>test feed</description>{items}</channel></rss>"
    ).encode()


def read_progress(flow_run_id: UUID | None = None) -> dict[str, tuple[UUID | None, float, str]]:
    """stage -> (flow run, progress, description) of the newest progress artifact of each
    stage (of one flow run, when given)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterType,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    wanted = ArtifactFilter(
        type=ArtifactFilterType(any_=["progress"]),
        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]) if flow_run_id else None,
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=wanted, sort=ArtifactSort.CREATED_DESC, limit=20
        )
    found: dict[str, tuple[UUID | None, float, str]] = {}
    for artifact in artifacts:
        description = artifact.description or ""
        stage = description.split(":")[0]
        found.setdefault(stage, (artifact.flow_run_id, float(str(artifact.data)), description))
    return found


def read_artifacts(flow_run_id: UUID) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in artifacts if a.key}


def table(artifact: Any) -> list[dict[str, Any]]:
    data = artifact.data
    rows = json.loads(data) if isinstance(data, str) else data
    assert isinstance(rows, list)
    return rows


@dataclass
class Site:
    """The loopback site, and what its runs gave."""

    server: LoopbackServer
    data_dir: Path
    feeds: dict[str, list[str]]
    runs: dict[str, tuple[RunSummary, UUID]] = field(default_factory=dict)
    seen_while_fetching: dict[str, tuple[UUID | None, float, str]] = field(default_factory=dict)

    def feed(self, source: str) -> Reply:
        body = rss(self.server, self.feeds[source])
        return Reply(body=body, content_type="application/rss+xml")

    def run(self, label: str, run_date: date) -> None:
        state = nightly_ingest(run_date=run_date, return_state=True)
        summary = state.result()
        assert isinstance(summary, RunSummary)
        assert state.state_details.flow_run_id is not None
        self.runs[label] = (summary, state.state_details.flow_run_id)


def write_sources(path: Path, server: LoopbackServer, ids: list[str]) -> Path:
    path.write_text(
        "".join(
            f'[[source]]\nid = "{sid}"\nkind = "feed"\nlocation = "{server.url(f"/{sid}.xml")}"\n\n'
            for sid in ids
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def site(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Run the site for D1; then for D2 with a new story on alpha, once with both sources and
    once with alpha alone (two runs of one date)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    tmp = tmp_path_factory.mktemp("stages")
    api = PREFECT_API_URL.value()
    with LoopbackServer() as server:
        base = server.url("").rstrip("/").encode()
        for path, name in PAGES.items():
            body = (SITE / name).read_bytes().replace(b"{{site:daily-courier}}", base)
            server.route(path, Reply(body=body))
        copy = (
            (SITE / PAGES["/news/bees.html"]).read_bytes().replace(b"{{site:daily-courier}}", base)
        )
        canonical = re.compile(rb'(<link rel="canonical" href=")[^"]*(")')
        server.route(
            "/wire/bees.html", Reply(body=canonical.sub(rb"\g<1>%s/wire/bees.html\2" % base, copy))
        )
        site = Site(server, tmp / "data", {"alpha": list(ALPHA), "beta": list(BETA)})

        def index_page(request: Request) -> Reply:
            # Fetched in a later batch than alpha's URLs: what the progress said meanwhile.
            if not site.seen_while_fetching:
                with temporary_settings(updates={PREFECT_API_URL: api}):
                    site.seen_while_fetching = read_progress()
            body = (SITE / "index.html").read_bytes().replace(b"{{site:daily-courier}}", base)
            return Reply(body=body)

        server.route("/news/index.html", index_page)
        for source in site.feeds:
            server.route(f"/{source}.xml", lambda request, s=source: site.feed(s))
        settings = {
            "NEWSFLOW_DATA_DIR": str(site.data_dir),
            "NEWSFLOW_SOURCES_FILE": str(
                write_sources(tmp / "both.toml", server, ["alpha", "beta"])
            ),
            "NEWSFLOW_BATCH_SIZE": "2",
            "NEWSFLOW_PER_HOST_DELAY_S": "0.01",
            "NEWSFLOW_ALLOW_PRIVATE_HOSTS": json.dumps([server.netloc]),
        }
        with environment(settings):
            site.run("first", D1)
            site.feeds["alpha"].append("/news/rower.html")
            site.run("second", D2)
            alone = write_sources(tmp / "alpha.toml", server, ["alpha"])
            with environment({"NEWSFLOW_SOURCES_FILE": str(alone)}):
                site.run("alpha alone", D2)
        yield site


def test_the_runs_graph_has_one_task_per_stage_per_batch(site: Site) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    _, flow_run_id = site.runs["first"]
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    stages = Counter(run.name.rsplit("-", 1)[0] for run in task_runs)
    assert stages == STAGES
    assert {run.state_type.value for run in task_runs if run.state_type} == {"COMPLETED"}


def test_the_first_run_counts_what_the_site_offers(site: Site) -> None:
    summary, _ = site.runs["first"]
    counts = {
        c.source_id: (c.discovered, c.fetched, c.new, c.duplicate, c.rejected)
        for c in summary.per_source
    }
    assert counts == {
        "alpha": (4, 3, 3, 0, {"http_404": 1}),
        "beta": (3, 3, 1, 1, {"not_article": 1}),
    }


def test_progress_was_shown_while_the_run_fetched(site: Site) -> None:
    _, flow_run_id = site.runs["first"]
    seen = site.seen_while_fetching
    for stage in ("fetch", "extract"):
        run, progress, description = seen[stage]
        assert run == flow_run_id
        match = re.fullmatch(rf"{stage}: (\d+) of 7 URLs", description)
        assert match is not None, description
        done = int(match.group(1))
        assert 0 < done < 7, description  # some batches were through, not all
        assert progress == pytest.approx(100 * done / 7)


def test_progress_of_each_batched_stage_ends_at_100(site: Site) -> None:
    _, flow_run_id = site.runs["first"]
    progress = read_progress(flow_run_id)
    assert {stage: (p, d) for stage, (_, p, d) in progress.items()} == {
        "fetch": (100.0, "fetch: 7 of 7 URLs"),
        "extract": (100.0, "extract: 7 of 7 URLs"),
        "enrich": (100.0, "enrich: 4 of 4 articles"),
    }


def test_run_report_has_counts_reasons_and_duplicates_per_source(site: Site) -> None:
    _, flow_run_id = site.runs["first"]
    report = read_artifacts(flow_run_id)["run-report"]
    assert report.type == "markdown"
    text = str(report.data)
    assert "- status: **completed**" in text
    bar = "█" * 20
    assert f"| alpha | 4 | 3 | 3 | 0 | 1 | {bar} |" in text
    assert f"| beta | 3 | 3 | 1 | 1 | 1 | {'█' * 7} |" in text  # 1/3 of the longest bar
    assert "| alpha | http_404 | 1 |" in text
    assert "| beta | not_article | 1 |" in text
    assert "1 of the 5 articles stored repeat a story (beta 1)." in text
    assert "| articles | 5 |" in text


def test_run_report_sql_shows_the_runs_rows(site: Site) -> None:
    _, flow_run_id = site.runs["first"]
    text = str(read_artifacts(flow_run_id)["run-report"].data)
    commands = re.findall(r"^(newsflow .+)$", text, re.M)
    assert len(commands) == 4
    answers = []
    for command in commands:
        argv = shlex.split(command)
        newsflow = Path(sys.executable).with_name(argv[0])
        done = subprocess.run(
            [str(newsflow), *argv[1:], "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        )
        answers.append(json.loads(done.stdout))
    articles, rejected, duplicates, failed = answers
    url = site.server.url
    assert sorted(r["url"] for r in articles) == sorted(
        url(p)
        for p in ["/news/bees.html", "/news/port.html", "/news/macbeth.html", "/news/docks.html"]
    )
    assert sorted((r["source_id"], r["reason"], r["url"]) for r in rejected) == [
        ("alpha", "http_404", url("/news/gone.html")),
        ("beta", "not_article", url("/news/index.html")),
    ]
    assert [(r["source_id"], r["url"], r["original_url"]) for r in duplicates] == [
        ("beta", url("/wire/bees.html"), url("/news/bees.html"))
    ]
    assert [(r["source_id"], r["url"], r["reason"]) for r in failed] == [
        ("alpha", url("/news/gone.html"), "http_404")
    ]


def test_per_source_counts_table_is_kept(site: Site) -> None:
    _, flow_run_id = site.runs["first"]
    rows = table(read_artifacts(flow_run_id)["per-source-counts"])
    assert [(r["source"], r["new"], r["rejected by reason"]) for r in rows] == [
        ("alpha", 3, "http_404=1"),
        ("beta", 1, "not_article=1"),
    ]


def test_articles_per_source_chart_has_one_row_per_run_date(site: Site) -> None:
    _, first = site.runs["first"]
    assert table(read_artifacts(first)["articles-per-source"]) == [
        {"run date": "2023-10-15", "alpha": 3, "beta": 1}
    ]
    _, last = site.runs["alpha alone"]  # the second run of D2: one row for the date
    assert table(read_artifacts(last)["articles-per-source"]) == [
        {"run date": "2023-10-15", "alpha": 3, "beta": 1},
        {"run date": "2023-10-16", "alpha": 1, "beta": 0},
    ]
