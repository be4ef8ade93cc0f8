"""robots.txt (RFC 9309): what each kind of answer to /robots.txt allows for the rest of a run.

The fetcher's side (fetched once per origin, obeyed, paced) is in test_fetch.py; these tests
hold the decision itself, `robots_from_answer`, at each boundary the RFC draws.
"""

from __future__ import annotations

import pytest

from tasks.robots import robots_from_answer

PAGE = "https://news.example/2026/05/harbour-barrier"


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("http_400", 400),
        ("http_401", 401),
        ("http_403", 403),
        ("http_404", 404),
        ("http_410", 410),
        ("http_4xx", 499),
    ],
)
def test_a_4xx_answer_other_than_429_allows_everything(reason: str, status: int) -> None:
    decision = robots_from_answer(reason, status, None)
    assert not decision.unavailable
    assert decision.allows(PAGE, "newsflow")
    assert decision.crawl_delay("newsflow") is None


@pytest.mark.parametrize("reason", ["redirect_loop", "too_many_redirects"])
def test_a_redirect_that_never_arrives_allows_everything(reason: str) -> None:
    decision = robots_from_answer(reason, 301, None)
    assert not decision.unavailable
    assert decision.allows(PAGE, "newsflow")


@pytest.mark.parametrize(
    ("reason", "status", "detail"),
    [
        ("rate_limited", 429, "robots.txt rate_limited (status 429)"),
        ("http_5xx", 500, "robots.txt http_5xx (status 500)"),
        ("http_5xx", 503, "robots.txt http_5xx (status 503)"),
        ("http_5xx", 599, "robots.txt http_5xx (status 599)"),
        ("http_3xx", 304, "robots.txt http_3xx (status 304)"),
        ("timeout", None, "robots.txt timeout"),
        ("connection_error", None, "robots.txt connection_error"),
        ("blocked_address", None, "robots.txt blocked_address"),
    ],
)
def test_an_unreachable_robots_txt_allows_nothing_and_says_why(
    reason: str, status: int | None, detail: str
) -> None:
    decision = robots_from_answer(reason, status, None)
    assert decision.unavailable
    assert not decision.allows(PAGE, "newsflow")
    assert decision.detail == detail


def test_rules_for_our_token_apply_to_us_and_the_star_group_to_others() -> None:
    text = (
        b"User-agent: newsflow\nDisallow: /drafts/\nCrawl-delay: 2.5\n\n"
        b"User-agent: *\nDisallow: /\n"
    )
    decision = robots_from_answer("ok", 200, text)
    assert not decision.unavailable
    assert decision.allows(PAGE, "newsflow")
    assert not decision.allows("https://news.example/drafts/1", "newsflow")
    assert not decision.allows(PAGE, "otherbot")
    assert decision.crawl_delay("newsflow") == 2.5
    assert decision.crawl_delay("otherbot") is None


def test_bytes_that_are_not_utf8_do_not_stop_the_rules_from_applying() -> None:
    text = "User-agent: *\n# Caf\xe9 du port\nDisallow: /archives/\n".encode("latin-1")
    decision = robots_from_answer("ok", 200, text)
    assert not decision.allows("https://news.example/archives/2019", "newsflow")
    assert decision.allows(PAGE, "newsflow")


@pytest.mark.parametrize("body", [b"", None])
def test_an_empty_robots_txt_allows_everything(body: bytes | None) -> None:
    decision = robots_from_answer("ok", 200, body)
    assert not decision.unavailable
    assert decision.allows(PAGE, "newsflow")
    assert decision.crawl_delay("newsflow") is None


def test_the_sitemaps_robots_txt_lists_are_given_as_written() -> None:
    text = (
        b"Sitemap: https://news.example/sitemap-news.xml\n"
        b"User-agent: *\nDisallow: /drafts/\n"
        b"Sitemap: https://cdn.example/Sitemap_Index.xml\n"
    )
    decision = robots_from_answer("ok", 200, text)
    assert decision.sitemaps == (
        "https://news.example/sitemap-news.xml",
        "https://cdn.example/Sitemap_Index.xml",
    )
    assert robots_from_answer("http_404", 404, None).sitemaps == ()
    assert robots_from_answer("timeout", None, None).sitemaps == ()
