"""Extraction: golden pages, charsets, date and author rules, hostile input."""

from __future__ import annotations

import codecs
import gzip
import importlib.util
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.charset import decode_html
from tasks.clean import clean_article
from tasks.extract import (
    ExtractionError,
    agrees_with,
    bag_of_words,
    extract_article,
    over_pruned,
    prefer_default,
    shown_text,
)
from tasks.pages import extract_page
from tasks.records import Article, Discovered, FetchedPage, Selectors, Source

TESTS = Path(__file__).resolve().parents[1]
PAGES = TESTS / "fixtures" / "pages"
FETCHED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PAGE_KINDS = {"article", "index_page", "video_only", "javascript_shell", "error_page"}

BODY = "".join(
    f"<p>Paragraph {n} of the story says something long enough to count as article text, "
    f"with names, places and a few numbers like {n * 7} to make it look real.</p>"
    for n in range(1, 7)
)


def _load_regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_golden", TESTS / "regen_golden.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regen = _load_regen()


def page(head: str = "", body: str = BODY, charset: str = "utf-8") -> bytes:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}">{head}</head>'
        f"<body><nav><a href='/'>Home</a></nav><article><h1>Headline</h1>{body}</article>"
        f"<footer>© Example</footer></body></html>"
    ).encode()


def extract(html: bytes, url: str = "https://news.example/story", **kwargs: object) -> Article:
    return extract_article(html, url, fetched_at=FETCHED_AT, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ golden pages


@pytest.mark.parametrize("name", sorted(p.stem for p in PAGES.glob("*.json")))
def test_golden_page_extracts_as_recorded(name: str) -> None:
    golden = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    article = regen.run_case((PAGES / f"{name}.html").read_bytes(), golden["input"])
    assert regen.article_to_json(article) == golden["expected"]


def test_every_golden_page_has_a_case_and_a_json() -> None:
    htmls = {p.stem for p in PAGES.glob("*.html")}
    jsons = {p.stem for p in PAGES.glob("*.json")}
    assert htmls == jsons == set(regen.CASES)


def test_golden_pages_cover_every_date_source_and_page_kind() -> None:
    expected = [json.loads(p.read_text(encoding="utf-8"))["expected"] for p in PAGES.glob("*.json")]
    assert {e["published_source"] for e in expected} >= {
        "jsonld",
        "meta",
        "time_element",
        "url",
        "feed",
    }
    assert {e["page_kind"] for e in expected} == PAGE_KINDS


def test_seed_style_page_keeps_story_and_moves_extras_out_of_body() -> None:
    golden = json.loads((PAGES / "seed_style_article.json").read_text(encoding="utf-8"))
    article = regen.run_case((PAGES / "seed_style_article.html").read_bytes(), golden["input"])
    assert (
        article.title
        == "Russia’s Putin accepts North Korea’s visit invitation after talks with Kim"
    )
    assert "What Russia’s purchase of North Korean arms" not in article.body
    assert "Additional reporting by Reuters" not in article.body
    assert article.credit_lines == ("Additional reporting by Reuters",)
    assert len(article.highlights) == 2
    assert not any(h in article.body for h in article.highlights)
    assert article.body.startswith("He is also due to oversee a display of Russian warships")
    assert article.body.endswith("He also praised the “heroic” Russian army.")
    assert article.authors == ("Mei Lin Tan",)
    assert "The Harbour Post" not in article.authors
    assert article.canonical_url == (
        "https://harbourpost.example/world/asia/putin-accepts-north-korea-invitation"
    )
    assert "Typhoon brings record rain" not in article.body
    assert "cookies" not in article.body


# ------------------------------------------------------------------ charsets


def test_windows_1252_page_decodes_by_meta_without_mojibake() -> None:
    article = extract((PAGES / "meta_date_windows1252.html").read_bytes())
    assert article.title == "Café owners brace for “hard winter” as energy bills rise"
    assert "Amélie Roux" in article.body
    assert "Ã" not in article.body


def test_shift_jis_page_decodes_by_meta() -> None:
    article = extract((PAGES / "time_element_shift_jis.html").read_bytes())
    assert article.title == "港町の朝市、三年ぶりに再開"
    assert article.language == "ja"


def test_utf8_bom_is_stripped_and_decoded() -> None:
    raw = b"\xef\xbb\xbf" + page(charset="windows-1252").replace(
        b"Headline", "Ünïcode “title”".encode()
    )
    assert decode_html(raw).startswith("<!DOCTYPE html>")
    assert "Ünïcode “title”" in decode_html(raw)


def test_utf8_bytes_with_stale_legacy_meta_charset_are_read_as_utf8() -> None:
    raw = page(charset="Shift_JIS").replace(b"Headline", "Zürich’s “café”".encode())
    assert "Zürich’s “café”" in decode_html(raw)


def test_utf8_page_without_declared_charset() -> None:
    raw = page().replace(b'<meta charset="utf-8">', b"").replace(b"Headline", "Ærø".encode())
    assert "Ærø" in decode_html(raw)


def test_fetcher_encoding_is_used_for_legacy_bytes_without_meta() -> None:
    raw = "<html><body><p>Größe – naïve</p></body></html>".encode("cp1252")
    assert "Größe – naïve" in decode_html(raw, "windows-1252")


# ------------------------------------------------------------------ dates


def test_future_jsonld_date_is_ignored_for_the_next_source() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "2031-01-01T00:00:00Z"}</script>'
        '<meta property="article:published_time" content="2024-05-01T08:00:00+02:00">'
    )
    article = extract(page(head))
    assert article.published_at == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert article.published_source == "meta"


