"""The fetcher against real hostile servers on 127.0.0.1 (RELIABILITY.md rows 6-14, 17, 18)."""

from __future__ import annotations

import codecs
import dataclasses
import email.utils
import itertools
import json
import os
import pickle
import ssl
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from servers import (
    LoopbackServer,
    Reply,
    Request,
    deflate_bomb,
    gzip_bomb,
    gzipped,
    loopback_fetcher,
    loopback_policy,
    redirect,
    robots,
    tls_certificate,
)

from tasks.charset import detect_encoding
from tasks.fetch import (
    FetchOutcome,
    FetchPolicy,
    HttpFetcher,
    describe,
    fetch_batch,
    host_delays,
    politeness_key,
    retry_after_seconds,
)
from tasks.reasons import FETCH_LOG_REASONS
from tasks.records import Discovered, Source
from tasks.robots import robots_from_answer

MB = 1 << 20
PAGE = b"<html><head><title>t</title></head><body><p>Hello</p></body></html>"


def now() -> datetime:
    return datetime.now(UTC)


def fetcher_for(*servers: LoopbackServer, **changes: Any) -> HttpFetcher:
    """A fetcher allowed onto these loopback servers only, with small caps and deadlines."""
    policy: dict[str, Any] = {
        "deadline_s": 1.5,
        "connect_timeout_s": 1.0,
        "backoff_max_s": 0.2,
        "max_retry_after_s": 5.0,
        "max_retries": 2,
        **changes,
    }
    fetcher: HttpFetcher = loopback_fetcher(*servers, seed=7, **policy)
    return fetcher


def fetch(fetcher: HttpFetcher, url: str, **kwargs: Any) -> FetchOutcome:
    outcome = fetcher.fetch(url, source_id="test", now=now, **kwargs)
    assert outcome.log.reason in FETCH_LOG_REASONS
    return outcome


def arrivals(server: LoopbackServer, path: str) -> list[float]:
    return [r.at for r in server.requests if r.path == path]


# ---------------------------------------------------------------- basics


