"""Metadata rules of `tasks.metadata`: titles, authors and bylines, dates."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tasks import metadata
from tasks.dates import text_date
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


def test_heading_in_a_crumb_trail_before_the_shown_headline_is_not_the_headline() -> None:
    # A section link and the SEO headline as an <h1> in a "crumb" block; the page shows the
    # headline the og:title gives as its <h2> below.
    head = ld_headline("Harbour town: Pier extension approved at last") + og(
        "Pier extension approved at last"
    )
    body = (
        '<article><header><div class="story__header__crumb"><a href="/harbour">Harbour</a>'
        "<h1>Harbour town: Pier extension approved at last</h1></div>"
        "<h2>Pier extension approved at last</h2></header>" + STORY + "</article>"
    )
    assert title_of(head, body) == "Pier extension approved at last"


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


# ------------------------------------------------------------------ authors and organisations

OUTLET = {"Harbour Courier", "courier"}


def credits_of(head: str = "", body: str = STORY) -> metadata.Credits:
    root = parse_html(f"<html><head>{head}</head><body>{body}</body></html>".encode())
    ld = metadata.main_jsonld(metadata.jsonld_objects(root))
    return metadata.credits(root, ld, metadata.meta_map(root), set(OUTLET))


def ld_authors(authors: str) -> str:
    return (
        '<script type="application/ld+json">'
        f'{{"@type": "NewsArticle", "author": {authors}}}</script>'
    )


def test_jsonld_organisation_author_is_credited_beside_the_people() -> None:
    found = credits_of(
        ld_authors(
            '[{"@type": "Person", "name": "Mara Lind"},'
            ' {"@type": "Organization", "name": "Coastal Broadcasting Company"}]'
        )
    )
    assert found.people == ("Mara Lind",)
    assert found.organisations == ("Coastal Broadcasting Company",)


def test_short_capital_acronym_is_an_organisation() -> None:
    found = credits_of(ld_authors('["Mara Lind", "KPZ"]'))
    assert found.people == ("Mara Lind",)
    assert found.organisations == ("KPZ",)


def test_jsonld_person_given_and_family_name_make_the_name() -> None:
    found = credits_of(ld_authors('{"@type": "Person", "givenName": "Mara", "familyName": "Lind"}'))
    assert found.people == ("Mara Lind",)


def test_jsonld_author_lists_nested_in_lists_are_read() -> None:
    found = credits_of(
        ld_authors(
            '[{"@type": "Person", "name": "Mara Lind"}, [{"@type": "Person", "name": "Ola Berg"}]]'
        )
    )
    assert found.people == ("Mara Lind", "Ola Berg")


def test_initials_or_desk_code_after_a_name_are_dropped() -> None:
    found = credits_of(
        ld_authors(
            '[{"@type": "Person", "name": "Mara Lind (mli)"},'
            ' {"@type": "Person", "name": "Ola Berg (ob.)"}]'
        )
    )
    assert found.people == ("Mara Lind", "Ola Berg")


def test_wire_service_typed_as_a_person_is_an_organisation() -> None:
    found = credits_of(ld_authors('{"@type": "Person", "name": "dpa"}'))
    assert found.people == ()
    assert found.organisations == ("dpa",)


def test_wire_service_credit_stops_the_search_for_people() -> None:
    # A photographer's name in markup must not replace the agency the story is credited to.
    body = '<p class="byline">By Jon Hale</p>' + STORY
    found = credits_of(ld_authors('{"@type": "Person", "name": "The Associated Press"}'), body)
    assert found.organisations == ("The Associated Press",)
    assert found.people == ()


def test_desk_credit_stops_the_search_for_people() -> None:
    body = '<p class="byline">By Jon Hale</p>' + STORY
    found = credits_of(ld_authors('{"@type": "Organization", "name": "Redaktion Courier"}'), body)
    assert found.organisations == ("Redaktion Courier",)
    assert found.people == ()


def test_outlet_credit_gives_way_to_people_named_in_the_byline() -> None:
    body = '<p class="article-author">By Jon Hale</p>' + STORY
    found = credits_of(ld_authors('{"@type": "Organization", "name": "Harbour Courier"}'), body)
    assert found.people == ("Jon Hale",)
    assert found.organisations == ()
    assert found.method == "markup"


def test_outlet_credit_is_kept_when_no_person_is_named() -> None:
    found = credits_of(ld_authors('{"@type": "Organization", "name": "Harbour Courier"}'))
    assert found.people == ()
    assert found.organisations == ("Harbour Courier",)


def test_outlet_beside_people_is_left_out() -> None:
    head = '<meta name="author" content="Jon Hale"><meta name="author" content="Harbour Courier">'
    found = credits_of(head)
    assert found.people == ("Jon Hale",)
    assert found.organisations == ()


def test_every_dc_creator_is_read_family_name_first() -> None:
    head = (
        '<meta name="dc.creator" content="Lind, Mara"><meta name="dc.creator" content="Berg, Ola">'
    )
    assert credits_of(head).people == ("Mara Lind", "Ola Berg")


def test_author_page_url_is_not_a_name() -> None:
    head = (
        '<meta name="author" content="Jon Hale">'
        '<meta property="article:author" content="https://profiles.example.com/jon-hale">'
    )
    found = credits_of(head)
    assert found.people == ("Jon Hale",)
    assert found.organisations == ()


def test_photographer_meta_inside_a_figure_is_not_an_author() -> None:
    body = (
        '<figure><img src="/a.jpg"><figcaption><meta itemprop="author" content="Pia Holm">'
        '<span class="credit">Photo: Pia Holm</span></figcaption></figure>'
        '<p class="byline">By Jon Hale</p>' + STORY
    )
    assert credits_of(body=body).people == ("Jon Hale",)


def test_author_list_items_are_read_together() -> None:
    body = (
        '<ul class="article-authors"><li class="author-item"><a href="/a">Mara Lind</a></li>'
        '<li class="author-item"><a href="/b">Ola Berg</a></li></ul>' + STORY
    )
    assert credits_of(body=body).people == ("Mara Lind", "Ola Berg")


def test_by_word_is_dropped_from_each_name_of_a_byline() -> None:
    body = '<div class="authors"><p>Meinung</p><p>von Mara Lind</p></div>' + STORY
    assert credits_of(body=body).people == ("Mara Lind",)


def test_byline_written_only_in_the_text_is_found() -> None:
    body = "<header><p>Von Mara Lind, Hamburg</p></header>" + STORY
    found = credits_of(body=body)
    assert found.people == ("Mara Lind",)
    assert found.method == "text"


def test_korean_reporter_byline_in_the_text_gives_the_name() -> None:
    body = "<div><span>구현모 기자</span></div>" + STORY
    assert credits_of(body=body).people == ("구현모",)


def test_chinese_editor_line_gives_the_names() -> None:
    body = STORY + "<div>(责编：牛镛、岳弘彬)</div>"
    assert credits_of(body=body).people == ("牛镛", "岳弘彬")


def test_name_in_a_script_without_capitals_is_a_person() -> None:
    found = credits_of('<meta name="author" content="신현주 기자">')
    assert found.people == ("신현주",)


def test_byline_stops_at_a_german_as_of_stamp() -> None:
    body = '<p class="byline">Von Mara Lind Stand: 28. April 2024</p>' + STORY
    assert credits_of(body=body).people == ("Mara Lind",)


def test_article_keeps_people_and_organisations_apart() -> None:
    html = (
        "<html><head>"
        + ld_authors(
            '[{"@type": "Person", "name": "Mara Lind"}, {"@type": "Organization", "name": "AFP"}]'
        )
        + "</head><body><article><h1>Pier extension approved</h1>"
        + STORY
        + "</article></body></html>"
    )
    article = extract_article(html.encode(), "https://courier.example/a", fetched_at=FETCHED_AT)
    assert article.authors == ("Mara Lind",)
    assert article.credited_organisations == ("AFP",)


def test_japanese_job_title_before_the_name_is_dropped() -> None:
    body = '<p class="byline">記者 <a rel="author" href="/s">佐藤 花子</a></p>' + STORY
    assert credits_of(body=body).people == ("佐藤 花子",)


# ------------------------------------------------------------------ dates written as text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Do 25.04.24 | 14:07 Uhr", datetime(2024, 4, 25, 14, 7)),
        ("erstellt: 01. April 2025, 15:25", datetime(2025, 4, 1, 15, 25)),
        ("Published April 25, 2024 3:07 PM", datetime(2024, 4, 25, 15, 7)),
        ("Publié le 25 avril 2024 à 14h07", datetime(2024, 4, 25, 14, 7)),
        ("5 de abril de 2024", datetime(2024, 4, 5)),
        ("입력 2026.01.29 18:40", datetime(2026, 1, 29, 18, 40)),
        ("2024年4月25日 09:30", datetime(2024, 4, 25, 9, 30)),
        ("Updated 12.30 Uhr, 3.5.2024", datetime(2024, 5, 3, 12, 30)),
        ("25 avril 2024, mis à jour le 26.04.2024", datetime(2024, 4, 25)),
    ],
)
def test_dates_written_as_text_are_read_with_their_time(text: str, expected: datetime) -> None:
    found = text_date(text)
    assert found is not None
    assert found[0] == expected.replace(tzinfo=UTC)
    assert found[1] == (expected.time() != datetime.min.time())


def test_text_date_is_local_time_in_the_given_zone() -> None:
    found = text_date("25.04.2024, 14:07", ZoneInfo("Europe/Berlin"))
    assert found is not None
    assert found[0] == datetime(2024, 4, 25, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize("text", ["04/05/2024", "Call 0800 12.34", "31.02.2024", "no date here"])
def test_ambiguous_or_impossible_text_dates_are_not_read(text: str) -> None:
    assert text_date(text) is None


# ------------------------------------------------------------------ signature on the last line


def _signed_page(last_line: str, credited: str = "Harbour Courier") -> bytes:
    head = '<meta property="og:site_name" content="Harbour Courier">' + ld_authors(
        f'{{"@type": "Organization", "name": "{credited}"}}'
    )
    return (
        f"<html><head><title>Pier</title>{head}</head><body><article><h1>Pier extension</h1>"
        f"{STORY}{last_line}</article></body></html>"
    ).encode()


@pytest.mark.parametrize(
    "last_line",
    [
        '<p style="text-align: right;"><strong>Lan Pham</strong></p>',
        '<p class="story-sign">Lan Pham</p>',
    ],
    ids=["aligned-right", "signature-class"],
)
def test_story_signed_on_its_last_line_names_its_author(last_line: str) -> None:
    page = _signed_page(last_line)
    article = extract_article(page, "https://courier.example/pier", fetched_at=FETCHED_AT)
    assert article.authors == ("Lan Pham",)
    assert article.credited_organisations == ()
    assert "Lan Pham" not in article.body
    assert dict(article.provenance)["authors"] == "signature"


def test_closing_words_in_bold_are_not_a_signature() -> None:
    page = _signed_page("<p><strong>Ferry Timetables</strong></p>")
    article = extract_article(page, "https://courier.example/pier", fetched_at=FETCHED_AT)
    assert article.authors == ()
    assert article.credited_organisations == ("Harbour Courier",)


def test_organisation_other_than_the_outlet_stays_credited_beside_the_signer() -> None:
    page = _signed_page('<p style="text-align:right">Lan Pham</p>', "Coastal Broadcasting Company")
    article = extract_article(page, "https://courier.example/pier", fetched_at=FETCHED_AT)
    assert article.authors == ("Lan Pham",)
    assert article.credited_organisations == ("Coastal Broadcasting Company",)