def test_dates_are_utc_and_never_after_fetch_time() -> None:
    body = '<time datetime="2024-07-01T00:00:00Z">July</time>' + BODY
    article = extract(page(body=body), url="https://news.example/2024/05/30/story")
    assert article.published_source == "url"
    assert article.published_at == datetime(2024, 5, 30, tzinfo=UTC)


def test_naive_date_is_taken_as_utc() -> None:
    article = extract(
        page('<meta property="article:published_time" content="2024-03-02T10:15:00">')
    )
    assert article.published_at == datetime(2024, 3, 2, 10, 15, tzinfo=UTC)


def test_page_date_wins_over_feed_date() -> None:
    discovered = Discovered(
        url="https://news.example/story",
        source_id="s",
        found_in="feed",
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    head = '<meta property="article:published_time" content="2024-02-02T00:00:00Z">'
    article = extract(page(head), discovered=discovered)
    assert article.published_source == "meta"


def test_naive_feed_date_is_taken_as_utc() -> None:
    discovered = Discovered(
        url="https://news.example/story",
        source_id="s",
        found_in="feed",
        published_at=datetime(2024, 1, 1, 9, 30),  # a feed date without a zone
    )
    article = extract(page(), discovered=discovered)
    assert article.published_at == datetime(2024, 1, 1, 9, 30, tzinfo=UTC)
    assert article.published_source == "feed"


def test_placeholder_year_one_date_is_ignored() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "0001-01-01T00:00:00Z"}</script>'
    )
    assert extract(page(head)).published_at is None


def test_naive_date_is_read_in_the_sources_timezone() -> None:
    head = '<meta property="article:published_time" content="2024-03-02T10:15:00">'
    article = extract(page(head), timezone="Europe/Berlin")
    assert article.published_at == datetime(2024, 3, 2, 9, 15, tzinfo=UTC)


def test_naive_date_is_read_in_the_offset_of_the_pages_other_dates() -> None:
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "2024-04-28 18:11:01.0"}</script>'
        '<meta name="last-modified" content="2024-04-28T18:43:01+02:00">'
    )
    article = extract(page(head))
    assert article.published_at == datetime(2024, 4, 28, 16, 11, 1, tzinfo=UTC)
    assert article.modified_at == datetime(2024, 4, 28, 16, 43, 1, tzinfo=UTC)


def test_naive_date_is_read_in_the_zone_of_the_pages_locale_country() -> None:
    head = (
        '<meta property="og:locale" content="ko_KR">'
        '<meta property="article:published_time" content="2024-04-28T18:40:00">'
    )
    article = extract(page(head))
    assert article.published_at == datetime(2024, 4, 28, 9, 40, tzinfo=UTC)


def test_bare_day_is_not_moved_by_the_zone_of_the_pages_locale() -> None:
    head = '<meta property="og:locale" content="ko_KR">'
    from_url = extract(page(head), url="https://news.example/2024/05/30/story")
    assert from_url.published_at == datetime(2024, 5, 30, tzinfo=UTC)
    day_meta = head + '<meta property="article:published_time" content="2024-05-30">'
    assert extract(page(day_meta)).published_at == datetime(2024, 5, 30, tzinfo=UTC)
    day_text = extract(page(head, body='<p class="date">Published 30 May 2024</p>' + BODY))
    assert day_text.published_at == datetime(2024, 5, 30, tzinfo=UTC)


