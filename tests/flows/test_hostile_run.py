"""A full nightly run whose sources point at hostile loopback servers (issue 4, RELIABILITY 20).

One feed on a hostile host links to pages that fail once (500, a TCP reset, 429 with
Retry-After), a 404, a slow drip, a 500 MB Content-Length, a chunked body past the cap, gzip
and deflate bombs, a PDF and an image, a redirect loop, more than 5 redirects, redirects to the
cloud metadata address and to a loopback port that is not allowed, the host itself spelled
as `localhost` and `0x7f000001`, private and loopback addresses, `file:///etc/passwd`, a
path robots.txt disallows, an answer that is not HTTP, a page on a second host whose
robots.txt answers 503, and one good article. The run must complete, publish the good
articles, and account for every other URL with its reason in `fetch_log` and `rejected`.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from flowenv import environment
from servers import LoopbackServer, Reply, deflate_bomb, gzip_bomb, redirect, robots

from flows.ingest import nightly_ingest
from flows.pipeline import RunSummary
from tasks.fetch import REASONS

RUN_DATE = date(2023, 10, 15)
SITE = Path(__file__).resolve().parents[2] / "seeds" / "sample_site" / "daily-courier"
GOOD = SITE / "science/2023/09/21/wild-bees-in-decline-across-southern-england-survey-finds.html"
FLAKY = SITE / "business/2023/09/27/crumb-and-co-to-open-40-shops-despite-cost-pressures.html"
RESET = SITE / "culture/2023/10/11/macbeth-review-courtyard-theatre-norwich.html"
BUSY = SITE / "business/2023/10/13/energy-regulator-orders-supplier-to-repay-12m-to-customers.html"
LEDGER = SITE.parent / "metro-ledger"
PACED = [
    LEDGER / "business/kessler-hardware-to-close-after-91-years-on-main-street-274356.html",
    LEDGER / "news/weather/fall-storm-knocks-out-power-to-30000-customers-274519.html",
]
CRAWL_DELAY = 0.6  # the paced source's crawl_delay in the sources file
METADATA = "http://169.254.169.254/latest/meta-data/"
REFUSED_BY_DISCOVERY = [
    ("file:///etc/passwd", "blocked_address"),
    ("gopher://ex.org/1", "blocked_address"),
]

# path on the hostile host -> the reason its fetch_log row must carry
HOSTILE = {
    "/news/flaky": "ok",
    "/news/good": "ok",
    "/news/reset": "ok",
    "/news/busy": "ok",
    "/news/missing": "http_404",
    "/news/drip": "timeout",
    "/news/huge": "too_large",
    "/news/chunked": "too_large",
    "/news/bomb": "too_large",
    "/news/deflate": "too_large",
    "/files/report.pdf": "non_html",
    "/files/photo.png": "non_html",
    "/news/loop-a": "redirect_loop",
    "/news/hop/0": "too_many_redirects",
    "/news/metadata": "blocked_address",
    "/news/to-loopback": "blocked_address",
    "/private/secret": "robots",
    "/news/not-http": "protocol_error",
}
# fetched on the second attempt: path -> attempts
RETRIED = {"/news/flaky": 2, "/news/reset": 2, "/news/busy": 2}


@dataclass(frozen=True)
class Hosts:
    hostile: LoopbackServer
    closed: LoopbackServer  # robots.txt answers 503
    paced: LoopbackServer  # a well-behaved host whose source sets a crawl_delay

    def paced_urls(self) -> list[str]:
        return [self.paced.url(f"/story/{i}") for i in range(len(PACED))]

    def refused_spellings(self) -> list[str]:
        """Links to the allowed server, or to private space, that the allowance does not cover."""
        port = self.hostile.port
        return [
            f"http://localhost:{port}/news/good",
            f"http://0x7f000001:{port}/news/good",
            f"http://2130706433:{port}/news/good",
            f"http://[::1]:{port}/news/good",
            "http://10.0.0.5/news/a",
            "http://169.254.169.254/latest/meta-data/",
        ]

    def expected(self) -> dict[str, str]:
        """The reason of each article URL of the hostile source."""
        want = {self.hostile.url(path): reason for path, reason in HOSTILE.items()}
        want[self.closed.url("/news/story")] = "robots_unavailable"
        want.update(dict.fromkeys(self.refused_spellings(), "blocked_address"))
        return want


def _feed(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>{link}</link>"
        "<pubDate>Sun, 15 Oct 2023 06:00:00 +0000</pubDate></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Hostile</title>{items}</channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    with LoopbackServer() as hostile, LoopbackServer() as closed, LoopbackServer() as paced:
        routes: dict[str, Any] = {
            "/robots.txt": robots("User-agent: *\nDisallow: /private/\n"),
            "/news/good": Reply(body=GOOD.read_bytes()),
            "/news/flaky": [Reply(status=500, body=b"oops"), Reply(body=FLAKY.read_bytes())],
            "/news/reset": [Reply(reset=True), Reply(body=RESET.read_bytes())],
            "/news/busy": [
                Reply(status=429, headers=(("Retry-After", "1"),)),
                Reply(body=BUSY.read_bytes()),
            ],
            "/news/chunked": Reply(body=b"<p>" + b"x" * 65536, repeat=20, chunked=True),
            "/news/deflate": deflate_bomb(20 * 1024 * 1024),
            "/files/photo.png": Reply(body=b"\x89PNG\r\n\x1a\n", content_type="image/png"),
            "/news/to-loopback": redirect("http://127.0.0.1:1/admin"),
            "/news/not-http": Reply(raw=b"SSH-2.0-OpenSSH_9.6\r\n"),
            "/news/drip": Reply(body=b"<html>" + b"x" * 200, drip=0.5),
            "/news/huge": Reply(body=b"<html>", content_length=500 * 1024 * 1024),
            "/news/bomb": gzip_bomb(20 * 1024 * 1024),
            "/files/report.pdf": Reply(body=b"%PDF-1.4\n%...", content_type="application/pdf"),
            "/news/loop-a": redirect("/news/loop-b"),
            "/news/loop-b": redirect("/news/loop-a"),
            "/news/metadata": redirect(METADATA),
            "/private/secret": Reply(body=b"<html>secret</html>"),
        }
        for hop in range(7):
            routes[f"/news/hop/{hop}"] = redirect(f"/news/hop/{hop + 1}")
        for path, route in routes.items():
            hostile.route(path, route)
        closed.route("/robots.txt", Reply(status=503, body=b"busy", content_type="text/plain"))
        closed.route("/news/story", Reply(body=GOOD.read_bytes()))
        for i, page in enumerate(PACED):
            paced.route(f"/story/{i}", Reply(body=page.read_bytes()))
        found = Hosts(hostile, closed, paced)
        links = [hostile.url(path) for path in HOSTILE]
        links += [url for url, _reason in REFUSED_BY_DISCOVERY] + [closed.url("/news/story")]
        links += found.refused_spellings()
        hostile.route("/feed.xml", Reply(body=_feed(links), content_type="application/rss+xml"))
        yield found


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, hosts: Hosts) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("hostile-warehouse")
    settings = {
        "NEWSFLOW_DATA_DIR": str(path),
        "NEWSFLOW_ALLOW_PRIVATE_HOSTS": json.dumps(
            [hosts.hostile.netloc, hosts.closed.netloc, hosts.paced.netloc]
        ),
        "NEWSFLOW_REQUEST_DEADLINE_S": "2",
        "NEWSFLOW_MAX_BYTES": "1000000",
        "NEWSFLOW_PER_HOST_DELAY_S": "0.05",
        "NEWSFLOW_BACKOFF_BASE_S": "0.05",
    }
    with environment(settings):
        yield path


@pytest.fixture(scope="module")
def connections() -> Iterator[list[object]]:
    """Every address a socket of this process connects to during the run."""
    seen: list[object] = []
    guarded = socket.socket.connect

    def recording(self: socket.socket, address: Any) -> None:
        seen.append(address)
        return guarded(self, address)

    socket.socket.connect = recording  # type: ignore[method-assign,assignment]
    yield seen
    socket.socket.connect = guarded  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def run(
    prefect_harness: None,
    hosts: Hosts,
    data_dir: Path,
    connections: list[object],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunSummary:
    sources = tmp_path_factory.mktemp("hostile-sources") / "sources.toml"
    sources.write_text(
        "[[source]]\n"
        'id = "hostile"\n'
        'kind = "feed"\n'
        f'location = "{hosts.hostile.url("/feed.xml")}"\n'
        "\n[[source]]\n"
        'id = "paced"\n'
        'kind = "urls"\n'
        f"urls = {json.dumps(hosts.paced_urls())}\n"
        f"crawl_delay = {CRAWL_DELAY}\n",
        encoding="utf-8",
    )
    return nightly_ingest(run_date=RUN_DATE, sources_file=str(sources))


def sql(data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


def test_the_run_completes_and_counts_every_url(
    run: RunSummary, hosts: Hosts, data_dir: Path
) -> None:
    assert run.status == "completed", run.failures
    assert Path(run.catalog) == data_dir / "newsflow.duckdb"
    counts = next(c for c in run.per_source if c.source_id == "hostile")
    failed = Counter(reason for reason in hosts.expected().values() if reason != "ok")
    failed["blocked_address"] += 2  # file: and gopher: links, refused by discovery
    assert counts.discovered == len(hosts.expected()) + 2
    assert counts.fetched == counts.new == len(RETRIED) + 1
    assert counts.rejected == dict(failed)


def test_every_article_url_has_one_fetch_log_row_with_its_reason(
    run: RunSummary, hosts: Hosts, data_dir: Path
) -> None:
    rows = sql(
        data_dir,
        "SELECT url, reason FROM fetch_log WHERE purpose = 'article' AND url LIKE 'http%'",
    )
    want = {**hosts.expected(), **dict.fromkeys(hosts.paced_urls(), "ok")}
    assert sorted(rows) == sorted(want.items())


def test_pages_that_failed_once_are_fetched_on_the_second_attempt(
    run: RunSummary, hosts: Hosts, data_dir: Path
) -> None:
    rows = sql(
        data_dir,
        "SELECT url, status, attempts FROM fetch_log WHERE reason = 'ok' AND purpose = 'article'",
    )
    want = {hosts.hostile.url(path): (200, n) for path, n in RETRIED.items()}
    want[hosts.hostile.url("/news/good")] = (200, 1)
    want.update(dict.fromkeys(hosts.paced_urls(), (200, 1)))
    assert {url: (status, n) for url, status, n in rows} == want


def test_robots_files_are_logged_and_the_503_one_is_not_taken_as_allow(
    run: RunSummary, hosts: Hosts, data_dir: Path
) -> None:
    rows = sql(data_dir, "SELECT url, status, reason FROM fetch_log WHERE purpose = 'robots'")
    assert sorted(rows) == sorted(
        [
            (hosts.hostile.url("/robots.txt"), 200, "ok"),
            (hosts.closed.url("/robots.txt"), 503, "http_5xx"),
            (hosts.paced.url("/robots.txt"), 404, "http_404"),
        ]
    )
    assert hosts.closed.hits("/news/story") == 0
    assert hosts.hostile.hits("/private/secret") == 0


def test_fetch_failures_are_rejected_at_the_fetch_stage_with_the_same_reason(
    run: RunSummary, hosts: Hosts, data_dir: Path
) -> None:
    rows = sql(data_dir, "SELECT url, reason FROM rejected WHERE stage = 'fetch'")
    failed = {url: reason for url, reason in hosts.expected().items() if reason != "ok"}
    assert sorted(rows) == sorted(failed.items())


def test_links_of_other_schemes_are_refused_by_discovery(run: RunSummary, data_dir: Path) -> None:
    rows = sql(data_dir, "SELECT url, reason FROM rejected WHERE stage = 'discover'")
    assert sorted(rows) == sorted(REFUSED_BY_DISCOVERY)


def test_links_refused_by_discovery_have_a_fetch_log_row_without_an_attempt(
    run: RunSummary, data_dir: Path
) -> None:
    rows = sql(data_dir, "SELECT url, reason, attempts FROM fetch_log WHERE url NOT LIKE 'http%'")
    assert sorted(rows) == sorted((url, reason, 0) for url, reason in REFUSED_BY_DISCOVERY)


def test_the_good_pages_are_published_as_articles(
    run: RunSummary, hosts: Hosts, data_dir: Path
) -> None:
    rows = sql(data_dir, "SELECT url FROM articles")
    want = [hosts.hostile.url(path) for path in [*RETRIED, "/news/good"]] + hosts.paced_urls()
    assert sorted(url for (url,) in rows) == sorted(want)
    assert hosts.hostile.hits("/news/good") == 1  # the refused spellings never arrived


def test_reasons_are_from_the_closed_set(run: RunSummary, data_dir: Path) -> None:
    reasons = {reason for (reason,) in sql(data_dir, "SELECT DISTINCT reason FROM fetch_log")}
    assert reasons <= set(REASONS)


def test_no_connection_goes_to_a_refused_address(
    run: RunSummary, hosts: Hosts, connections: list[object]
) -> None:
    addresses = [address for address in connections if isinstance(address, tuple)]
    assert hosts.hostile.port in {port for _host, port, *_ in addresses}  # the recorder works
    assert {host for host, *_ in addresses} == {"127.0.0.1"}
    assert 1 not in {port for _host, port, *_ in addresses}  # the redirect to 127.0.0.1:1


def test_a_sources_crawl_delay_spaces_the_requests_to_its_host(
    run: RunSummary, hosts: Hosts
) -> None:
    arrivals = [r.at for r in hosts.paced.requests]
    assert len(arrivals) == 1 + len(PACED)  # robots.txt, then each story
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= CRAWL_DELAY
