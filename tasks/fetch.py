"""The fetcher: polite, bounded HTTP GETs that always end with a `fetch_log` row.

`HttpFetcher.fetch` takes one URL through the address guard (`tasks.guard`), robots.txt
(`tasks.robots`), the per-host politeness slot, retries and redirects, and returns a
`FetchOutcome` whose `log` carries one reason code (`tasks.reasons`). It never raises for
anything a server can do; it raises only for bugs. `fetch_batch` runs a batch with one
worker per host and hosts in parallel.

Each request is one `tasks.exchange.Transport.request_once` (requests, on urllib3): to the
checked address (or, for a host in `FetchPolicy.pinned_hosts`, to its pinned address and
port), under a total deadline and a size cap on the decoded body. Connections are kept alive
and reused for the next request to the same address from the same thread (`fetch_batch`
gives each host one thread). With `FetchPolicy.proxy` (or `proxy_from_env`), every request
but those to pinned hosts goes through that proxy; the guard checks each target (and each
redirect hop) before it is asked for, proxy or not. Bodies of articles are given a charset
by `tasks.charset.detect_encoding`.

Politeness is per `host:port`: one request at a time (`host_concurrency`) and a pause
between two requests. The pause is `FetchPolicy.host_delays[host:port]` when the operator
set one for the host (a source's `crawl_delay`, see `host_delays`), otherwise
`per_host_delay_s`. A robots.txt Crawl-delay (capped at `max_crawl_delay_s`) replaces the
default, and lengthens the operator's pause but never shortens it.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

from tasks.charset import detect_encoding
from tasks.exchange import Exchange, Limits, Transport
from tasks.guard import (
    DEFAULT_PORTS,
    BlockedAddress,
    ResolvedTarget,
    UnresolvableHost,
    check_url,
    netloc_key,
    normalize_pins,
    split_url,
)
from tasks.reasons import (
    FETCH_LOG_REASONS,
    NOT_MODIFIED,
    OK,
    REASONS,
    STAGE_FETCH,
    SUCCESS,
    TRANSIENT,
    ReasonCode,
)
from tasks.records import Discovered, FetchedPage, FetchLogEntry, Rejected, Source
from tasks.robots import Robots, robots_from_answer

logger = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NAMED_STATUSES: Mapping[int, ReasonCode] = MappingProxyType(
    {
        400: "http_400",
        401: "http_401",
        403: "http_403",
        404: "http_404",
        410: "http_410",
        451: "http_451",
    }
)

Purpose = str  # article | feed | sitemap | robots


HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})  # media types of article pages


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchPolicy:
    """Everything that bounds and paces the fetcher; the flow builds it from settings.

    The knobs `flows.settings.Settings` owns have no default here, so that the two can never
    disagree: build the policy with `flows.pipeline.fetch_policy`. The rest are the
    fetcher's own limits.
    """

    # Owned by Settings (see flows.pipeline.fetch_policy).
    user_agent: str
    deadline_s: float  # total time for one attempt: connect, headers and body
    connect_timeout_s: float
    max_bytes: int  # article bodies, on the wire and decoded
    max_retries: int  # further attempts after a 5xx, 429, 408 or connection error
    backoff_base_s: float  # attempt n waits about base * 2**(n-1), with jitter
    per_host_delay_s: float  # pause between two requests to one host (host:port) ...
    max_retry_after_s: float  # a longer Retry-After is not waited for
    allow_private: frozenset[str]  # "host:port" netlocs allowed to be private
    proxy: str | None  # an http(s):// proxy for every request but those to pinned hosts
    proxy_from_env: bool  # take the proxy from HTTP(S)_PROXY/ALL_PROXY/NO_PROXY (if no proxy)
    # The fetcher's own.
    robots_token: str = "newsflow"  # noqa: S105 (not a password) the product token matched against robots.txt groups
    max_document_bytes: int = 50 * 1024 * 1024  # feeds and sitemaps (the sitemap limit)
    robots_max_bytes: int = 512 * 1024  # robots.txt is parsed up to this size (RFC 9309)
    max_redirects: int = 5
    backoff_max_s: float = 30.0
    max_crawl_delay_s: float = 30.0  # a robots.txt Crawl-delay is capped to this
    # The operator's pause for given hosts ("host:port" -> seconds, see `host_delays`): it
    # replaces per_host_delay_s, and a robots.txt Crawl-delay can only lengthen it.
    host_delays: Mapping[str, float] = field(default_factory=dict)
    host_concurrency: int = 1
    max_host_failures: int = 3  # consecutive timeouts or connection errors before giving up
    article_types: frozenset[str] = HTML_TYPES
    ca_file: str | None = None  # extra CA certificates (PEM) to trust, e.g. an internal CA
    respect_robots: bool = True
    # The operator's own host map, "host[:port]" of a URL -> (IP address, port): a pinned
    # host is not resolved, may be loopback, and is reached at that address and port with
    # the URL's Host header (e.g. the sample site's virtual hosts, see `tasks.guard`).
    pinned_hosts: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Copies of its own (plain dicts, so that the policy still pickles).
        object.__setattr__(self, "host_delays", dict(self.host_delays))
        object.__setattr__(self, "pinned_hosts", normalize_pins(self.pinned_hosts))

    def delay_for(self, key: str) -> float:
        """The pause between two requests to `key` (host:port) before robots.txt is read."""
        return self.host_delays.get(key, self.per_host_delay_s)


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """The result of one `fetch`: always a log entry; the body when it succeeded."""

    log: FetchLogEntry
    page: FetchedPage | None = None  # successful HTML article fetches
    body: bytes | None = None  # the decoded body of any successful fetch
    encoding: str | None = None  # for text bodies: the charset to decode `body` with
    detail: str = ""  # human-readable cause of a failure
    robots_log: FetchLogEntry | None = None  # the robots.txt fetch this call triggered

    @property
    def ok(self) -> bool:
        return self.log.reason == OK

    def rejected(self) -> Rejected | None:
        """The `Rejected` row for a failed fetch (None for ok and not_modified)."""
        if self.log.reason in SUCCESS:
            return None
        return Rejected(
            source_id=self.log.source_id,
            url=self.log.url,
            stage=STAGE_FETCH,
            reason=self.log.reason,
            detail=self.detail,
        )


class Fetcher(Protocol):
    """What discovery and the flow need from a fetcher."""

    def fetch(
        self,
        url: str,
        *,
        source_id: str,
        purpose: Purpose = "article",
        validators: tuple[str | None, str | None] | None = None,
        now: Callable[[], datetime],
    ) -> FetchOutcome: ...

    def robots(
        self, url: str, *, source_id: str, now: Callable[[], datetime]
    ) -> tuple[Robots, FetchLogEntry | None]: ...


def status_reason(status: int) -> ReasonCode:
    if 200 <= status < 300:
        return OK
    if status == 304:
        return NOT_MODIFIED
    if 300 <= status < 400:
        return "http_3xx"
    if status == 429:
        return "rate_limited"
    if status in _NAMED_STATUSES:
        return _NAMED_STATUSES[status]
    if 400 <= status < 500:
        return "http_4xx"
    if 500 <= status < 600:
        return "http_5xx"
    return "protocol_error"


def retry_after_seconds(
    value: str | None, *, server_date: str | None, now: Callable[[], datetime]
) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), or None.

    An HTTP-date is measured from the response's Date header when it has one (both come
    from the server's clock), otherwise from `now()`.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    reference: datetime | None = None
    if server_date:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            reference = email.utils.parsedate_to_datetime(server_date)
    if reference is None:
        reference = now()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    return max(0.0, (when - reference).total_seconds())


# ------------------------------------------------------------------ the fetcher


@dataclass
class _Host:
    """Per host:port pacing state, shared by every thread of one fetcher."""

    slots: threading.BoundedSemaphore
    delay: float  # the pause between two requests
    floor: float = 0.0  # the operator's pause for this host: a Crawl-delay cannot shorten it
    next_allowed: float = 0.0  # time.monotonic() before which no request may start
    failures: int = 0  # consecutive timeouts and connection errors
    closed_until: float = 0.0  # time.monotonic() until which the host asked us to stay away


@dataclass
class _Call:
    """One fetch call: its arguments and what it accumulates over hops and attempts."""

    url: str
    source_id: str
    purpose: Purpose
    validators: tuple[str | None, str | None] | None
    now: Callable[[], datetime]
    attempts: int = 0
    elapsed: float = 0.0
    robots_log: FetchLogEntry | None = None
    visited: list[str] = field(default_factory=list)


def _strip_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


class HttpFetcher:
    """The live fetcher. One instance per run: it caches robots.txt and host state, and
    keeps connections alive (`close`, or `with HttpFetcher(...)`, closes them; otherwise
    they close when the fetcher is collected).

    Thread-safe: `fetch_batch` calls it from one thread per host.
    """

    def __init__(self, policy: FetchPolicy, *, rng: random.Random | None = None) -> None:
        self.policy = policy
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        self._robots: dict[str, Robots] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._tls = ssl.create_default_context()
        with contextlib.suppress(ImportError, OSError):
            import certifi

            self._tls.load_verify_locations(certifi.where())
        if policy.ca_file:
            self._tls.load_verify_locations(policy.ca_file)
        self._transport = Transport(
            self._tls, proxy=policy.proxy, proxy_from_env=policy.proxy_from_env
        )

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections kept alive for reuse."""
        self._transport.close()

    def _pinned(self, target: ResolvedTarget) -> bool:
        """Whether the operator pinned the target's host (`check_url` looks it up the same way)."""
        pins = self.policy.pinned_hosts
        if target.netloc in pins:
            return True
        name = f"[{target.host}]" if ":" in target.host else target.host
        return target.port == DEFAULT_PORTS[target.scheme] and name in pins

    def fetch(
        self,
        url: str,
        *,
        source_id: str,
        purpose: Purpose = "article",
        validators: tuple[str | None, str | None] | None = None,
        now: Callable[[], datetime],
    ) -> FetchOutcome:
        """Fetch one URL under the policy; every outcome, good or bad, is a FetchOutcome."""
        call = _Call(url, source_id, purpose, validators, now)
        current = url.strip()
        call.visited.append(_strip_fragment(current))
        for _hop in range(self.policy.max_redirects + 1):
            try:
                target = check_url(
                    current, self.policy.allow_private, pinned=self.policy.pinned_hosts
                )
            except BlockedAddress as exc:
                return self._finish(call, current, None, "blocked_address", exc.reason)
            except UnresolvableHost as exc:
                return self._finish(call, current, None, "dns_error", str(exc))
            host = self._host(target.netloc)
            if host.failures >= self.policy.max_host_failures:
                detail = f"{host.failures} consecutive failures"
                return self._finish(call, current, None, "host_unavailable", detail)
            if host.closed_until > time.monotonic():
                detail = "the host asked to wait longer than max_retry_after_s (Retry-After)"
                return self._finish(call, current, None, "rate_limited", detail)
            if purpose != "robots" and self.policy.respect_robots:
                robots, entry = self._robots_for(target, source_id=source_id, now=now)
                call.robots_log = call.robots_log or entry
                if robots.unavailable:
                    return self._finish(call, current, None, "robots_unavailable", robots.detail)
                if not robots.allows(current, self.policy.robots_token):
                    return self._finish(call, current, None, "robots", "disallowed by robots.txt")
            exchange = self._exchange_with_retries(target, call)
            if exchange.reason is not None:
                return self._finish(call, current, exchange, exchange.reason, exchange.detail)
            assert exchange.status is not None
            location = exchange.header("Location")
            if exchange.status in _REDIRECT_STATUSES and location:
                following = _strip_fragment(urljoin(current, location.strip()))
                if following in call.visited:
                    detail = f"back to {following}"
                    return self._finish(call, current, exchange, "redirect_loop", detail)
                call.visited.append(following)
                current = following
                continue
            return self._finish(call, current, exchange, status_reason(exchange.status), "")
        detail = f"more than {self.policy.max_redirects} redirects"
        return self._finish(call, current, None, "too_many_redirects", detail)

    def robots(
        self, url: str, *, source_id: str, now: Callable[[], datetime]
    ) -> tuple[Robots, FetchLogEntry | None]:
        """What robots.txt says for `url`'s origin, read once per run as for any fetch
        (discovery reads its `Sitemap:` lines), and the log row of the fetch this call made."""
        try:
            target = check_url(url, self.policy.allow_private, pinned=self.policy.pinned_hosts)
        except (BlockedAddress, UnresolvableHost) as exc:
            return Robots(rules=None, unavailable=True, detail=str(exc)), None
        return self._robots_for(target, source_id=source_id, now=now)

    # ---------------------------------------------------------------- outcome

    def _finish(
        self,
        call: _Call,
        final_url: str,
        exchange: Exchange | None,
        reason: ReasonCode,
        detail: str,
    ) -> FetchOutcome:
        assert reason in FETCH_LOG_REASONS, reason
        fetched_at = call.now()
        content_type = exchange.header("Content-Type") if exchange else None
        etag = exchange.header("ETag") if exchange else None
        last_modified = exchange.header("Last-Modified") if exchange else None
        if reason == NOT_MODIFIED and call.validators:
            etag = etag or call.validators[0]
            last_modified = last_modified or call.validators[1]
        entry = FetchLogEntry(
            source_id=call.source_id,
            url=call.url,
            final_url=final_url,
            status=exchange.status if exchange else None,
            reason=reason,
            attempts=call.attempts,
            bytes=exchange.wire_bytes if exchange else 0,
            elapsed_ms=round(call.elapsed * 1000),
            fetched_at=fetched_at,
            content_type=content_type,
            purpose=call.purpose,
            etag=etag,
            last_modified=last_modified,
        )
        if reason != OK:
            if reason != NOT_MODIFIED:
                logger.info("Skipped %s: %s (%s)", call.url, reason, detail)
            return FetchOutcome(log=entry, detail=detail, robots_log=call.robots_log)
        assert exchange is not None
        assert exchange.body is not None
        body = exchange.body
        encoding = None
        page = None
        if call.purpose == "article":
            encoding = detect_encoding(body, content_type)
            page = FetchedPage(
                source_id=call.source_id,
                url=call.url,
                final_url=final_url,
                status=exchange.status or 200,
                content_type=content_type,
                body=body,
                fetched_at=fetched_at,
                encoding=encoding,
                headers=exchange.headers,
            )
        return FetchOutcome(
            log=entry, page=page, body=body, encoding=encoding, robots_log=call.robots_log
        )

    # ---------------------------------------------------------------- pacing

    def _host(self, key: str) -> _Host:
        with self._lock:
            host = self._hosts.get(key)
            if host is None:
                host = _Host(
                    slots=threading.BoundedSemaphore(max(1, self.policy.host_concurrency)),
                    delay=self.policy.delay_for(key),
                    floor=self.policy.host_delays.get(key, 0.0),
                )
                self._hosts[key] = host
            return host

    @contextlib.contextmanager
    def _slot(self, key: str) -> Iterator[None]:
        """Hold one of the host's connection slots, after its politeness pause."""
        host = self._host(key)
        with host.slots:
            while True:
                with self._lock:
                    wait = host.next_allowed - time.monotonic()
                    if wait <= 0:
                        host.next_allowed = time.monotonic() + host.delay
                        break
                time.sleep(wait)
            try:
                yield
            finally:
                with self._lock:
                    host.next_allowed = max(host.next_allowed, time.monotonic() + host.delay)

    def _defer(self, key: str, seconds: float) -> None:
        host = self._host(key)
        with self._lock:
            host.next_allowed = max(host.next_allowed, time.monotonic() + seconds)

    def _backoff(self, attempt: int) -> float:
        base = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2 ** (attempt - 1))
        return base * (0.5 + 0.5 * self._rng.random())

    def _exchange_with_retries(self, target: ResolvedTarget, call: _Call) -> Exchange:
        purpose = call.purpose
        headers = {
            "Host": target.host_header,
            "User-Agent": self.policy.user_agent,
            "Accept": _ACCEPT.get(purpose, "*/*"),
            "Accept-Encoding": "gzip, deflate",
        }
        if call.validators and purpose != "robots":
            etag, last_modified = call.validators
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
        attempts = self.policy.max_retries + 1
        for attempt in range(1, attempts + 1):
            with self._slot(target.netloc):
                exchange = self._transport.request_once(
                    target, headers, self._limits(purpose), use_proxy=not self._pinned(target)
                )
            call.attempts += 1
            call.elapsed += exchange.elapsed
            host = self._host(target.netloc)
            with self._lock:
                if exchange.reason in ("timeout", "connection_error"):
                    host.failures += 1
                elif exchange.status is not None:
                    host.failures = 0
            asked = None
            if exchange.reason is None and exchange.status in (429, 503):
                asked = retry_after_seconds(
                    exchange.header("Retry-After"),
                    server_date=exchange.header("Date"),
                    now=call.now,
                )
            if asked is not None and asked > self.policy.max_retry_after_s:
                # Too long to wait for within a run: leave the host alone for the rest of it.
                logger.info("Host %s asked for %.0fs (Retry-After)", target.netloc, asked)
                with self._lock:
                    host.closed_until = max(host.closed_until, time.monotonic() + asked)
                return exchange
            if asked is not None:
                self._defer(target.netloc, asked)  # applies to the host's next request too
            retryable = exchange.reason == "connection_error" or (
                exchange.reason is None and exchange.status in _RETRY_STATUSES
            )
            if not retryable or attempt == attempts:
                return exchange
            if host.failures >= self.policy.max_host_failures:
                return exchange
            wait = self._backoff(attempt)
            logger.debug("Retrying %s in %.2fs (attempt %d)", target.url, wait, attempt)
            self._defer(target.netloc, wait)
        raise AssertionError("unreachable")

    # ---------------------------------------------------------------- robots.txt

    def _robots_for(
        self, target: ResolvedTarget, *, source_id: str, now: Callable[[], datetime]
    ) -> tuple[Robots, FetchLogEntry | None]:
        origin = f"{target.scheme}://{target.host_header}"
        with self._lock:
            cached = self._robots.get(origin)
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        if cached is not None:
            return cached, None
        with lock:
            with self._lock:
                cached = self._robots.get(origin)
            if cached is not None:
                return cached, None
            outcome = self.fetch(
                f"{origin}/robots.txt", source_id=source_id, purpose="robots", now=now
            )
            log = outcome.log
            robots = robots_from_answer(log.reason, log.status, outcome.body)
            delay = robots.crawl_delay(self.policy.robots_token)
            if delay is not None:
                host = self._host(target.netloc)
                with self._lock:
                    host.delay = max(host.floor, min(delay, self.policy.max_crawl_delay_s))
                    # the robots.txt request itself counts: pace the next one from it
                    host.next_allowed = max(host.next_allowed, time.monotonic() + host.delay)
            with self._lock:
                self._robots[origin] = robots
            return robots, outcome.log

    def _limits(self, purpose: Purpose) -> Limits:
        policy = self.policy
        cap = {"article": policy.max_bytes, "robots": policy.robots_max_bytes}
        return Limits(
            deadline_s=policy.deadline_s,
            connect_timeout_s=policy.connect_timeout_s,
            max_bytes=cap.get(purpose, policy.max_document_bytes),
            truncate=purpose == "robots",  # RFC 9309 2.5: parse the first part only
            html_types=policy.article_types if purpose == "article" else None,
        )