def test_offset_of_the_pages_other_dates_wins_over_its_locale() -> None:
    head = (
        '<meta property="og:locale" content="ko_KR">'
        '<meta property="article:published_time" content="2024-04-28T18:40:00">'
        '<meta name="last-modified" content="2024-04-28T19:00:00+00:00">'
    )
    article = extract(page(head))
    assert article.published_at == datetime(2024, 4, 28, 18, 40, tzinfo=UTC)


def test_publication_time_kept_only_in_a_data_attribute_is_read() -> None:
    body = (
        '<div class="article-info" data-re-deploy-dt="2024.04.28 19:49"'
        ' data-deploy-dt="2024.04.28 18:40" data-writer="Kim"></div>' + BODY
    )
    article = extract(page(body=body))
    assert article.published_at == datetime(2024, 4, 28, 18, 40, tzinfo=UTC)
    assert article.published_source == "attribute"


def test_modification_time_in_a_data_attribute_is_not_the_publication_date() -> None:
    body = '<div data-re-deploy-dt="2024.04.28 19:49" data-published-updated-at="2024-04-28"></div>'
    article = extract(page(body=body + BODY))
    assert article.published_at is None


def test_sources_timezone_wins_over_the_pages_hint() -> None:
    head = (
        '<meta property="article:published_time" content="2024-01-10T08:00:00">'
        '<meta name="last-modified" content="2024-01-10T09:00:00+00:00">'
    )
    article = extract(page(head), timezone="Asia/Seoul")
    assert article.published_at == datetime(2024, 1, 9, 23, 0, tzinfo=UTC)


def test_url_day_is_midnight_in_the_sources_timezone() -> None:
    article = extract(page(), url="https://news.example/2024/05/30/story", timezone="Asia/Tokyo")
    assert article.published_at == datetime(2024, 5, 29, 15, 0, tzinfo=UTC)


def test_extract_page_passes_the_sources_timezone() -> None:
    head = '<meta property="article:published_time" content="2024-03-02T10:15:00">'
    fetched = FetchedPage(
        source_id="s",
        url="https://news.example/story",
        final_url="https://news.example/story",
        status=200,
        content_type="text/html",
        body=page(head),
        fetched_at=FETCHED_AT,
    )
    source = Source(
        id="s", kind="urls", urls=("https://news.example/story",), timezone="Asia/Tokyo"
    )
    article = extract_page(fetched, source)
    assert isinstance(article, Article)
    assert article.published_at == datetime(2024, 3, 2, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "key", ["article:published:time", "article_published_time", "og:published_time"]
)
def test_spelling_variants_of_the_published_time_meta_are_read(key: str) -> None:
    head = f'<meta property="{key}" content="2024-02-03T04:05:06Z">'
    article = extract(page(head))
    assert article.published_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert article.published_source == "meta"


def test_time_element_marked_as_modified_is_not_the_publication_date() -> None:
    body = (
        '<time itemprop="dateModified" datetime="2024-05-20T10:00:00Z">20 May</time>'
        '<time datetime="2024-05-18T07:30:00Z">18 May</time>' + BODY
    )
    article = extract(page(body=body))
    assert article.published_at == datetime(2024, 5, 18, 7, 30, tzinfo=UTC)
    assert article.published_source == "time_element"


def test_date_shown_only_as_text_under_the_headline_is_read() -> None:
    body = (
        '<div class="teaser-date">01.01.24 | 08:00 Uhr</div>'
        "<h1>Hafenfest zieht Rekordpublikum an</h1>"
        '<div class="lineinfo">Do 25.04.24 | 14:07 Uhr | Von Mara Lind</div>' + BODY
    )
    html = page(body=body).replace(b"<h1>Headline</h1>", b"")
    article = extract(html, timezone="Europe/Berlin")
    assert article.published_at == datetime(2024, 4, 25, 12, 7, tzinfo=UTC)
    assert article.published_source == "text"