def test_ok_page_returns_bytes_headers_and_a_log_row() -> None:
    with LoopbackServer({"/a": Reply(body=PAGE, headers=(("ETag", '"e1"'),))}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/a"))
    assert outcome.ok
    assert outcome.page is not None
    assert outcome.page.body == PAGE
    assert outcome.page.encoding == "utf-8"
    assert outcome.log.status == 200
    assert outcome.log.attempts == 1
    assert outcome.log.bytes == len(PAGE)
    assert outcome.log.etag == '"e1"'
    assert outcome.log.purpose == "article"
    assert outcome.rejected() is None


def test_requests_carry_the_user_agent_and_the_original_host_header() -> None:
    with LoopbackServer({"/a": Reply(body=PAGE)}) as srv:
        name = f"localhost:{srv.port}"
        fetcher = fetcher_for(srv, allow_private=frozenset({name}), user_agent="nf (+http://x/)")
        outcome = fetch(fetcher, f"http://{name}/a")
        request = next(r for r in srv.requests if r.path == "/a")
    assert outcome.ok
    assert request.headers["user-agent"] == "nf (+http://x/)"
    assert request.headers["host"] == name


def test_gzip_content_encoding_is_decoded() -> None:
    body = PAGE * 100
    reply = Reply(body=gzipped(body), headers=(("Content-Encoding", "gzip"),))
    with LoopbackServer({"/z": reply}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/z"))
    assert outcome.page is not None
    assert outcome.page.body == body


def test_http_errors_map_to_closed_reason_codes() -> None:
    routes = {f"/{code}": Reply(status=code) for code in (400, 403, 404, 410, 418, 451)}
    with LoopbackServer(routes) as srv:
        fetcher = fetcher_for(srv)
        reasons = {code: fetch(fetcher, srv.url(f"/{code}")).log.reason for code in (403, 404)}
        reasons |= {code: fetch(fetcher, srv.url(f"/{code}")).log.reason for code in (410, 418)}
    assert reasons == {403: "http_403", 404: "http_404", 410: "http_410", 418: "http_4xx"}


def test_fetch_batch_keeps_input_order_and_carries_discovered_records() -> None:
    with (
        LoopbackServer({"/1": Reply(body=b"<p>1</p>"), "/2": Reply(body=b"<p>2</p>")}) as a,
        LoopbackServer({"/3": Reply(body=b"<p>3</p>")}) as b,
    ):
        found = Discovered(url=b.url("/3"), source_id="s2", found_in="feed", title="Three")
        items: list[tuple[str, str] | Discovered] = [
            ("s1", a.url("/2")),
            found,
            ("s1", a.url("/1")),
            ("s1", "file:///etc/passwd"),
        ]
        outcomes = fetch_batch(fetcher_for(a, b), items, max_hosts_in_parallel=4, now=now)
    expected = [a.url("/2"), b.url("/3"), a.url("/1"), "file:///etc/passwd"]
    assert [o.log.url for o in outcomes] == expected
    assert [o.log.reason for o in outcomes] == ["ok", "ok", "ok", "blocked_address"]
    assert outcomes[1].page is not None
    assert outcomes[1].page.discovered == found
    assert outcomes[1].log.source_id == "s2"


# ---------------------------------------------------------------- row 6: retries


def test_500_503_reset_then_200_is_retried_to_success_with_its_attempt_count() -> None:
    script = [Reply(status=500), Reply(status=503), Reply(reset=True), Reply(body=PAGE)]
    with LoopbackServer({"/flaky": script}) as srv:
        outcome = fetch(
            fetcher_for(srv, max_retries=3, backoff_base_s=0.05, backoff_max_s=1.0),
            srv.url("/flaky"),
        )
        times = arrivals(srv, "/flaky")
    assert outcome.ok
    assert outcome.log.attempts == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # backoff doubles, with jitter of at most half: attempt n waits >= 0.05 * 2**(n-1) / 2
    assert all(gap >= 0.05 * 2**n / 2 for n, gap in enumerate(gaps))


def test_retries_stop_at_the_limit_with_the_last_reason() -> None:
    with LoopbackServer({"/down": Reply(status=503), "/reset": Reply(reset=True)}) as srv:
        fetcher = fetcher_for(srv, max_retries=2, max_host_failures=10)
        down = fetch(fetcher, srv.url("/down"))
        reset = fetch(fetcher, srv.url("/reset"))
        assert srv.hits("/down") == 3
        assert srv.hits("/reset") == 3
    assert (down.log.reason, down.log.status, down.log.attempts) == ("http_5xx", 503, 3)
    assert (reset.log.reason, reset.log.attempts) == ("connection_error", 3)
    assert down.rejected() is not None
    assert describe(down)["transient"] is True  # a later run may well get an answer


def test_404_is_not_retried() -> None:
    with LoopbackServer() as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/gone"))
        assert srv.hits("/gone") == 1
    assert outcome.log.reason == "http_404"


def test_describe_gives_the_reason_its_meaning_and_the_cause_as_json() -> None:
    with LoopbackServer({"/robots.txt": robots("User-agent: *\nDisallow: /no\n")}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/no/entry"))
    described = json.loads(json.dumps(describe(outcome)))
    assert described["url"] == srv.url("/no/entry")
    assert described["reason"] == "robots"
    assert described["meaning"] == "robots.txt disallows this URL for our user agent"
    assert described["transient"] is False  # asking again later will not help
    assert described["detail"] == "disallowed by robots.txt"
    assert described["attempts"] == 0


def test_a_host_that_keeps_failing_is_given_up_for_the_run() -> None:
    with LoopbackServer({f"/{i}": Reply(reset=True) for i in range(5)}) as srv:
        fetcher = fetcher_for(srv, max_retries=0, max_host_failures=3)
        reasons = [fetch(fetcher, srv.url(f"/{i}")).log.reason for i in range(5)]
        hits = sum(srv.hits(f"/{i}") for i in range(5))
    assert reasons == ["connection_error"] * 3 + ["host_unavailable"] * 2
    assert hits == 3


# ---------------------------------------------------------------- row 7: Retry-After


def test_429_retry_after_seconds_is_waited_for() -> None:
    script = [Reply(status=429, headers=(("Retry-After", "1"),)), Reply(body=PAGE)]
    with LoopbackServer({"/p": script}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/p"))
        first, second = arrivals(srv, "/p")
    assert outcome.ok
    assert outcome.log.attempts == 2
    assert second - first >= 1.0


def test_503_retry_after_http_date_is_waited_for() -> None:
    answered: list[Request] = []

    def unavailable_once(request: Request) -> Reply:
        answered.append(request)
        if len(answered) > 1:
            return Reply(body=PAGE)
        stamp = time.time()
        headers = (
            ("Date", email.utils.formatdate(stamp, usegmt=True)),
            ("Retry-After", email.utils.formatdate(stamp + 1, usegmt=True)),
        )
        return Reply(status=503, headers=headers)

    with LoopbackServer({"/p": unavailable_once}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/p"))
        first, second = arrivals(srv, "/p")
    assert outcome.ok
    assert second - first >= 1.0


def test_retry_after_beyond_the_cap_closes_the_host_for_the_run() -> None:
    routes = {"/p": Reply(status=429, headers=(("Retry-After", "3600"),)), "/q": Reply(body=PAGE)}
    with LoopbackServer(routes) as srv:
        fetcher = fetcher_for(srv, max_retry_after_s=5)
        first = fetch(fetcher, srv.url("/p"))
        later = fetch(fetcher, srv.url("/q"))
        assert srv.hits("/p") == 1
        assert srv.hits("/q") == 0
    assert (first.log.reason, first.log.attempts) == ("rate_limited", 1)
    assert (later.log.reason, later.log.attempts) == ("rate_limited", 0)


def test_retry_after_on_the_last_attempt_still_paces_the_next_request() -> None:
    routes = {"/p": Reply(status=503, headers=(("Retry-After", "1"),)), "/q": Reply(body=PAGE)}
    with LoopbackServer(routes) as srv:
        fetcher = fetcher_for(srv, max_retries=0)
        first = fetch(fetcher, srv.url("/p"))
        later = fetch(fetcher, srv.url("/q"))
        gap = arrivals(srv, "/q")[0] - arrivals(srv, "/p")[0]
    assert first.log.reason == "http_5xx"
    assert later.ok
    assert gap >= 1.0


def test_a_rate_limited_host_does_not_hold_up_other_hosts() -> None:
    script = [Reply(status=429, headers=(("Retry-After", "1"),)), Reply(body=PAGE)]
    with LoopbackServer({"/p": script}) as slow, LoopbackServer() as fast:
        for i in range(3):
            fast.route(f"/{i}", Reply(body=PAGE))
        items = [("s", slow.url("/p"))] + [("s", fast.url(f"/{i}")) for i in range(3)]
        outcomes = fetch_batch(fetcher_for(slow, fast), items, max_hosts_in_parallel=2, now=now)
        retried_at = arrivals(slow, "/p")[1]
        fast_done = max(r.at for r in fast.requests)
    assert [o.log.reason for o in outcomes] == ["ok"] * 4
    assert fast_done < retried_at


def test_retry_after_parsing() -> None:
    reference = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", server_date=None, now=lambda: reference) == 120
    date = "Thu, 01 Jan 2026 12:00:30 GMT"
    assert retry_after_seconds(date, server_date=None, now=lambda: reference) == 30
    assert retry_after_seconds(date, server_date="Thu, 01 Jan 2026 12:00:20 GMT", now=now) == 10
    assert retry_after_seconds("soon", server_date=None, now=now) is None


# ---------------------------------------------------------------- row 8: slow drip


def test_slow_drip_body_is_cut_at_the_total_deadline() -> None:
    with LoopbackServer({"/drip": Reply(body=b"x" * 40, drip=0.1)}) as srv:
        outcome = fetch(fetcher_for(srv, deadline_s=0.5, max_retries=0), srv.url("/drip"))
    assert outcome.log.reason == "timeout"
    assert outcome.log.bytes < 40  # stopped long before the server would have finished


def test_slow_drip_headers_are_cut_at_the_total_deadline() -> None:
    with LoopbackServer({"/drip": Reply(body=PAGE, header_drip=0.05)}) as srv:
        outcome = fetch(fetcher_for(srv, deadline_s=0.5), srv.url("/drip"))
    assert outcome.log.reason == "timeout"
    assert outcome.log.status is None


def test_a_dripping_host_does_not_stop_the_batch() -> None:
    with (
        LoopbackServer({"/drip": Reply(body=b"x" * 40, drip=0.1)}) as bad,
        LoopbackServer({"/ok": Reply(body=PAGE)}) as good,
    ):
        items = [("s", bad.url("/drip")), ("s", good.url("/ok"))]
        outcomes = fetch_batch(
            fetcher_for(bad, good, deadline_s=1.0), items, max_hosts_in_parallel=2, now=now
        )
    assert [o.log.reason for o in outcomes] == ["timeout", "ok"]


# ---------------------------------------------------------------- rows 9 and 10: size caps


def test_content_length_over_the_cap_is_refused_before_download() -> None:
    with LoopbackServer({"/huge": Reply(body=b"x" * 1000, content_length=500_000_000)}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/huge"))
    assert outcome.log.reason == "too_large"
    assert outcome.log.bytes == 0


def _peak_during(call: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = call()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_chunked_body_without_length_is_cut_at_the_cap_with_bounded_memory() -> None:
    endless = Reply(body=b"x" * 65536, repeat=320, chunked=True)  # 20 MB, no length
    with LoopbackServer({"/stream": endless}) as srv:
        fetcher = fetcher_for(srv, deadline_s=5)
        outcome, peak = _peak_during(lambda: fetch(fetcher, srv.url("/stream")))
    assert outcome.log.reason == "too_large"
    assert outcome.log.bytes <= MB + 65536 + 16
    assert peak < 4 * MB


@pytest.mark.parametrize("bomb", [gzip_bomb, deflate_bomb], ids=["gzip", "deflate"])
def test_compressed_bombs_are_cut_at_the_decoded_cap_with_bounded_memory(bomb: Any) -> None:
    with LoopbackServer({"/bomb": bomb(16 * MB)}) as srv:
        fetcher = fetcher_for(srv)
        outcome, peak = _peak_during(lambda: fetch(fetcher, srv.url("/bomb")))
    assert outcome.log.reason == "too_large"
    assert outcome.log.bytes < MB  # the compressed bytes read: a fraction of the cap
    assert peak < 4 * MB


def test_unknown_content_encoding_is_refused() -> None:
    reply = Reply(body=b"\x00\x01", headers=(("Content-Encoding", "br"),))
    with LoopbackServer({"/br": reply}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/br"))
    assert outcome.log.reason == "bad_encoding"


# ---------------------------------------------------------------- rows 11 and 12: guard


BLOCKED = [
    "http://127.0.0.1:{port}/x",
    "http://localhost:{port}/x",
    "http://0x7f000001:{port}/x",
    "http://2130706433:{port}/x",
    "http://017700000001:{port}/x",
    "http://[::1]:{port}/x",
    "http://[::ffff:127.0.0.1]:{port}/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_x",
]


@pytest.mark.parametrize("template", BLOCKED)
def test_blocked_addresses_are_refused_before_any_connection(template: str) -> None:
    with LoopbackServer({"/x": Reply(body=PAGE)}) as srv:
        outcome = fetch(fetcher_for(allow_private=frozenset()), template.format(port=srv.port))
        assert srv.hits() == 0
    assert outcome.log.reason == "blocked_address"
    assert outcome.log.attempts == 0


def test_a_redirect_into_a_blocked_address_is_refused_without_connecting() -> None:
    with LoopbackServer({"/x": Reply(body=PAGE)}) as victim:
        with LoopbackServer() as srv:
            srv.route("/to-victim", redirect(f"http://localhost:{victim.port}/x"))
            srv.route("/to-metadata", redirect("http://169.254.169.254/latest/"))
            fetcher = fetcher_for(srv)
            to_victim = fetch(fetcher, srv.url("/to-victim"))
            to_metadata = fetch(fetcher, srv.url("/to-metadata"))
        assert victim.hits() == 0
    assert to_victim.log.reason == "blocked_address"
    assert to_victim.log.final_url == f"http://localhost:{victim.port}/x"
    assert to_metadata.log.reason == "blocked_address"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x"])
def test_a_redirect_to_another_scheme_is_refused(location: str) -> None:
    with LoopbackServer({"/r": redirect(location)}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/r"))
    assert outcome.log.reason == "blocked_address"
    assert outcome.log.final_url == location


def test_a_redirect_loop_is_stopped() -> None:
    with LoopbackServer({"/a": redirect("/b"), "/b": redirect("/a")}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/a"))
    assert outcome.log.reason == "redirect_loop"


def test_five_redirects_are_followed_and_the_sixth_is_refused() -> None:
    routes: dict[str, Any] = {f"/h{i}": redirect(f"/h{i + 1}", 301 + i % 2) for i in range(6)}
    routes["/h5"] = Reply(body=PAGE)
    routes["/g6"] = redirect("/h0")
    with LoopbackServer(routes) as srv:
        fetcher = fetcher_for(srv)
        five = fetch(fetcher, srv.url("/h0"))
        six = fetch(fetcher, srv.url("/g6"))
    assert five.ok
    assert five.log.final_url == srv.url("/h5")
    assert six.log.reason == "too_many_redirects"


# ---------------------------------------------------------------- pinned hosts

COURIER = "daily-courier.localhost"  # a virtual host name, as the sample site serves them


def pinned_fetcher(srv: LoopbackServer, *names: str, **changes: Any) -> HttpFetcher:
    """A fetcher that reaches `srv` only through pinned names (no allowance for its port)."""
    pins = {name: ("127.0.0.1", srv.port) for name in names}
    return fetcher_for(allow_private=frozenset(), pinned_hosts=pins, **changes)


def test_a_pinned_virtual_host_is_reached_at_its_address_with_its_own_host_header() -> None:
    with LoopbackServer({"/a": Reply(body=PAGE)}) as srv:
        outcome = fetch(pinned_fetcher(srv, COURIER), f"http://{COURIER}/a")
        hosts = [(r.path, r.headers["host"]) for r in srv.requests]
    assert outcome.ok
    assert outcome.log.final_url == f"http://{COURIER}/a"
    assert hosts == [("/robots.txt", COURIER), ("/a", COURIER)]


def test_the_connection_goes_to_the_checked_address_never_to_the_name() -> None:
    # `.invalid` never resolves (RFC 6761): the page arrives only because the connection
    # goes to the pinned address and port, not to the URL's host name or port (80).
    with LoopbackServer({"/a": Reply(body=PAGE)}) as srv:
        outcome = fetch(pinned_fetcher(srv, "newsroom.invalid"), "http://newsroom.invalid/a")
    assert outcome.ok, outcome.detail
    assert outcome.page is not None
    assert outcome.page.body == PAGE


def test_unpinned_localhost_names_are_still_blocked() -> None:
    with LoopbackServer({"/a": Reply(body=PAGE)}) as srv:
        fetcher = pinned_fetcher(srv, COURIER)
        other = fetch(fetcher, f"http://other-paper.localhost:{srv.port}/a")
        other_port = fetch(fetcher, f"http://{COURIER}:{srv.port}/a")  # the pin is for port 80
        assert srv.hits() == 0
    assert (other.log.reason, other.log.attempts) == ("blocked_address", 0)
    assert (other_port.log.reason, other_port.log.attempts) == ("blocked_address", 0)


def test_a_redirect_to_a_pinned_host_uses_the_pin() -> None:
    with LoopbackServer({"/a": Reply(body=PAGE)}) as srv:
        srv.route("/go", redirect(f"http://{COURIER}/a"))
        fetcher = fetcher_for(srv, pinned_hosts={COURIER: ("127.0.0.1", srv.port)})
        outcome = fetch(fetcher, srv.url("/go"))
        arrived = next(r for r in srv.requests if r.path == "/a")
    assert outcome.ok
    assert outcome.log.final_url == f"http://{COURIER}/a"
    assert arrived.headers["host"] == COURIER


def test_robots_and_politeness_stay_per_pinned_host_name() -> None:
    rules = robots("User-agent: *\nDisallow: /private/\n")
    with LoopbackServer({"/robots.txt": rules, "/a": Reply(body=PAGE)}) as srv:
        fetcher = pinned_fetcher(srv, COURIER, "metro-ledger.localhost")
        first = fetch(fetcher, f"http://{COURIER}/a")
        second = fetch(fetcher, "http://metro-ledger.localhost/a")
        refused = fetch(fetcher, f"http://{COURIER}/private/x")
        robots_hosts = [r.headers["host"] for r in srv.requests if r.path == "/robots.txt"]
    assert first.ok
    assert second.ok
    assert refused.log.reason == "robots"
    assert robots_hosts == [COURIER, "metro-ledger.localhost"]  # one robots.txt per name
    assert politeness_key(f"http://{COURIER}/a") == f"{COURIER}:80"


def test_pins_are_checked_normalised_and_pickled() -> None:
    policy = loopback_policy(pinned_hosts={"Daily-Courier.LOCALHOST.": ("127.0.0.1", 28470)})
    assert policy.pinned_hosts == {COURIER: ("127.0.0.1", 28470)}
    assert pickle.loads(pickle.dumps(policy)) == policy  # noqa: S301 (our own bytes)
    for bad in ({COURIER: ("daily-courier", 80)}, {COURIER: ("127.0.0.1", 0)}, {"a/b": ("::1", 1)}):
        with pytest.raises(ValueError, match="pinned host"):
            loopback_policy(pinned_hosts=bad)


# ---------------------------------------------------------------- row 13: robots.txt


@pytest.mark.parametrize(
    ("reason", "status", "allowed", "unavailable"),
    [
        ("http_404", 404, True, False),
        ("http_403", 403, True, False),
        ("http_410", 410, True, False),
        ("redirect_loop", 302, True, False),
        ("too_many_redirects", 301, True, False),
        ("rate_limited", 429, False, True),
        ("http_5xx", 503, False, True),
        ("timeout", None, False, True),
        ("connection_error", None, False, True),
        ("blocked_address", None, False, True),
    ],
)
def test_robots_decision_for_each_kind_of_answer(
    reason: str, status: int | None, allowed: bool, unavailable: bool
) -> None:
    decision = robots_from_answer(reason, status, None)
    assert decision.unavailable is unavailable
    assert decision.allows("https://ex.org/a", "newsflow") is allowed


def test_robots_rules_and_crawl_delay_apply_to_our_token() -> None:
    text = b"User-agent: newsflow\nDisallow: /x\nCrawl-delay: 3\n\nUser-agent: *\nDisallow: /\n"
    decision = robots_from_answer("ok", 200, text)
    assert decision.allows("https://ex.org/a", "newsflow")
    assert not decision.allows("https://ex.org/x/1", "newsflow")
    assert decision.crawl_delay("newsflow") == 3.0
    assert not decision.allows("https://ex.org/a", "otherbot")


def test_robots_rules_are_obeyed_and_fetched_once_per_host() -> None:
    rules = robots("User-agent: newsflow\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n")
    routes = {"/robots.txt": rules, "/private/1": Reply(body=PAGE), "/public": Reply(body=PAGE)}
    with LoopbackServer(routes) as srv:
        fetcher = fetcher_for(srv)
        first = fetch(fetcher, srv.url("/public"))
        reasons = [fetch(fetcher, srv.url(p)).log.reason for p in ("/private/1", "/public")]
        assert srv.hits("/robots.txt") == 1
        assert srv.hits("/private/1") == 0
    assert first.ok
    assert first.robots_log is not None
    assert first.robots_log.purpose == "robots"
    assert reasons == ["robots", "ok"]


@pytest.mark.parametrize("status", [404, 403, 401, 410])
def test_robots_4xx_allows_everything(status: int) -> None:
    with LoopbackServer({"/robots.txt": Reply(status=status), "/a": Reply(body=PAGE)}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/a"))
    assert outcome.ok


@pytest.mark.parametrize(
    "reply",
    [Reply(status=503), Reply(status=500), Reply(reset=True), Reply(delay=3.0)],
    ids=["503", "500", "reset", "timeout"],
)
def test_robots_failure_means_nothing_from_that_host_this_run(reply: Reply) -> None:
    with LoopbackServer({"/robots.txt": reply, "/a": Reply(body=PAGE)}) as srv:
        fetcher = fetcher_for(srv, max_retries=1, deadline_s=0.5)
        outcomes = [fetch(fetcher, srv.url("/a")) for _ in range(2)]
        robots_requests = srv.hits("/robots.txt")
        assert srv.hits("/a") == 0
    assert [o.log.reason for o in outcomes] == ["robots_unavailable"] * 2
    assert robots_requests <= 2  # one robots fetch (with its retry), not one per page


def test_a_10_mb_robots_txt_is_parsed_up_to_the_limit() -> None:
    head = b"User-agent: *\nDisallow: /private\n"
    filler = b"# " + b"x" * 1022 + b"\n"
    big = Reply(body=head + filler * 10240, content_type="text/plain")
    with LoopbackServer({"/robots.txt": big, "/private": Reply(), "/a": Reply(body=PAGE)}) as srv:
        fetcher = fetcher_for(srv, robots_max_bytes=512 * 1024)
        reasons = [fetch(fetcher, srv.url(p)).log.reason for p in ("/private", "/a")]
    assert reasons == ["robots", "ok"]


# ---------------------------------------------------------------- row 14: Crawl-delay


def test_crawl_delay_spaces_one_host_and_does_not_slow_another() -> None:
    with (
        LoopbackServer({"/robots.txt": robots("User-agent: *\nCrawl-delay: 1\n")}) as polite,
        LoopbackServer() as free,
    ):
        for i in range(2):
            polite.route(f"/{i}", Reply(body=PAGE))
        for i in range(4):
            free.route(f"/{i}", Reply(body=PAGE))
        items = [("s", polite.url(f"/{i}")) for i in range(2)]
        items += [("s", free.url(f"/{i}")) for i in range(4)]
        outcomes = fetch_batch(fetcher_for(polite, free), items, max_hosts_in_parallel=2, now=now)
        polite_times = [r.at for r in polite.requests]
        free_done = max(r.at for r in free.requests)
    assert all(o.ok for o in outcomes)
    assert len(polite_times) == 3  # robots.txt, /0, /1
    gaps = [later - earlier for earlier, later in itertools.pairwise(polite_times)]
    assert min(gaps) >= 1.0
    assert free_done < polite_times[1]


def _article_gaps(server: LoopbackServer) -> list[float]:
    times = [r.at for r in server.requests]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_source_crawl_delay_spaces_its_host_and_does_not_slow_another() -> None:
    with LoopbackServer() as paced, LoopbackServer() as free:
        for i in range(3):
            paced.route(f"/{i}", Reply(body=PAGE))
        for i in range(4):
            free.route(f"/{i}", Reply(body=PAGE))
        fetcher = fetcher_for(paced, free, host_delays={paced.netloc: 0.5})
        items = [("s", paced.url(f"/{i}")) for i in range(3)]
        items += [("s", free.url(f"/{i}")) for i in range(4)]
        outcomes = fetch_batch(fetcher, items, max_hosts_in_parallel=2, now=now)
        paced_times = [r.at for r in paced.requests]
        free_done = max(r.at for r in free.requests)
    assert all(o.ok for o in outcomes)
    assert len(paced_times) == 4  # robots.txt (404), /0, /1, /2
    assert min(_article_gaps(paced)) >= 0.5
    assert free_done < paced_times[1]


def test_robots_crawl_delay_lengthens_a_source_delay_but_never_shortens_it() -> None:
    with (
        LoopbackServer({"/robots.txt": robots("User-agent: *\nCrawl-delay: 0.1\n")}) as short,
        LoopbackServer({"/robots.txt": robots("User-agent: *\nCrawl-delay: 0.4\n")}) as long,
    ):
        for server in (short, long):
            for i in range(2):
                server.route(f"/{i}", Reply(body=PAGE))
        delays = {short.netloc: 0.4, long.netloc: 0.1}
        fetcher = fetcher_for(short, long, host_delays=delays)
        items = [("s", server.url(f"/{i}")) for server in (short, long) for i in range(2)]
        outcomes = fetch_batch(fetcher, items, max_hosts_in_parallel=2, now=now)
        short_gaps, long_gaps = _article_gaps(short), _article_gaps(long)
    assert all(o.ok for o in outcomes)
    assert len(short_gaps) == len(long_gaps) == 2
    assert min(short_gaps) >= 0.4
    assert min(long_gaps) >= 0.4


def test_host_delays_come_from_each_sources_location_and_urls() -> None:
    sources = [
        Source(id="a", kind="feed", location="https://News.example/feed.xml", crawl_delay=2.0),
        Source(
            id="b",
            kind="urls",
            urls=("http://news.example/x", "https://other.example:8443/y", "ftp://z.example/"),
            crawl_delay=0.5,
        ),
        Source(id="c", kind="sitemap", location="https://news.example/sm.xml", crawl_delay=1.0),
        Source(id="d", kind="feed", location="https://quiet.example/feed.xml"),
    ]
    assert host_delays(sources) == {
        "news.example:443": 2.0,
        "news.example:80": 0.5,
        "other.example:8443": 0.5,
    }
    assert host_delays([]) == {}


def test_policy_delay_for_a_host_is_its_source_delay_or_the_default() -> None:
    given = {"a.example:443": 4.0}
    policy = loopback_policy(per_host_delay_s=1.5, host_delays=given)
    given["b.example:443"] = 9.0  # the policy keeps its own copy
    assert policy.delay_for("a.example:443") == 4.0
    assert policy.delay_for("b.example:443") == 1.5
    assert pickle.loads(pickle.dumps(policy)) == policy  # noqa: S301 (our own bytes)


def test_the_knobs_settings_own_have_no_default_in_the_policy() -> None:
    missing = dataclasses.MISSING
    fields = dataclasses.fields(FetchPolicy)
    required = {f.name for f in fields if f.default is missing and f.default_factory is missing}
    assert required == {
        "user_agent",
        "deadline_s",
        "connect_timeout_s",
        "max_bytes",
        "max_retries",
        "backoff_base_s",
        "per_host_delay_s",
        "max_retry_after_s",
        "allow_private",
        "proxy",
        "proxy_from_env",
    }


def test_the_policy_from_default_settings_has_the_values_settings_declare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.pipeline import fetch_policy
    from flows.settings import Settings

    for name in [n for n in os.environ if n.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(name)
    policy = fetch_policy(Settings(_env_file=None))
    assert policy.user_agent == "newsflow/0.1 (+https://github.com/newsflow/newsflow)"
    assert policy.deadline_s == 30.0
    assert policy.connect_timeout_s == 10.0
    assert policy.max_bytes == 10 * MB
    assert policy.max_retries == 3
    assert policy.backoff_base_s == 0.5
    assert policy.per_host_delay_s == 1.0
    assert policy.max_retry_after_s == 120.0
    assert policy.allow_private == frozenset()
    assert policy.proxy is None
    assert policy.proxy_from_env is False
    assert policy.host_delays == {}


# ---------------------------------------------------------------- row 15 (articles): 304


def test_conditional_get_sends_validators_and_maps_304() -> None:
    def conditional(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers=(("ETag", '"v1"'),), content_type=None)
        return Reply(body=PAGE, headers=(("ETag", '"v1"'), ("Last-Modified", "x")))

    with LoopbackServer({"/a": conditional}) as srv:
        fetcher = fetcher_for(srv)
        first = fetch(fetcher, srv.url("/a"))
        second = fetch(fetcher, srv.url("/a"), validators=(first.log.etag, first.log.last_modified))
        sent = [r.headers for r in srv.requests if r.path == "/a"][1]
    assert first.ok
    assert second.log.reason == "not_modified"
    assert second.page is None
    assert second.log.etag == '"v1"'
    assert second.log.last_modified == "x"
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "x"


# ---------------------------------------------------------------- row 17: charsets

JAPANESE = (
    '<html><head><meta charset="shift_jis"></head>'
    "<body><p>日本語のニュース「速報」</p></body></html>"
)
WESTERN = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    "</head><body><p>“Quoted” café – 5€ naïve</p></body></html>"
)
UNICODE = "<html><body><p>Ünïcödé – “quotes” and 日本</p></body></html>"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (UNICODE.encode(), "text/html", UNICODE),
        (JAPANESE.encode("shift_jis"), "text/html", JAPANESE),
        (WESTERN.encode("cp1252"), "text/html", WESTERN),
        (codecs.BOM_UTF8 + UNICODE.encode(), "text/html", UNICODE),
        (UNICODE.encode("utf-16"), "text/html", UNICODE),
        (UNICODE.encode(), "text/html; charset=ISO-8859-1", UNICODE),
        (WESTERN.encode("cp1252"), "text/html; charset=utf-8", WESTERN),
        ("<p>café</p>".encode("cp1252"), "text/html; charset=iso-8859-1", "<p>café</p>"),
    ],
    ids=[
        "utf8-no-charset",
        "sjis-meta",
        "cp1252-meta",
        "bom",
        "utf16-bom",
        "wrong-latin1-header",
        "wrong-utf8-header",
        "latin1-label",
    ],
)
def test_charsets_decode_without_mojibake(body: bytes, content_type: str, expected: str) -> None:
    with LoopbackServer({"/p": Reply(body=body, content_type=content_type)}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/p"))
    assert outcome.page is not None
    assert outcome.page.encoding is not None
    assert outcome.page.body.decode(outcome.page.encoding) == expected


@given(st.binary(max_size=2000), st.sampled_from([None, "text/html", "text/html; charset=bogus"]))
def test_detected_encoding_always_decodes(body: bytes, content_type: str | None) -> None:
    encoding = detect_encoding(body, content_type)
    assert detect_encoding(body, content_type) == encoding
    body.decode(encoding, errors="replace")


# ---------------------------------------------------------------- row 18: non-HTML


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"%PDF-1.7" + b"\0" * 5000, content_type="application/pdf"),
        Reply(body=b"\x89PNG\r\n" + b"\0" * 5000, content_type="image/png"),
        Reply(body=b"\0" * 5000, content_type="application/octet-stream"),
        Reply(body=b"%PDF-1.7" + b"\0" * 5000, content_type=None),
    ],
    ids=["pdf", "png", "octet-stream", "pdf-without-type"],
)
def test_non_html_at_article_urls_is_skipped_without_reading_it(reply: Reply) -> None:
    with LoopbackServer({"/file": reply}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/file"))
    assert outcome.log.reason == "non_html"
    assert outcome.page is None
    assert outcome.log.bytes <= 64 * 1024


def test_feeds_are_not_subject_to_the_html_filter() -> None:
    xml = b"<?xml version='1.0'?><rss><channel></channel></rss>"
    with LoopbackServer({"/f": Reply(body=xml, content_type="application/octet-stream")}) as srv:
        outcome = fetch(fetcher_for(srv), srv.url("/f"), purpose="feed")
    assert outcome.ok
    assert outcome.body == xml
    assert outcome.page is None


# ---------------------------------------------------------------- broken servers


def test_a_closed_port_is_a_connection_error() -> None:
    with LoopbackServer() as srv:
        port = srv.port
        fetcher = fetcher_for(srv, max_retries=1)
    outcome = fetch(fetcher, f"http://127.0.0.1:{port}/a")
    assert outcome.log.reason == "robots_unavailable"  # robots.txt is the first to fail
    assert outcome.robots_log is not None
    assert outcome.robots_log.reason == "connection_error"
    assert outcome.robots_log.attempts == 2


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Many: header\r\n" * 200 + b"\r\n", "protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort", "connection_error"),
        (b"", "connection_error"),
    ],
    ids=["not-http", "too-many-headers", "truncated-body", "empty-answer"],
)
def test_broken_http_is_recorded_with_a_reason(raw: bytes, reason: str) -> None:
    with LoopbackServer({"/a": Reply(raw=raw)}) as srv:
        outcome = fetch(fetcher_for(srv, max_retries=0), srv.url("/a"))
    assert outcome.log.reason == reason


# ---------------------------------------------------------------- https: pinned, verified


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ssl.SSLContext]:
    """A throw-away CA and a server certificate for the name `localhost` only."""
    return tls_certificate(tmp_path_factory.mktemp("tls"))


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(
    tls_files: tuple[str, ssl.SSLContext],
) -> None:
    ca_file, context = tls_files
    with LoopbackServer({"/a": Reply(body=PAGE)}, tls=context) as srv:
        name = f"localhost:{srv.port}"
        fetcher = fetcher_for(allow_private=frozenset({name}), ca_file=ca_file)
        outcome = fetch(fetcher, srv.url("/a", host="localhost"))
        request = next(r for r in srv.requests if r.path == "/a")
    assert outcome.ok
    assert outcome.log.final_url == f"https://{name}/a"
    assert request.headers["host"] == name


def test_https_to_a_pinned_host_verifies_the_certificate_against_the_url_host(
    tls_files: tuple[str, ssl.SSLContext],
) -> None:
    ca_file, context = tls_files
    with LoopbackServer({"/a": Reply(body=PAGE)}, tls=context) as srv:
        fetcher = pinned_fetcher(srv, "localhost", ca_file=ca_file)
        outcome = fetch(fetcher, "https://localhost/a")
        request = next(r for r in srv.requests if r.path == "/a")
    assert outcome.ok, outcome.detail
    assert request.headers["host"] == "localhost"


def test_https_certificates_are_verified(tls_files: tuple[str, ssl.SSLContext]) -> None:
    ca_file, context = tls_files
    with LoopbackServer({"/a": Reply(body=PAGE)}, tls=context) as srv:
        url = srv.url("/a", host="127.0.0.1")
        untrusted = fetch(fetcher_for(srv, respect_robots=False), url)
        wrong_name = fetch(fetcher_for(srv, ca_file=ca_file, respect_robots=False), url)
        assert srv.hits("/a") == 0
    assert untrusted.log.reason == "tls_error"
    assert wrong_name.log.reason == "tls_error"