_ACCEPT = {
    "article": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,"
    "*/*;q=0.1",
    "sitemap": "application/xml,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}


# ------------------------------------------------------------------ batches


def politeness_key(url: str) -> str:
    """The host:port a URL is paced by ("" when the URL is not a fetchable http(s) URL)."""
    try:
        _scheme, host, port, _path = split_url(url)
    except BlockedAddress:
        return ""
    return netloc_key(host, port)


def host_delays(sources: Iterable[Source]) -> dict[str, float]:
    """The operator's pause per host (host:port) from the sources' `crawl_delay`.

    A source names its hosts by its location and its URL list; a host named by several
    sources gets the longest of their delays. Sources without a `crawl_delay`, and URLs that
    are not fetchable http(s) URLs, add nothing.
    """
    delays: dict[str, float] = {}
    for source in sources:
        if source.crawl_delay is None:
            continue
        for url in (source.location, *source.urls):
            key = politeness_key(url) if url else ""
            if key:
                delays[key] = max(delays.get(key, 0.0), source.crawl_delay)
    return delays


def fetch_batch(
    fetcher: Fetcher,
    items: Sequence[tuple[str, str] | Discovered],
    *,
    max_hosts_in_parallel: int,
    now: Callable[[], datetime],
    validators: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> list[FetchOutcome]:
    """Fetch a batch of article URLs: serial within a host, hosts in parallel threads.

    `items` are `(source_id, url)` pairs or `Discovered` records (which the resulting pages
    carry along). The result has one outcome per item, in the order of `items`.
    """
    jobs: list[tuple[str, str, Discovered | None]] = []
    for item in items:
        if isinstance(item, Discovered):
            jobs.append((item.source_id, item.url, item))
        else:
            jobs.append((item[0], item[1], None))
    groups: dict[str, list[int]] = {}
    for index, (_source, url, _found) in enumerate(jobs):
        groups.setdefault(politeness_key(url), []).append(index)
    results: list[FetchOutcome | None] = [None] * len(jobs)

    def run(indices: list[int]) -> None:
        for index in indices:
            source_id, url, found = jobs[index]
            outcome = fetcher.fetch(
                url,
                source_id=source_id,
                purpose="article",
                validators=(validators or {}).get(url),
                now=now,
            )
            if found is not None and outcome.page is not None:
                outcome = replace(outcome, page=replace(outcome.page, discovered=found))
            results[index] = outcome

    workers = max(1, min(max_hosts_in_parallel, len(groups)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch-host") as pool:
        futures = [pool.submit(run, indices) for indices in groups.values()]
        for future in futures:
            future.result()
    done = [outcome for outcome in results if outcome is not None]
    assert len(done) == len(jobs)
    return done


def describe(outcome: FetchOutcome) -> dict[str, object]:
    """A JSON-ready summary of an outcome (for `newsflow fetch`)."""
    log = outcome.log
    return {
        "url": log.url,
        "final_url": log.final_url,
        "status": log.status,
        "reason": log.reason,
        "meaning": REASONS[log.reason].meaning,
        "transient": log.reason in TRANSIENT,  # a later run may well succeed
        "detail": outcome.detail,
        "attempts": log.attempts,
        "bytes": log.bytes,
        "elapsed_ms": log.elapsed_ms,
        "content_type": log.content_type,
        "encoding": outcome.encoding,
        "etag": log.etag,
        "last_modified": log.last_modified,
        "fetched_at": log.fetched_at.isoformat(),
    }