def test_day_only_date_takes_the_time_the_page_shows_for_that_day() -> None:
    head = '<meta name="date" content="2024-04-01">'
    body = '<p class="meta_date">erstellt: <strong>01. April 2024, 15:25</strong></p>' + BODY
    article = extract(page(head, body=body), timezone="Europe/Rome")
    assert article.published_at == datetime(2024, 4, 1, 13, 25, tzinfo=UTC)


# ------------------------------------------------------------------ authors


def test_organisation_authors_and_publisher_name_are_not_people() -> None:
    head = (
        '<meta property="og:site_name" content="Daily Example">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": ['
        '{"@type": "Organization", "name": "Daily Example"},'
        '{"@type": "Person", "name": "Ana Ruiz"},'
        '{"@type": "Person", "name": "Daily Example"}],'
        '"publisher": {"@type": "Organization", "name": "Daily Example"}}</script>'
    )
    assert extract(page(head)).authors == ("Ana Ruiz",)


def test_jsonld_headline_entities_are_decoded() -> None:
    head = (
        '<script type="application/ld+json">'
        '{"@type": "NewsArticle", "headline": "Q&amp;A: it&#8217;s on"}</script>'
    )
    assert extract(page(head)).title == "Q&A: it’s on"


def test_byline_is_split_into_people() -> None:
    head = '<meta name="author" content="By Ana Ruiz, Li Wei and Sam Okafor">'
    assert extract(page(head)).authors == ("Ana Ruiz", "Li Wei", "Sam Okafor")


def test_staff_byline_gives_no_author() -> None:
    body = '<p class="byline">By Example News Staff</p>' + BODY
    assert extract(page(body=body)).authors == ()


# ------------------------------------------------------------------ body


def test_link_only_paragraph_is_dropped_but_inline_links_are_kept() -> None:
    body = (
        BODY
        + '<p><a href="/other">Why the harbour plan split the council</a></p>'
        + '<p>The mayor <a href="/mayor">said</a> the plan would be voted on'
        + " next week by all members.</p>"
        + BODY.replace("Paragraph", "Later paragraph")
    )
    article = clean_article(extract(page(body=body)))
    assert "Why the harbour plan split the council" not in article.body
    assert "The mayor said the plan would be voted on next week by all members." in article.body


def test_drop_selector_removes_element_from_generic_body() -> None:
    body = (
        BODY
        + '<div class="promo"><p>Buy our print edition today and save on every issue.</p></div>'
    )
    plain = extract(page(body=body))
    dropped = extract(page(body=body), selectors=Selectors(drop=(".promo",)))
    assert "print edition" in plain.body
    assert "print edition" not in dropped.body


def test_body_selector_matching_nothing_falls_back_to_generic_extractor() -> None:
    article = extract(page(), selectors=Selectors(body=".no-such-class"))
    assert "Paragraph 3 of the story" in article.body
    assert ("body", "selector") not in article.provenance


def test_invalid_selector_falls_back_instead_of_raising() -> None:
    article = extract(page(), selectors=Selectors(body="div[[["))
    assert "Paragraph 3 of the story" in article.body


def test_body_paragraphs_are_joined_by_blank_lines() -> None:
    article = clean_article(extract(page()))
    assert article.body.count("\n\n") == 5


def test_canonical_url_falls_back_to_final_url() -> None:
    article = extract(page(), final_url="https://news.example/story-final")
    assert article.canonical_url == "https://news.example/story-final"


# ------------------------------------------------------------------ canonical URL

STORY = "https://news.example/world/2024/harbour-plan"


def canonical_of(url: str, head: str = "", final_url: str | None = None) -> str:
    return extract(page(head), url=url, final_url=final_url).canonical_url


def test_tracking_parameters_without_rel_canonical_are_dropped() -> None:
    assert canonical_of(STORY + "?utm_source=x&utm_medium=y&fbclid=abc") == STORY


def test_canonical_url_is_the_normal_spelling_of_the_final_url() -> None:
    assert canonical_of("HTTPS://News.Example:443/world/2024/harbour-plan#comments") == STORY


def test_declared_canonical_on_the_same_site_is_used_and_normalised() -> None:
    head = '<link rel="canonical" href="https://www.news.example/world/2024/harbour-plan?b=2&a=1">'
    assert canonical_of(STORY + "?ref=home", head) == (
        "https://www.news.example/world/2024/harbour-plan?a=1&b=2"
    )


