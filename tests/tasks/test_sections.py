"""Section and home pages: article links, the next page and feeds (tasks/sections.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.sections import InvalidSelector, compile_selector, read_page, same_site

PAGE = "https://outlet.example/news/"

SECTION = b"""<!doctype html>
<html lang="en"><head><title>News | The Outlet</title>
<link rel="alternate" type="application/rss+xml" title="News" href="/news/feed.xml">
<link rel="alternate" type="application/rss+xml" title="Comments feed" href="/comments/feed">
<link rel="alternate" type="application/atom+xml" href="https://outlet.example/atom.xml">
<link rel="alternate" hreflang="de" href="https://outlet.example/de/news/">
</head><body>
<header class="site-header">
  <a href="/">The Outlet</a>
  <nav><a href="/news/">News</a> <a href="/sport/">Sport</a>
    <a href="/news/2024/05/02/nav-pinned-story-about-the-budget.html">Budget live</a></nav>
</header>
<div class="cookie-banner"><a href="/privacy-policy">Privacy policy and cookie settings</a></div>
<main>
  <h1>News</h1>
  <article class="teaser">
    <a href="/news/2024/05/03/harbour-bridge-reopens-after-repairs.html"><img src="/img/b.jpg"></a>
    <header><h2><a href="/news/2024/05/03/harbour-bridge-reopens-after-repairs.html">
      Harbour bridge reopens after repairs</a></h2></header>
    <footer><a href="/author/jane-doe">Jane Doe</a> <a href="/tag/transport/">Transport</a></footer>
  </article>
  <ul class="story-list">
    <li><a href="/news/local/council-approves-new-library-budget-48213">Council approves new
      library budget for the east side</a></li>
    <li><h3><a href="https://www.outlet.example/article/88120">Ferry strike ends</a></h3></li>
    <li><a href="https://outlet.example/news/europe/">Europe</a></li>
    <li><a href="https://elsewhere.example/2024/05/03/a-story-on-another-site.html">Elsewhere
      runs the same story about the bridge</a></li>
    <li><a href="/media/2024/05/03/bridge-opening-ceremony-photo.jpg">Photo of the bridge
      opening ceremony</a></li>
  </ul>
  <div class="most-read"><h2>Most read</h2><ol>
    <li><a href="/news/2024/04/01/older-most-read-story-about-tax.html">Older most read story
      about tax</a></li></ol></div>
  <aside><a href="/news/2024/04/02/sidebar-story-about-the-weather.html">Sidebar story about
    the weather</a></aside>
  <section class="related-stories"><a href="/news/2024/04/03/related-story-about-trains.html">
    Related story about trains</a></section>
  <nav class="pagination" aria-label="pagination"><a href="/news/?page=1">1</a>
    <a href="/news/?page=2" rel="next">Next page</a></nav>
</main>
<footer><a href="/news/2024/04/04/footer-story-about-the-awards.html">Footer story about the
  awards night</a> <a href="/about">About us</a></footer>
