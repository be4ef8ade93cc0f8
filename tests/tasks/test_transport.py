"""The fetcher's connections: reused per address, and through a proxy only when asked.

Real servers on 127.0.0.1: a keep-alive `LoopbackServer` counts the connections it accepts,
and a `RecordingProxy` records every request line that reaches it.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from servers import (
    LoopbackServer,
    RecordingProxy,
    Reply,
    loopback_fetcher,
    redirect,
    robots,
    tls_certificate,
)

from tasks.exchange import Limits, Transport
from tasks.fetch import fetch_batch
from tasks.guard import check_url

PAGE = b"<html><body><p>Hello, transport</p></body></html>"
ROUTES = {
    "/robots.txt": robots("User-agent: *\nDisallow: /private\n"),
    "/a": redirect("/b"),
    "/b": Reply(body=PAGE),
    "/c": Reply(body=PAGE),
}
LENGTH_10 = (("Content-Length", "10"),)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


def now() -> datetime:
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fetched(srv: LoopbackServer, path: str, **policy: object) -> str:
    with loopback_fetcher(srv, seed=1, **policy) as fetcher:
        return str(fetcher.fetch(srv.url(path), source_id="s", now=now).log.reason)


# ---------------------------------------------------------------- connection reuse


def test_fetches_of_one_host_share_one_connection() -> None:
    with LoopbackServer(ROUTES, keep_alive=True) as srv:
        with loopback_fetcher(srv, seed=1) as fetcher:
            reasons = [
                fetcher.fetch(srv.url(path), source_id="s", now=now).log.reason
                for path in ("/a", "/c", "/b")
            ]
        paths = [r.path for r in srv.requests]
        connections = srv.connections
    assert reasons == ["ok", "ok", "ok"]
    assert paths == ["/robots.txt", "/a", "/b", "/c", "/b"]  # the redirect's body drained too
    assert connections == 1


def test_a_batch_reuses_one_connection_per_host() -> None:
    with (
        LoopbackServer(ROUTES, keep_alive=True) as one,
        LoopbackServer(ROUTES, keep_alive=True) as two,
    ):
        items = [("s", srv.url(path)) for srv in (one, two) for path in ("/b", "/c", "/b")]
        with loopback_fetcher(one, two, seed=1) as fetcher:
            outcomes = fetch_batch(fetcher, items, max_hosts_in_parallel=2, now=now)
        counts = [(srv.hits(), srv.connections) for srv in (one, two)]
    assert [o.log.reason for o in outcomes] == ["ok"] * 6
    assert counts == [(4, 1), (4, 1)]


def test_an_answer_cut_short_does_not_leave_its_connection_for_the_next_request() -> None:
    routes = {
        "/big": Reply(body=b"x" * 2000),  # over the cap: refused unread
        "/c": Reply(body=PAGE),
    }
    limits = Limits(deadline_s=3.0, connect_timeout_s=2.0, max_bytes=1000)
    transport = Transport(ssl.create_default_context())
    with LoopbackServer(routes, keep_alive=True) as srv, transport as t:
        big = t.request_once(check_url(srv.url("/big"), frozenset({srv.netloc})), {}, limits)
        page = t.request_once(check_url(srv.url("/c"), frozenset({srv.netloc})), {}, limits)
        connections = srv.connections
    assert (big.reason, page.body) == ("too_large", PAGE)
    assert connections == 2


@pytest.mark.parametrize(
    ("gone", "connections"),
    [
        (Reply(status=404, body=b"x" * 64 * 1024), 1),
        (Reply(status=404, body=b"x" * (64 * 1024 + 1)), 2),
        # chunked, with a Content-Length that claims less: the length is not believed
        (Reply(status=404, body=b"x" * (64 * 1024 + 1), chunked=True, headers=LENGTH_10), 2),
    ],
    ids=["64KiB", "64KiB+1", "64KiB+1-chunked"],
)
def test_a_non_2xx_body_of_up_to_64_kib_is_read_away_to_keep_its_connection(
    gone: Reply, connections: int
) -> None:
    routes = {"/gone": gone, "/c": Reply(body=PAGE)}
    limits = Limits(deadline_s=3.0, connect_timeout_s=2.0, max_bytes=1000)
    transport = Transport(ssl.create_default_context())
    with LoopbackServer(routes, keep_alive=True) as srv, transport as t:
        gone = t.request_once(check_url(srv.url("/gone"), frozenset({srv.netloc})), {}, limits)
        page = t.request_once(check_url(srv.url("/c"), frozenset({srv.netloc})), {}, limits)
        opened = srv.connections
    assert (gone.status, page.body) == (404, PAGE)
    assert opened == connections


def test_a_reused_connection_is_still_cut_at_the_total_deadline() -> None:
    routes = {"/c": Reply(body=PAGE), "/drip": Reply(body=PAGE, header_drip=0.05)}
    limits = Limits(deadline_s=0.5, connect_timeout_s=2.0, max_bytes=1000)
    transport = Transport(ssl.create_default_context())
    with LoopbackServer(routes, keep_alive=True) as srv, transport as t:
        first = t.request_once(check_url(srv.url("/c"), frozenset({srv.netloc})), {}, limits)
        drip = t.request_once(check_url(srv.url("/drip"), frozenset({srv.netloc})), {}, limits)
        connections = srv.connections
    assert (first.body, connections) == (PAGE, 1)
    assert (drip.status, drip.reason, drip.body) == (None, "timeout", None)


# ---------------------------------------------------------------- the proxy


def test_with_the_proxy_on_it_sees_every_request_of_a_fetch() -> None:
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        reason = fetched(srv, "/a", proxy=proxy.url)
        seen = proxy.lines
        arrived = [r.path for r in srv.requests]
    base = f"http://{srv.netloc}"
    assert reason == "ok"
    assert seen == [
        f"GET {base}/robots.txt HTTP/1.1",
        f"GET {base}/a HTTP/1.1",
        f"GET {base}/b HTTP/1.1",  # the redirect hop too
    ]
    assert arrived == ["/robots.txt", "/a", "/b"]


def test_with_the_proxy_off_it_sees_nothing() -> None:
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        reason = fetched(srv, "/a")
        seen = proxy.lines
    assert (reason, seen) == ("ok", [])


def test_the_proxy_in_the_environment_is_ignored_unless_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        ignored = fetched(srv, "/c")
        seen_by_default = proxy.lines
        asked = fetched(srv, "/c", proxy_from_env=True)
        seen_when_asked = proxy.lines
    assert (ignored, seen_by_default) == ("ok", [])
    assert asked == "ok"
    assert seen_when_asked == [
        f"GET http://{srv.netloc}/robots.txt HTTP/1.1",
        f"GET http://{srv.netloc}/c HTTP/1.1",
    ]


@pytest.mark.parametrize(
    ("variables", "through_proxy"),
    [
        ({"HTTP_PROXY": "{proxy}"}, True),
        ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1"}, False),
        ({}, False),
    ],
    ids=["http-proxy", "no-proxy", "none"],
)
def test_the_environment_proxy_is_the_one_for_the_scheme_unless_the_host_is_excluded(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], through_proxy: bool
) -> None:
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        for name in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value.format(proxy=proxy.url))
        reason = fetched(srv, "/c", proxy_from_env=True, respect_robots=False)
        seen = proxy.lines
    assert reason == "ok"
    assert seen == ([f"GET http://{srv.netloc}/c HTTP/1.1"] if through_proxy else [])


def test_a_transport_ignores_the_environment_proxy_unless_asked_and_uses_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = Limits(deadline_s=3.0, connect_timeout_s=2.0, max_bytes=1000)
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        target = check_url(srv.url("/c"), frozenset({srv.netloc}))
        with Transport(ssl.create_default_context()) as plain:
            direct = plain.request_once(target, {}, limits)
        seen_direct = proxy.lines
        with Transport(ssl.create_default_context(), proxy=proxy.url) as proxied:
            through = proxied.request_once(target, {}, limits)
        seen_through = proxy.lines
    assert (direct.body, through.body) == (PAGE, PAGE)
    assert seen_direct == []
    assert seen_through == [f"GET http://{srv.netloc}/c HTTP/1.1"]


def test_a_target_the_guard_refuses_is_refused_before_the_proxy_hears_of_it() -> None:
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        with loopback_fetcher(seed=1, proxy=proxy.url) as fetcher:  # srv is not allowed
            outcome = fetcher.fetch(srv.url("/c"), source_id="s", now=now)
        redirected = LoopbackServer({"/r": redirect("http://10.0.0.1/admin")})
        with redirected, loopback_fetcher(redirected, seed=1, proxy=proxy.url) as fetcher:
            hop = fetcher.fetch(redirected.url("/r"), source_id="s", now=now)
        seen = proxy.lines
    assert outcome.log.reason == "blocked_address"
    assert (hop.log.reason, hop.log.final_url) == ("blocked_address", "http://10.0.0.1/admin")
    assert seen == [
        f"GET http://{redirected.netloc}/robots.txt HTTP/1.1",
        f"GET http://{redirected.netloc}/r HTTP/1.1",
    ]


def test_pinned_hosts_go_direct_with_the_proxy_on() -> None:
    with LoopbackServer(ROUTES) as srv, RecordingProxy() as proxy:
        pins = {"news.example": ("127.0.0.1", srv.port)}
        with loopback_fetcher(seed=1, proxy=proxy.url, pinned_hosts=pins) as fetcher:
            outcome = fetcher.fetch("http://news.example/c", source_id="s", now=now)
        seen = proxy.lines
        hosts = {r.headers["host"] for r in srv.requests}
    assert (outcome.log.reason, seen, hosts) == ("ok", [], {"news.example"})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ssl.SSLContext]:
    """(a CA file the fetcher trusts, a server context for `localhost`)."""
    return tls_certificate(Path(tmp_path_factory.mktemp("tls")))


def test_https_through_the_proxy_tunnels_and_verifies_the_host_name(
    tls: tuple[str, ssl.SSLContext],
) -> None:
    ca_file, server = tls
    with LoopbackServer(ROUTES, tls=server) as srv, RecordingProxy() as proxy:
        allowed = {f"localhost:{srv.port}", srv.netloc}
        with loopback_fetcher(
            seed=1, proxy=proxy.url, ca_file=ca_file, allow_private=frozenset(allowed)
        ) as fetcher:
            good = fetcher.fetch(srv.url("/c", host="localhost"), source_id="s", now=now)
            wrong = fetcher.fetch(srv.url("/c"), source_id="s", now=now)  # cert not for 127.0.0.1
        seen = proxy.lines
    assert (good.log.reason, good.body) == ("ok", PAGE)
    assert wrong.log.reason == "robots_unavailable"  # its robots.txt already failed TLS
    assert wrong.robots_log is not None
    assert wrong.robots_log.reason == "tls_error"
    assert [line.rsplit(" ", 1)[0] for line in seen] == [  # robots.txt, /c, robots.txt
        f"CONNECT localhost:{srv.port}",
        f"CONNECT localhost:{srv.port}",
        f"CONNECT 127.0.0.1:{srv.port}",
    ]


def test_a_proxy_that_does_not_answer_is_a_connection_error_naming_the_proxy() -> None:
    with LoopbackServer(ROUTES) as srv:
        with LoopbackServer() as gone:
            dead = gone.url("").rstrip("/")
        with loopback_fetcher(srv, seed=1, proxy=dead, respect_robots=False) as fetcher:
            outcome = fetcher.fetch(srv.url("/c"), source_id="s", now=now)
        assert srv.hits() == 0
    assert outcome.log.reason == "connection_error"
    assert outcome.detail.startswith("proxy: ConnectionRefusedError")


# ---------------------------------------------------------------- the setting


def test_the_proxy_setting_comes_from_the_environment_and_reaches_the_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.pipeline import fetch_policy
    from flows.settings import Settings

    monkeypatch.setenv("NEWSFLOW_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NEWSFLOW_PROXY_FROM_ENV", "true")
    policy = fetch_policy(Settings(_env_file=None))
    assert (policy.proxy, policy.proxy_from_env) == ("http://proxy.internal:3128", True)


@pytest.mark.parametrize(
    "proxy", ["socks5://127.0.0.1:1080", "ftp://proxy.internal", "proxy.internal:3128", "http://"]
)
def test_a_proxy_setting_that_is_not_an_http_or_https_url_is_refused(proxy: str) -> None:
    from flows.settings import Settings

    with pytest.raises(ValidationError, match="proxy"):
        Settings(_env_file=None, proxy=proxy)