def test_og_url_is_used_without_rel_canonical() -> None:
    head = f'<meta property="og:url" content="{STORY}">'
    assert canonical_of("https://news.example/s/12345", head) == STORY


def test_relative_canonical_is_resolved_against_the_final_url() -> None:
    head = '<link rel="canonical" href="../2024/harbour-plan">'
    url = "https://news.example/world/share/123"
    assert canonical_of(url, head, final_url="https://news.example/world/2024/x") == STORY


def test_off_site_canonical_is_ignored() -> None:
    head = '<link rel="canonical" href="https://aggregator.example/world/2024/harbour-plan">'
    assert canonical_of(STORY, head) == STORY


def test_off_site_og_url_is_ignored() -> None:
    head = '<meta property="og:url" content="https://aggregator.example/harbour-plan">'
    assert canonical_of(STORY, head) == STORY


@pytest.mark.parametrize(
    "home", ["https://news.example/", "/", "https://www.news.example", "https://news.example/#top"]
)
def test_home_page_canonical_is_ignored(home: str) -> None:
    head = f'<link rel="canonical" href="{home}"><meta property="og:url" content="{home}">'
    assert canonical_of(STORY, head) == STORY


def test_stories_of_a_site_declaring_its_home_page_keep_their_own_canonical_urls() -> None:
    head = '<link rel="canonical" href="https://news.example/">'
    urls = [f"https://news.example/local/story-{n}" for n in range(3)]
    assert [canonical_of(url, head) for url in urls] == urls


@pytest.mark.parametrize(
    "variant",
    [
        "https://news.example/amp/world/2024/harbour-plan",
        "https://news.example/world/2024/harbour-plan/amp",
        "https://news.example/world/2024/harbour-plan?amp=1",
        "https://news.example/world/2024/harbour-plan?amp",
        "https://amp.news.example/world/2024/harbour-plan",
        "https://news.example/world/2024/harbour-plan?amp=1&utm_source=x",
    ],
)
def test_amp_page_without_rel_canonical_maps_to_its_article(variant: str) -> None:
    assert canonical_of(variant) == STORY


def test_amp_page_with_a_relative_canonical_maps_to_it() -> None:
    head = '<link rel="canonical" href="/world/2024/harbour-plan">'
    assert canonical_of("https://news.example/amp/world/2024/harbour-plan", head) == STORY


@pytest.mark.parametrize(
    "declared",
    [
        "javascript:void(0)",
        "http://[::1",
        "https://news.example:99999/world",
        "https://bad host.example/world",
        "mailto:desk@news.example",
        "   ",
        "\x00",
    ],
)
def test_unusable_declared_canonical_falls_back_without_raising(declared: str) -> None:
    head = f'<link rel="canonical" href="{declared}"><meta property="og:url" content="{declared}">'
    assert canonical_of(STORY, head) == STORY


def test_page_without_an_http_url_keeps_its_url_as_canonical() -> None:
    # `newsflow extract FILE` names a saved page by its file: URL.
    head = f'<link rel="canonical" href="{STORY}">'
    assert canonical_of("file:///tmp/saved.html", head) == "file:///tmp/saved.html"


# ------------------------------------------------------------------ bytes that are not HTML


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


NOT_HTML = {
    "elf": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + _noise(4000, 1),
    "elf-with-markup-strings": b"\x7fELF\x02\x01\x01\x00"
    + b"\x00" * 8
    + _noise(2000, 2)
    + b"<html><body><p>usage: prog [options]</p></body></html>"
    + _noise(2000, 3),
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + _noise(3000, 4),
    "pdf": (
        b"%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n"
        b"2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n"
        b"3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>\nendobj\n"
        b"trailer\n<</Root 1 0 R>>\n%%EOF\n"
    ),
    "gzip-of-a-page": gzip.compress(page(), mtime=0),
    "random-bytes": _noise(5000, 5),
    "nul-padded": b"\x00" * 2000 + b"<p>hello</p>",
    "plain-text": b"Just a plain sentence about the harbour plan, no markup at all.\n" * 40,
    "plain-text-with-a-less-than-sign": b"Prices rose 3% < 5% forecast; 2 <3 hearts.\n" * 40,
}


@pytest.mark.parametrize("raw", NOT_HTML.values(), ids=NOT_HTML.keys())
def test_bytes_that_are_not_html_raise_extraction_error(raw: bytes) -> None:
    with pytest.raises(ExtractionError, match="not HTML"):
        extract(raw)