</body></html>"""


def test_section_page_gives_only_its_article_links_once_in_page_order() -> None:
    page = read_page(SECTION, PAGE)
    assert page.links == (
        "https://outlet.example/news/2024/05/03/harbour-bridge-reopens-after-repairs.html",
        "https://outlet.example/news/local/council-approves-new-library-budget-48213",
        "https://www.outlet.example/article/88120",
    )


def test_rel_next_names_the_next_page() -> None:
    assert read_page(SECTION, PAGE).next_url == "https://outlet.example/news/?page=2"


def test_feeds_declared_by_the_page_are_found_without_comment_feeds() -> None:
    assert read_page(SECTION, PAGE).feeds == (
        "https://outlet.example/news/feed.xml",
        "https://outlet.example/atom.xml",
    )


def test_without_main_links_outside_page_furniture_count() -> None:
    page = SECTION.replace(b"<main>", b'<div class="content">').replace(b"</main>", b"</div>")
    assert read_page(page, PAGE).links == read_page(SECTION, PAGE).links


def test_links_outside_main_are_left_when_main_lists_articles() -> None:
    page = SECTION.replace(
        b"</main>",
        b'</main><div class="column-two"><a href="/news/2024/04/05/outside-main-long-story-title'
        b'.html">A story outside the main column</a></div>',
    )
    assert b"outside-main" in page
    assert all("outside-main" not in link for link in read_page(page, PAGE).links)


def test_a_links_selector_with_has_and_not_narrows_the_links() -> None:
    page = b"""<html><body><main>
      <article><h2><a href="/s/first-story-of-the-day">First</a></h2><time>today</time></article>
      <article class="sponsored"><h2><a href="/s/paid-for-post-about-loans">Paid</a></h2>
        <time>today</time></article>
      <article><h2><a href="/s/story-without-a-date">No date</a></h2></article>
      <article><h2><a href="/tag/loans/">Tag</a></h2><time>today</time></article>
    </main></body></html>"""
    selector = "article:has(time):not(.sponsored) h2"
    assert read_page(page, PAGE, links=selector).links == (
        "https://outlet.example/s/first-story-of-the-day",
    )
    generic = read_page(page, PAGE).links
    assert "https://outlet.example/s/paid-for-post-about-loans" in generic


def test_a_links_selector_takes_links_the_generic_rules_would_not() -> None:
    page = b"""<html><body><nav class="menu"><a href="/n/7">Seven</a></nav>
      <div id="list"><a href="/n/8">Eight</a></div></body></html>"""
    assert read_page(page, PAGE).links == ()
    assert read_page(page, PAGE, links="nav.menu a, #list a").links == (
        "https://outlet.example/n/7",
        "https://outlet.example/n/8",
    )


def test_a_next_selector_picks_the_next_page() -> None:
    page = b"""<html><body><div class="more"><a class="older" href="/news/p2">Older</a>
      </div></body></html>"""
    assert read_page(page, PAGE).next_url is None
    assert read_page(page, PAGE, next_selector="div.more").next_url == (
        "https://outlet.example/news/p2"
    )


def test_next_link_in_head_and_next_text_in_a_pager_are_found() -> None:
    head = b'<html><head><link rel="next" href="/news/page/2/"></head><body></body></html>'
    assert read_page(head, PAGE).next_url == "https://outlet.example/news/page/2/"
    pager = b'<html><body><div class="pager"><a href="/news/3">Next &rsaquo;</a></div></body>'
    assert read_page(pager, PAGE).next_url == "https://outlet.example/news/3"
    elsewhere = b'<html><head><link rel="next" href="https://other.example/news/2"></head>'
    assert read_page(elsewhere, PAGE).next_url is None


def test_base_href_resolves_relative_links() -> None:
    page = b"""<html><head><base href="https://outlet.example/archive/"></head><body>
      <a href="2024/05/03/story-under-the-base-url.html">Story under the base URL</a></body>"""
    assert read_page(page, PAGE).links == (
        "https://outlet.example/archive/2024/05/03/story-under-the-base-url.html",
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://outlet.example/a", True),
        ("https://www.outlet.example/a", True),
        ("http://news.outlet.example/a", True),
        ("https://outlet.example:8443/a", False),
        ("https://outlet.example.evil.test/a", False),
        ("https://notoutlet.example/a", False),
    ],
)
def test_same_site(url: str, expected: bool) -> None:
    assert same_site(url, "https://outlet.example/news/") is expected


def test_invalid_selectors_are_named() -> None:
    with pytest.raises(InvalidSelector, match=r"invalid CSS selector 'div\[\[\['"):
        compile_selector("div[[[")
    with pytest.raises(InvalidSelector):
        read_page(SECTION, PAGE, links="a:has(")


def test_deeply_nested_page_does_not_recurse_out() -> None:
    page = (
        b"<html><body>"
        + b"<div>" * 5000
        + b'<a href="/news/2024/05/03/a-story-deep-down-the-page.html">Deep</a>'
        + b"</div>" * 5000
    )
    read_page(page, PAGE)  # no RecursionError, whatever the parser keeps of the nesting


def test_a_teaser_date_comes_with_its_link_and_a_list_date_does_not() -> None:
    page = b"""<html><body><main>
      <article><h2><a href="/news/first-story-of-the-day">First story of the day</a></h2>
        <a href="/author/ann/">Ann</a> <time datetime="2026-03-10T08:30:00+01:00">today</time>
      </article>
      <ul><li><a href="/news/second-story-of-the-day">Second story of the day</a></li>
        <li><a href="/news/third-story-of-the-day">Third story of the day</a></li>
        <time datetime="2026-03-01">updated</time></ul>
    </main></body></html>"""
    found = read_page(page, PAGE)
    assert len(found.links) == 3
    first = "https://outlet.example/news/first-story-of-the-day"
    assert dict(found.dates) == {first: datetime(2026, 3, 10, 7, 30, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("href", "taken"),
    [
        ("/news/2024/05/03/bridge.html", True),
        ("/news/local/council-approves-new-library-budget-48213", True),
        ("/article-12.html", True),
        ("/articles/1.html", True),
        ("/p/harbour-bridge-reopens", True),
        ("/harbour-bridge-reopens-after-repairs", True),
        ("/world/", False),
        ("/world/europe", False),
        ("/sport/index.html", False),
        ("/news.html", False),
        ("/tag/harbours/", False),
        ("/author/jane-doe-the-reporter", False),
        ("/search?q=harbour+bridge", False),
        ("/media/2024/05/03/bridge-opening-photo.jpg", False),
        ("/news/?page=2", False),
        ("/", False),
    ],
)
def test_article_like_links_in_a_plain_list(href: str, taken: bool) -> None:
    page = f"<html><body><main><ul><li><a href='{href}'>Harbour bridge reopens today</a></li>"
    found = read_page(f"{page}</ul></main></body></html>".encode(), PAGE).links
    assert bool(found) is taken
