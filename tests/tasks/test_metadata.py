"""Metadata rules of `tasks.metadata`: titles, authors and bylines, dates."""

from __future__ import annotations

from datetime import UTC, datetime

from tasks import metadata
from tasks.extract import extract_article, parse_html

FETCHED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
STORY = (
    "<p>The harbour board met on Tuesday evening and voted to extend the pier by forty metres, "
    "a plan that fishermen had asked for since the storm two winters ago.</p>" * 4
)


def title_of(head: str, body: str, names: frozenset[str] = frozenset()) -> str | None:
    root = parse_html(f"<html><head>{head}</head><body>{body}</body></html>".encode())
    ld = metadata.main_jsonld(metadata.jsonld_objects(root))
    return metadata.choose_title(root, ld, metadata.meta_map(root), set(names))[0]


def ld_headline(text: str) -> str:
    return (
        '<script type="application/ld+json">'
        f'{{"@type": "NewsArticle", "headline": "{text}"}}</script>'
    )


def og(text: str, key: str = "og:title") -> str:
    return f'<meta property="{key}" content="{text}">'


# ------------------------------------------------------------------ titles


def test_heading_decides_between_differing_jsonld_and_og_titles() -> None:
    head = ld_headline("Pier extension approved in 2024, tested and rated") + og(
        "Pier extension approved after long campaign"
    )
    body = "<article><h1>Pier extension approved after long campaign</h1>" + STORY + "</article>"
    assert title_of(head, body) == "Pier extension approved after long campaign"


def test_jsonld_headline_is_kept_when_no_heading_shows_either_title() -> None:
    head = ld_headline("Pier extension approved") + og("You will not believe this pier")
    body = "<article><h1>Harbour news of the week</h1>" + STORY + "</article>"
    assert title_of(head, body) == "Pier extension approved"


def test_heading_in_a_breadcrumb_trail_is_not_the_headline() -> None:
    head = ld_headline("Harbour vote: Pier extension approved") + og("Pier extension approved")
    body = (
        '<nav><ol><li><a href="/">Home</a></li>'
        "<li><h1>Harbour vote: Pier extension approved</h1></li></ol></nav>"
        "<article><h2><span>Harbour vote</span> <span>Pier extension approved</span></h2>"
        + STORY
        + "</article>"
    )
    assert title_of(head, body) == "Pier extension approved"


def test_heading_with_a_breadcrumb_class_is_not_the_headline() -> None:
    head = ld_headline("Old SEO title of the pier story") + og("Pier extension approved")
    body = (
        '<div><h1 class="page-breadcrumb__item">Old SEO title of the pier story</h1></div>'
        "<article><h2>Pier extension approved</h2>" + STORY + "</article>"
    )
    assert title_of(head, body) == "Pier extension approved"


def test_kicker_is_left_out_when_a_title_gives_the_headline_alone() -> None:
    head = ld_headline("Harbour vote: Pier extension approved") + og("Pier extension approved")
    body = (
        '<article><h1><span class="kicker">Harbour vote</span>'
        '<span class="headline">Pier extension approved</span></h1>' + STORY + "</article>"
    )
    assert title_of(head, body) == "Pier extension approved"


def test_kicker_is_kept_when_every_title_has_it() -> None:
    head = ld_headline("Harbour vote: Pier extension approved")
    body = (
        "<article><h1><span>Harbour vote</span><span>Pier extension approved</span></h1>"
        + STORY
        + "</article>"
    )
    # The heading runs kicker and headline together; the title's own colon is kept.
    assert title_of(head, body) == "Harbour vote: Pier extension approved"


def test_kicker_outside_the_heading_is_kept_from_the_title() -> None:
    head = ld_headline("Board says yes to a longer pier") + og(
        "Harbour vote: Pier extension approved"
    )
    body = (
        '<article><p class="kicker">Harbour vote</p><h1>Pier extension approved</h1>'
        + STORY
        + "</article>"
    )
    assert title_of(head, body) == "Harbour vote: Pier extension approved"


def test_site_suffix_of_a_meta_title_is_cut_where_the_heading_ends() -> None:
    head = og("Pier extension approved - Harbour Courier")
    body = "<article><h1>Pier extension approved</h1>" + STORY + "</article>"
    assert title_of(head, body) == "Pier extension approved"


def test_site_suffix_naming_the_outlet_is_cut_without_a_heading() -> None:
    head = og("Pier extension approved | Harbour Courier")
    assert title_of(head, STORY, frozenset({"Harbour Courier"})) == "Pier extension approved"


def test_section_before_the_site_suffix_is_cut_too() -> None:
    head = og("Pier extension approved-Politics | Harbour Courier")
    assert title_of(head, STORY, frozenset({"Harbour Courier"})) == "Pier extension approved"


def test_tail_that_names_no_outlet_is_kept() -> None:
    head = og("Pier extension approved - updates")
    assert title_of(head, STORY, frozenset({"Harbour Courier"})) == (
        "Pier extension approved - updates"
    )


def test_twitter_title_is_not_matched_to_headings() -> None:
    head = (
        ld_headline("Pier extension approved by board")
        + og("Pier extension approved by board")
        + og("Pier vote: the board says yes", key="twitter:title")
    )
    body = "<article><h2>Pier vote: the board says yes</h2>" + STORY + "</article>"
    assert title_of(head, body) == "Pier extension approved by board"


def test_title_comes_through_extract_article() -> None:
    html = (
        "<html><head>"
        + ld_headline("Harbour vote: Pier extension approved")
        + og("Pier extension approved")
        + "</head><body><nav><li><h1>Harbour vote: Pier extension approved</h1></li></nav>"
        "<article><h2><span>Harbour vote</span><span>Pier extension approved</span></h2>"
        + STORY
        + "</article></body></html>"
    )
    article = extract_article(html.encode(), "https://courier.example/a", fetched_at=FETCHED_AT)
    assert article.title == "Pier extension approved"
    assert ("title", "meta") in article.provenance


def test_og_title_spelling_wins_when_both_titles_match_the_heading() -> None:
    head = ld_headline("Harbour vote - Pier extension approved") + og(
        "Harbour vote: Pier extension approved"
    )
    body = (
        "<article><h1><span>Harbour vote</span><span>Pier extension approved</span></h1>"
        + STORY
        + "</article>"
    )
    assert title_of(head, body) == "Harbour vote: Pier extension approved"