def test_html_fragment_without_html_element_still_extracts() -> None:
    article = extract(BODY.encode())
    assert "Paragraph 3 of the story" in article.body


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: codecs.BOM_UTF8 + text.encode(),
    ],
    ids=["utf-16-le-bom", "utf-16-be-bom", "utf-8-bom"],
)
def test_html_in_a_unicode_encoding_with_a_bom_still_extracts(
    encode: Callable[[str], bytes],
) -> None:
    text = page().decode().replace("Headline", "Zürich’s “café” 港町")
    article = extract(encode(text))
    assert article.page_kind == "article"
    assert article.title == "Zürich’s “café” 港町"
    assert "Paragraph 3 of the story" in article.body


def test_utf16_page_without_bom_extracts_with_the_fetcher_charset() -> None:
    raw = page().decode().replace("Headline", "Zürich’s “café”").encode("utf-16-le")
    article = extract(raw, encoding="utf-16-le")
    assert article.title == "Zürich’s “café”"
    assert "Paragraph 3 of the story" in article.body


# ------------------------------------------------------------------ hostile input


def test_div_nested_5000_deep_gives_an_article_record_not_recursion_error() -> None:
    html = (
        b"<html><body>"
        + b"<div>" * 5000
        + b"<p>deep text</p>"
        + b"</div>" * 5000
        + b"</body></html>"
    )
    article = extract(html)
    assert article.page_kind in PAGE_KINDS


def test_json_ld_nested_5000_deep_is_skipped() -> None:
    head = '<script type="application/ld+json">' + "[" * 5000 + "]" * 5000 + "</script>"
    article = extract(page(head))
    assert article.page_kind == "article"


def test_empty_input_raises_extraction_error() -> None:
    with pytest.raises(ExtractionError):
        extract(b"")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_give_an_article_or_extraction_error(raw: bytes) -> None:
    try:
        first = extract(raw)
    except ExtractionError:
        with pytest.raises(ExtractionError):
            extract(raw)
        return
    assert first.page_kind in PAGE_KINDS
    assert extract(raw) == first
    clean_article(first)


TAG_SOUP = [
    "<div>", "</div>", "<p>", "</p>", "<a href='/x'>", "</a>", "<table>", "<td>", "<script>",
    "</script>", "text ", "“quote” ", "<li>", "<!--", "-->", "\x00",
]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TAG_SOUP), max_size=400))
def test_arbitrary_tag_soup_gives_an_article_or_extraction_error(parts: list[str]) -> None:
    raw = "".join(parts).encode()
    try:
        article = extract(raw)
    except ExtractionError:
        return
    assert article.page_kind in PAGE_KINDS


def test_time_element_marked_as_published_comes_first() -> None:
    body = (
        '<time datetime="2024-05-20T10:00:00Z">20 May</time>'
        '<time itemprop="datePublished" datetime="2024-05-18T07:30:00Z">18 May</time>' + BODY
    )
    assert extract(page(body=body)).published_at == datetime(2024, 5, 18, 7, 30, tzinfo=UTC)


# ------------------------------------------------------------------ body repair


def test_precision_mode_keeping_under_half_the_story_is_over_pruned() -> None:
    assert over_pruned(kept_words=120, story_words=900)
    assert not over_pruned(kept_words=600, story_words=900)
    assert over_pruned(kept_words=30, story_words=40)


def test_default_mode_replaces_precision_mode_that_kept_under_half_of_it() -> None:
    kept = "Harbour pier reopens after storm damage. " * 10
    offered = kept + "Fishermen returned to the quay on Monday with full nets and new hope. " * 20
    assert prefer_default(kept, offered, None)
    assert not prefer_default(offered, offered + " One more line about the pier.", None)


def test_the_mode_agreeing_with_the_pages_own_body_text_wins() -> None:
    sentences = [
        f"Fishermen returned to quay number {n} on Monday with full nets and new hope."
        for n in range(12)
    ]
    story = " ".join(sentences)
    most = " ".join(sentences[:9])  # three quarters: not over-pruned by length alone
    teaser_block = "Subscribe to our newsletter for the best deals on garden furniture. " * 8
    reference = bag_of_words(story)
    assert prefer_default(most, story, reference)
    assert not prefer_default(most, story, None)
    assert not prefer_default(story, story + teaser_block, reference)


