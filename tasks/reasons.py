"""The closed set of reason codes, owned here once.

Every code a `fetch_log` row or a `rejected` row can carry is one entry of `REASONS`, with
what it means, the stages whose `rejected` rows use it, whether a `fetch_log` row can end
with it, and whether it is transient (the same URL may well succeed in a later run). The
rest is derived from the table: the accepted values the data checks hold both tables to
(`FETCH_LOG_REASONS`, `REJECTED_REASONS`, `STAGES`) and `TRANSIENT`.

`ReasonCode` and `Stage` type the records' fields (`tasks.records`). mypy needs a `Literal`
written out, so each is written once here and `tests/tasks/test_reasons.py` holds it equal
to the table. Code that branches on a code or names a stage uses the constants below.

This module imports nothing from the stages: they import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Stage = Literal["discover", "frontier", "fetch", "archive", "extract", "dedupe"]

ReasonCode = Literal[
    "ok",
    "not_modified",
    "http_3xx",
    "http_400",
    "http_401",
    "http_403",
    "http_404",
    "http_410",
    "http_451",
    "http_4xx",
    "http_5xx",
    "rate_limited",
    "timeout",
    "connection_error",
    "dns_error",
    "tls_error",
    "protocol_error",
    "bad_encoding",
    "too_large",
    "non_html",
    "blocked_address",
    "robots",
    "robots_unavailable",
    "host_unavailable",
    "too_many_redirects",
    "redirect_loop",
    "parse_error",
    "unsafe_xml",
    "no_items",
    "duplicate_url",
    "already_seen",
    "over_cap",
    "outside_window",
    "not_article",
    "paywall",
    "unchanged",
    "warc_revisit",
    "warc_truncated",
    "not_http",
    "corrupt_record",
    "filtered_out",
]

STAGE_DISCOVER: Final = "discover"
STAGE_FRONTIER: Final = "frontier"
STAGE_FETCH: Final = "fetch"
STAGE_ARCHIVE: Final = "archive"
STAGE_EXTRACT: Final = "extract"
STAGE_DEDUPE: Final = "dedupe"

OK: Final = "ok"
NOT_MODIFIED: Final = "not_modified"
NO_ITEMS: Final = "no_items"
UNCHANGED: Final = "unchanged"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code."""

    meaning: str
    stages: tuple[Stage, ...]  # the stages whose `rejected` rows carry it (none: `ok`)
    fetch_log: bool = False  # a `fetch_log` row can end with it
    transient: bool = False  # the server may answer differently in a later run


_ARCHIVED: tuple[Stage, ...] = (STAGE_ARCHIVE,)  # an archived answer can say it too


def _fetch(meaning: str, *, transient: bool = False, also: tuple[Stage, ...] = ()) -> Reason:
    """A way a request can end: a `fetch_log` row, and a `rejected` row at the fetch stage."""
    return Reason(meaning, (STAGE_FETCH, *also), fetch_log=True, transient=transient)


