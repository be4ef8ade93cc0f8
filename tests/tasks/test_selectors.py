"""Per-source CSS rules in extraction (soupsieve), and what discovery hands to extraction."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from tasks.extract import Selection, extract_article, parse_html
from tasks.records import Article, Discovered, Selectors

FETCHED_AT = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
STORY = " ".join(f"Sentence {i} of the harbour story goes on for a while." for i in range(40))


def page(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


ARTICLE = page(
    '<div class="story teaser"><p>A teaser that is not the story.</p></div>'
    '<div class="story"><h2 class="hed">Harbour reopens</h2>'
    f"<p>{STORY}</p>"
    '<div class="box"><a class="promo-link" href="/x">Subscribe now for more</a></div>'
    '<div class="box"><p>A box without a link stays in the body.</p></div>'
    '<p class="ad">Advertisement paragraph</p>'
    "<p>Last paragraph of the story.</p></div>"
)


def extract(html: bytes, **kwargs: Any) -> Article:
    return extract_article(html, "https://news.example/a", fetched_at=FETCHED_AT, **kwargs)


def test_body_and_drop_rules_use_not_and_has() -> None:
    rules = Selectors(
        body="div.story:not(.teaser)",
        drop=("div.box:has(> a.promo-link)", "p:is(.ad, .sponsor)"),
    )
    article = extract(ARTICLE, selectors=rules)
    body = article.body
    assert ("body", "selector") in article.provenance
    assert "A teaser" not in body
    assert "Subscribe now" not in body
    assert "Advertisement" not in body
    assert "A box without a link stays in the body." in body
    assert body.endswith("Last paragraph of the story.")


def test_title_rule_with_not() -> None:
    html = page('<h1 class="kicker">Local</h1><h1 class="hed">Harbour reopens</h1>' + STORY)
    article = extract(html, selectors=Selectors(title="h1:not(.kicker)"))
    assert article.title == "Harbour reopens"
    assert ("title", "selector") in article.provenance


def test_nested_drop_matches_are_removed_once() -> None:
    html = page(f'<div class="x"><div class="x"><p>Drop me</p></div></div><p>{STORY}</p>')
    article = extract(html, selectors=Selectors(drop=("div.x", "div.x p")))
    assert "Drop me" not in article.body


def test_rules_leave_the_page_without_their_marks() -> None:
    root = parse_html(ARTICLE)
    selection = Selection.of(root, Selectors(body="div.story"))
    assert selection is not None
    assert [el.get("class") for el in selection.select("div.story:not(.teaser)")] == ["story"]
    assert all(not any(k.startswith("data-newsflow") for k in el.attrib) for el in root.iter())


def test_sources_without_rules_get_no_soup() -> None:
    root = parse_html(ARTICLE)
    assert Selection.of(root, None) is None
    assert Selection.of(root, Selectors()) is None


def test_news_sitemap_metadata_fills_what_the_page_lacks_with_its_provenance() -> None:
    bare = page(f"<p>{STORY}</p>")
    listed = Discovered(
        url="https://news.example/a",
        source_id="s",
        found_in="https://news.example/news-sitemap.xml",
        title="Harbour reopens after repairs",
        published_at=datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
        found_by="news_sitemap",
        language="en",
        keywords=("harbours", "repairs"),
        publication="Harbour Post",
    )
    article = extract(bare, discovered=listed)
    assert article.title == "Harbour reopens after repairs"
    assert article.published_at == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    provenance = dict(article.provenance)
    assert provenance["title"] == "news_sitemap"
    assert provenance["published_at"] == "news_sitemap"
    assert article.published_source == "news_sitemap"
    assert article.keywords == ("harbours", "repairs")
    assert article.site_name == "Harbour Post"
    assert article.language == "en"


def test_feed_metadata_keeps_its_feed_provenance() -> None:
    listed = Discovered(
        url="https://news.example/a",
        source_id="s",
        found_in="https://news.example/feed.xml",
        title="From the feed",
        published_at=datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
    )
    article = extract(page(f"<p>{STORY}</p>"), discovered=listed)
    provenance = dict(article.provenance)
    assert (provenance["title"], provenance["published_at"]) == ("feed", "feed")
    assert article.keywords == ()


def test_news_language_is_a_declared_language_hint() -> None:
    places = page("<p>" + "Tallinn 2026: Kadriorg, Pirita, Kalamaja. " * 20 + "</p>")
    assert extract(places).language is None  # nothing to go on without the hint
    listed = Discovered(
        url="https://news.example/a",
        source_id="s",
        found_in="https://news.example/news-sitemap.xml",
        found_by="news_sitemap",
        language="et",
    )
    assert extract(places, discovered=listed).language == "et"


def test_rules_see_the_page_after_its_drop_rules() -> None:
    html = page(
        '<div class="teaser"><h2>Teaser headline</h2></div><div class="story"><h2>Real headline'
        f'</h2><span class="note">Subscriber note</span><p>{STORY}</p></div>'
    )
    rules = Selectors(
        title="h2", body="div.story:not(:has(.note))", drop=("div.teaser", "span.note")
    )
    article = extract(html, selectors=rules)
    assert article.title == "Real headline"
    assert ("body", "selector") in article.provenance


def test_a_section_teaser_date_fills_an_undated_page_as_section() -> None:
    listed = Discovered(
        url="https://news.example/a",
        source_id="s",
        found_in="https://news.example/news/",
        published_at=datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
        found_by="section",
    )
    article = extract(page(f"<p>{STORY}</p>"), discovered=listed)
    assert (article.published_at, article.published_source) == (
        datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
        "section",
    )


def test_a_news_sitemap_beats_the_title_tag_and_a_url_date_but_not_the_page_s_own() -> None:
    listed = Discovered(
        url="https://news.example/2026/03/09/harbour",
        source_id="s",
        found_in="https://news.example/news-sitemap.xml",
        title="Harbour reopens after repairs",
        published_at=datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
        found_by="news_sitemap",
    )
    guessed = page(f"<p>{STORY}</p>", head="<title>Harbour | The Post</title>")
    article = extract_article(
        guessed, listed.url, fetched_at=FETCHED_AT, discovered=listed
    )
    assert (article.title, article.published_at) == (listed.title, listed.published_at)
    assert dict(article.provenance)["title"] == "news_sitemap"
    stated = page(
        f"<h1>Harbour reopens today</h1><time datetime='2026-03-09T07:00:00Z'>9 March</time>"
        f"<p>{STORY}</p>",
        head="<title>Harbour | The Post</title>",
    )
    own = extract_article(stated, listed.url, fetched_at=FETCHED_AT, discovered=listed)
    assert (own.title, own.published_source) == ("Harbour reopens today", "time_element")
    feed = replace(listed, found_by="feed")
    from_feed = extract_article(guessed, listed.url, fetched_at=FETCHED_AT, discovered=feed)
    assert (dict(from_feed.provenance)["title"], from_feed.published_source) == (
        "title_tag",
        "url",
    )