def test_paragraphs_mostly_absent_from_the_pages_body_text_are_dropped() -> None:
    story = [
        "Fishermen returned to the quay on Monday with full nets and new hope.",
        "The harbour master said repairs to the pier would finish within a month.",
    ]
    promo = "Subscribe now and save forty percent on your first year of home delivery."
    reference = bag_of_words(" ".join(story))
    assert agrees_with([story[0], promo, story[1]], reference) == story
    assert agrees_with(["Short line.", *story], reference) == ["Short line.", *story]


def _script_state_page(encode_twice: bool) -> bytes:
    story = "".join(
        f"<p>Paragraph {n} of the story the page only ships inside its script state, long "
        f"enough to count as article text with a number like {n * 11}.</p>"
        for n in range(1, 6)
    )
    story += (
        '<div class="img-box"><img src="/pier.jpg"><div class="caption"><p>Fishermen watch '
        "the pier works from the harbour wall. Photo agency</p></div></div>"
        "<figure><img src='/map.png'><figcaption><p>Map of the new pier</p></figcaption></figure>"
    )
    # Serialised state escapes "<" as \\u003c; a JavaScript string may hold it once more.
    state = json.dumps({"article": {"contents": story}}).replace("<", "\\u003c")
    if encode_twice:
        state = json.dumps(state)
    head = (
        '<meta property="og:type" content="article">'
        '<meta property="og:title" content="A story only scripts show">'
    )
    body = (
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><div id='app'></div>"
        f"<script>self.__state = {state};</script>"
    )
    return f"<html><head>{head}</head><body>{body}</body></html>".encode()


@pytest.mark.parametrize("encode_twice", [False, True], ids=["json", "json-in-json"])
def test_story_held_only_in_script_state_is_extracted(encode_twice: bool) -> None:
    article = extract(_script_state_page(encode_twice))
    assert article.page_kind == "article"
    assert article.body.startswith("Paragraph 1 of the story the page only ships")
    assert article.body.count("\n\n") == 4  # captions and figures left out
    assert ("body", "script_state") in article.provenance


def test_article_page_whose_text_only_scripts_render_is_a_javascript_shell() -> None:
    menu = "".join(f"<a href='/s{n}'>Section{n}</a> " for n in range(12))
    legal = "Copyright the publisher and its licensors, all rights reserved worldwide. " * 4
    html = (
        '<html><head><meta property="og:type" content="article"></head><body>'
        f"<nav>{menu}</nav><div id='root'></div><footer><small>{legal}</small></footer>"
        '<script src="/app.js"></script></body></html>'
    )
    assert extract(html.encode()).page_kind == "javascript_shell"