REASONS: Mapping[str, Reason] = MappingProxyType(
    {
        # ------------------------------------------------------------ fetch
        OK: Reason("2xx answer; the body was read in full within the caps", (), fetch_log=True),
        NOT_MODIFIED: _fetch(
            "304 to a conditional request: nothing new since the stored validators",
            also=_ARCHIVED,
        ),
        "http_3xx": _fetch(
            "a redirect without a usable Location, or another 3xx answer", also=_ARCHIVED
        ),
        "http_400": _fetch("400 Bad Request", also=_ARCHIVED),
        "http_401": _fetch("401 Unauthorized (login required)", also=_ARCHIVED),
        "http_403": _fetch("403 Forbidden", also=_ARCHIVED),
        "http_404": _fetch("404 Not Found", also=_ARCHIVED),
        "http_410": _fetch("410 Gone", also=_ARCHIVED),
        "http_451": _fetch("451 Unavailable For Legal Reasons", also=_ARCHIVED),
        "http_4xx": _fetch(
            "another 4xx client error (the status column has the code)", also=_ARCHIVED
        ),
        "http_5xx": _fetch(
            "5xx server error, still failing after the retries", transient=True, also=_ARCHIVED
        ),
        "rate_limited": _fetch(
            "429 Too Many Requests after the retries, or a Retry-After beyond the cap",
            transient=True,
            also=_ARCHIVED,
        ),
        "timeout": _fetch(
            "the total deadline passed (connect, headers and body together)", transient=True
        ),
        "connection_error": _fetch(
            "connection refused, reset or closed early, after the retries", transient=True
        ),
        "dns_error": _fetch("the host name did not resolve", transient=True),
        "tls_error": _fetch("TLS handshake or certificate verification failed"),
        "protocol_error": _fetch("the server did not speak valid HTTP/1.x", also=_ARCHIVED),
        "bad_encoding": _fetch("unsupported or corrupt Content-Encoding", also=_ARCHIVED),
        "too_large": _fetch(
            "Content-Length or the decoded body exceeds the size cap; in discovery, a document "
            "that inflates past its cap or an index naming too many sitemaps",
            also=(STAGE_DISCOVER, STAGE_ARCHIVE),
        ),
        "non_html": _fetch(
            "an article URL answered with a non-HTML type (PDF, image, binary ...)",
            also=_ARCHIVED,
        ),
        "blocked_address": _fetch(
            "scheme not http(s), or the host resolves to a non-public address",
            also=(STAGE_DISCOVER,),
        ),
        "robots": _fetch("robots.txt disallows this URL for our user agent"),
        "robots_unavailable": _fetch(
            "robots.txt answered 5xx or failed: nothing from the host this run", transient=True
        ),
        "host_unavailable": _fetch(
            "the host failed repeatedly this run; its remaining URLs are skipped", transient=True
        ),
        "too_many_redirects": _fetch("more redirects than the policy allows (5)"),
        "redirect_loop": _fetch("a redirect leads back to a URL already visited"),
        # ------------------------------------------------------------ discover
        "parse_error": Reason(
            "a feed, sitemap, link or page could not be parsed at all",
            (STAGE_DISCOVER, STAGE_EXTRACT),
            fetch_log=True,  # a malformed link in a feed: a fetch_log row without an attempt
        ),
        "unsafe_xml": Reason(
            "a feed or sitemap declares entities (entity bombs, external entities)",
            (STAGE_DISCOVER,),
        ),
        NO_ITEMS: Reason(
            "a feed or sitemap was fetched but lists no article URL", (STAGE_DISCOVER,)
        ),
        # ------------------------------------------------------------ frontier
        "duplicate_url": Reason(
            "the URL was already listed in this run (by this or another source)",
            (STAGE_FRONTIER,),
        ),
        "already_seen": Reason(
            "the URL is already in the warehouse as an article", (STAGE_FRONTIER,)
        ),
        "over_cap": Reason(
            "beyond the source's or the run's max_articles", (STAGE_FRONTIER, STAGE_ARCHIVE)
        ),
        "outside_window": Reason(
            "a backfill date's run left it to the run of the date it carries", (STAGE_FRONTIER,)
        ),
        # ------------------------------------------------------------ extract
        "not_article": Reason(
            "not an article; detail says which kind (index_page, video_only, "
            "javascript_shell, error_page, empty_body)",
            (STAGE_EXTRACT,),
        ),
        "paywall": Reason(
            "only a teaser is readable: the story is behind a paywall", (STAGE_EXTRACT,)
        ),
        # ------------------------------------------------------------ archive
        "warc_revisit": Reason(
            "a WARC revisit record: it points at an earlier capture and has no payload",
            (STAGE_ARCHIVE,),
        ),
        "warc_truncated": Reason(
            "a WARC record marked WARC-Truncated: the capture is incomplete", (STAGE_ARCHIVE,)
        ),
        "not_http": Reason(
            "a WARC response record whose block is not an HTTP response", (STAGE_ARCHIVE,)
        ),
        "corrupt_record": Reason(
            "a WARC record that captures a page but names no target URI", (STAGE_ARCHIVE,)
        ),
        "filtered_out": Reason(
            "left out by the source's filters; detail names the filter (publisher, "
            "url_pattern, warc_date, language)",
            (STAGE_ARCHIVE, STAGE_EXTRACT),
        ),
        # ------------------------------------------------------------ dedupe
        UNCHANGED: Reason(
            "fetched again because its feed said it changed, but the body is the same",
            (STAGE_DEDUPE,),
        ),
    }
)

STAGES: tuple[Stage, ...] = (
    STAGE_DISCOVER,
    STAGE_FRONTIER,
    STAGE_FETCH,
    STAGE_ARCHIVE,
    STAGE_EXTRACT,
    STAGE_DEDUPE,
)
"""The stages a `rejected` row can name, in flow order."""

FETCH_LOG_REASONS: frozenset[str] = frozenset(c for c, r in REASONS.items() if r.fetch_log)
REJECTED_REASONS: frozenset[str] = frozenset(c for c, r in REASONS.items() if r.stages)
TRANSIENT: frozenset[str] = frozenset(c for c, r in REASONS.items() if r.transient)
SUCCESS: frozenset[str] = frozenset({OK, NOT_MODIFIED})
"""Fetch reasons that are not a failure: the answer, or the news that nothing changed."""