def test_teaser_card_inside_a_link_is_dropped_from_the_body() -> None:
    card = (
        '<a href="/other-story"><div><h3>Storm closes the ferry line</h3>'
        "<p>STORM WARNING: The ferry company said crossings would stop until the wind eased "
        "and the harbour master gave the all clear.</p></div></a>"
    )
    article = clean_article(extract(page(body=BODY[: len(BODY) // 2] + card + BODY)))
    assert "ferry company said crossings would stop" not in article.body
    assert "Paragraph 6 of the story" in article.body


@pytest.mark.parametrize(
    "prefix", ["Les også", "Czytaj także", "Leggi anche", "Auch interessant", "Läs också"]
)
def test_read_also_links_are_dropped_in_many_languages(prefix: str) -> None:
    related = (
        f'<p><b>{prefix} <a href="/x">Harbour board picks a new chair after long vote</a></b></p>'
    )
    article = clean_article(extract(page(body=BODY + related + BODY.replace("Paragraph", "Part"))))
    assert "Harbour board picks a new chair" not in article.body
    assert "Part 6 of the story" in article.body


@pytest.mark.parametrize(
    "label",
    ["<strong>Harbour and ferries:</strong>", "<b>SOMA ENYE INDABA LAPHA |</b>", "Mehr dazu »"],
)
def test_linked_headline_after_a_short_label_of_any_language_is_dropped(label: str) -> None:
    headline = '<a href="/x">Harbour board picks a new chair after long vote</a>'
    related = f"<p>{label} {headline}</p>"
    article = clean_article(extract(page(body=BODY + related + BODY.replace("Paragraph", "Part"))))
    assert "Harbour board picks a new chair" not in article.body
    assert "Part 6 of the story" in article.body


def test_short_link_after_a_label_stays_in_the_story() -> None:
    shop = '<p><strong>See it now:</strong> <a href="https://shop.example/x">Harbour Shop</a></p>'
    article = clean_article(extract(page(body=BODY + shop + BODY.replace("Paragraph", "Part"))))
    assert "See it now: Harbour Shop" in article.body


@pytest.mark.parametrize(
    "line",
    [
        "Czytaj także: Harbour board picks a new chair after long vote",
        "Les også: Harbour board picks a new chair after long vote",
        "Follow the Courier on Google News to get our reporting in your feed.",
    ],
)
def test_related_and_follow_lines_are_boilerplate(line: str) -> None:
    article = clean_article(extract(page(body=BODY + f"<p>{line}</p>" + BODY)))
    assert line not in article.body


# ------------------------------------------------------------------ standfirst

DEK = "The harbour board approved the pier extension after a two-year fight over its costs."


def _dek_page(dek_markup: str, description: str = DEK) -> bytes:
    head = f'<meta name="description" content="{description}">'
    return page(head=head, body=dek_markup + BODY)


def test_description_the_page_shows_is_the_lead_in_the_pages_spelling() -> None:
    shown = DEK.replace("two-year", "two‑year").replace("its", "<em>its</em>")
    article = extract(_dek_page(f'<div class="dek">{shown}</div>'))
    assert article.lead == (
        "The harbour board approved the pier extension after a two‑year fight over its costs."
    )
    assert dict(article.provenance)["lead"] == "page"


def test_longest_description_the_page_shows_is_the_lead() -> None:
    more = "Work starts in May and the ferry keeps its berth."
    head = f'<meta name="description" content="{DEK}">'
    head += f'<meta property="og:description" content="{DEK} {more}">'
    dek = f'<div class="dek"><p>{DEK}</p><p>{more}</p></div>'
    article = extract(page(head=head, body=dek + BODY))
    assert article.lead == f"{DEK} {more}"


@pytest.mark.parametrize(
    "markup",
    [
        f"<figure><img src='/pier.jpg'><figcaption>{DEK}</figcaption></figure>",
        f"<a href='/other-story'><p>{DEK}</p></a>",
        f"<script>var state = {{'teaser': '{DEK}'}};</script>",
        "",
    ],
    ids=["caption", "link", "script", "absent"],
)
def test_description_not_shown_as_a_block_of_the_story_is_a_meta_lead(markup: str) -> None:
    article = extract(_dek_page(markup))
    assert article.lead == DEK
    assert dict(article.provenance)["lead"] == "meta"


def test_shown_text_puts_a_shown_lead_before_a_body_without_it() -> None:
    article = extract(_dek_page(f'<div class="dek">{DEK}</div>'))
    without = replace(article, body="Paragraph one.\n\nParagraph two.")
    assert shown_text(without) == f"{DEK}\n\nParagraph one.\n\nParagraph two."
    others = "\n\n".join(f"Paragraph {n}." for n in range(1, 6))
    holding = replace(article, body=f"{others}\n\n{DEK}")
    assert shown_text(holding) == holding.body
    # A first paragraph that retells the standfirst in other words holds it too.
    retold = "The harbour board approved the pier extension after a two-year fight over costs."
    near_top = replace(article, body=f"{retold}\n\n{others}")
    assert shown_text(near_top) == near_top.body
    meta_lead = replace(without, provenance=(("lead", "meta"),))
    assert shown_text(meta_lead) == without.body


@pytest.mark.parametrize("box_class", ["fact-box border-color-black", "infobox", "article-factbox"])
def test_fact_box_beside_the_story_is_left_out(box_class: str) -> None:
    box = (
        f'<div class="{box_class}"><h3>Facts about piers</h3><ul>'
        "<li>The longest pier in the region runs for more than two kilometres into the sea.</li>"
        "<li>Piers built of oak last about sixty years before their decks are replaced.</li>"
        "<li>Most harbour piers are inspected by divers every other spring after the storms.</li>"
        "</ul></div>"
    )
    article = clean_article(extract(page(body=BODY + box + BODY.replace("Paragraph", "Part"))))
    assert "longest pier in the region" not in article.body
    assert "Part 6 of the story" in article.body
