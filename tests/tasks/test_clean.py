"""Cleaning: Unicode and whitespace, boilerplate, credit lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.clean import clean_article, is_credit_line, normalise_text
from tasks.records import Article


def article(body: str, **kwargs: object) -> Article:
    return Article(
        source_id="s",
        url="https://news.example/a",
        final_url="https://news.example/a",
        canonical_url="https://news.example/a",
        title=kwargs.pop("title", "Title"),  # type: ignore[arg-type]
        body=body,
        fetched_at=datetime(2024, 6, 1, tzinfo=UTC),
        **kwargs,  # type: ignore[arg-type]
    )


STORY = [
    "MOSCOW (Reuters) - The first paragraph of the story tells what happened.",
    "The second paragraph adds a quote: “We are ready,” she said.",
    "The third paragraph gives the background.",
    "The fourth paragraph ends the story.",
]


def test_unicode_is_nfc_and_curly_quotes_are_kept() -> None:
    cleaned = clean_article(article("Cafe\u0301 “open” – it’s true"))
    assert cleaned.body == "Café “open” – it’s true"


def test_whitespace_is_collapsed_and_paragraphs_joined_by_blank_line() -> None:
    cleaned = clean_article(article("  one\t two \n\n\n three\u00a0 four\u200b \n\n  \n"))
    assert cleaned.body == "one two\n\nthree four"


@pytest.mark.parametrize(
    "credit",
    [
        "Additional reporting by Reuters",
        "Reporting by Jane Doe; Editing by John Roe",
        "(Reporting by Rodrigo Campos; additional reporting by Stephanie Kelly)",
        "Writing by Ana Ruiz; editing by Sam Okafor",
        "Keith Bradsher contributed reporting from Hong Kong.",
        "The Associated Press contributed to this report.",
        "© Harbour Press Agency",
        "Copyright: Coast Syndicate, 2025",
    ],
)
def test_credit_line_moves_out_of_body(credit: str) -> None:
    cleaned = clean_article(article("\n\n".join([*STORY, credit])))
    assert cleaned.body == "\n\n".join(STORY)
    assert cleaned.credit_lines == (credit.strip("() "),)


def test_wire_dateline_stays_in_the_text() -> None:
    cleaned = clean_article(article("\n\n".join(STORY)))
    assert cleaned.body.startswith("MOSCOW (Reuters) - ")
    assert cleaned.credit_lines == ()


def test_licence_notice_longer_than_a_copyright_line_stays_in_the_text() -> None:
    notice = (
        "© 2024 Harbour Press. All Rights Reserved. This material may not be published, "
        "broadcast or redistributed."
    )
    cleaned = clean_article(article("\n\n".join([*STORY, notice])))
    assert cleaned.body.endswith(notice)


def test_sentence_mentioning_reporting_is_not_a_credit_line() -> None:
    assert not is_credit_line("Reporting by local media suggested the talks had stalled for weeks.")
    assert not is_credit_line("She said reporting by the paper was accurate.")


def test_existing_credit_lines_are_kept_and_not_duplicated() -> None:
    body = "\n\n".join([*STORY, "Additional reporting by Reuters"])
    cleaned = clean_article(article(body, credit_lines=("Additional reporting by Reuters",)))
    assert cleaned.credit_lines == ("Additional reporting by Reuters",)


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "Share this article",
        "Related: Ten things to know about the summit",
        "READ MORE: Summit ends without a deal",
        "You may also like",
        "Subscribe to continue reading",
        "Weiterlesen",
        "Czytaj więcej",
        "Link zum YouTube-Inhalt",
        "Jetzt 4 Wochen kostenlos testen",
        "Il vous reste 62,5 % de cet article à lire. La suite est réservée aux abonnés.",
        "Bitte markieren Sie die entsprechenden Wörter im Text. Danke!",
    ],
)
def test_boilerplate_line_is_dropped(line: str) -> None:
    cleaned = clean_article(article("\n\n".join([STORY[0], line, *STORY[1:]])))
    assert cleaned.body == "\n\n".join(STORY)


def test_a_sentence_that_only_contains_boilerplate_words_is_kept() -> None:
    line = "Weiterlesen wollte niemand: Der Bericht endet nach vier Seiten."
    body = "\n\n".join([STORY[0], line, *STORY[1:]])
    assert clean_article(article(body)).body == body


@pytest.mark.parametrize(
    "line",
    [
        "Follow Example News on Facebook, Twitter and Instagram.",
        "Tags: summit, Russia, North Korea",
        "Filed under: World |",
        "Write to Ana Ruiz at ana.ruiz@news.example",
        "November 20, 2019 - 11:28 AMT",
        "05/10/2018 - Published by: Ana Ruiz - Category: Health",
        '[button link="https://news.example/subscribe" type="big"] Send us your story',
        "2024年3月2日 09時15分 (3月2日 10時05分更新)",
        "Image: Harbour Board / Facebook",
        "This is a breaking news story and will be updated.",
        "More to follow",
        "Article content",
        "Anzeige",
        "Fehler gefunden? Jetzt melden.",
        "Foto: LENA BRANDT",
    ],
)
def test_label_and_social_lines_are_dropped(line: str) -> None:
    cleaned = clean_article(article("\n\n".join([STORY[0], line, *STORY[1:]])))
    assert cleaned.body == "\n\n".join(STORY)


def test_sentence_with_date_and_time_is_kept() -> None:
    sentence = "The plane landed at 11:28 on November 20, 2019, two hours late."
    cleaned = clean_article(article("\n\n".join([*STORY, sentence])))
    assert cleaned.body.endswith(sentence)


def test_short_sentence_starting_like_a_picture_credit_is_kept() -> None:
    sentence = "Credit: the council paid for it."
    cleaned = clean_article(article("\n\n".join([*STORY, sentence])))
    assert cleaned.body.endswith(sentence)


def test_japanese_sentence_with_a_date_and_time_is_kept() -> None:
    sentence = "港の桟橋は2024年3月2日 09時15分に完成し、漁船が戻ってきた。"
    cleaned = clean_article(article("\n\n".join([*STORY, sentence])))
    assert cleaned.body.endswith(sentence)


def test_click_to_tweet_suffix_is_removed() -> None:
    cleaned = clean_article(article("Every business lives in time.Click To Tweet\n\n" + STORY[1]))
    assert cleaned.body.startswith("Every business lives in time.\n\n")


@pytest.mark.parametrize("heading", ["Popular", "Most read", "Meistgelesen"])
def test_body_ends_where_the_list_of_popular_stories_starts(heading: str) -> None:
    teasers = ["Ferry fares rise again", "The ferry company said fares rise in May."]
    body = "\n\n".join([*STORY, heading, *teasers])
    assert clean_article(article(body)).body == "\n\n".join(STORY)


def test_popular_heading_before_the_story_is_under_way_does_not_cut_it() -> None:
    body = "\n\n".join([STORY[0], "Popular", *STORY[1:]])
    assert clean_article(article(body)).body == "\n\n".join([STORY[0], "Popular", *STORY[1:]])


def test_body_ends_where_comment_section_starts() -> None:
    body = "\n\n".join([*STORY, "2 Comments", "Great article, thanks!", "I disagree with this."])
    assert clean_article(article(body)).body == "\n\n".join(STORY)


def test_comment_word_near_the_top_does_not_cut_the_body() -> None:
    body = "\n\n".join([STORY[0], "Comments", *STORY[1:]])
    assert clean_article(article(body)).body == "\n\n".join(STORY)


def test_clean_is_idempotent() -> None:
    body = "\n\n".join([*STORY, "Advertisement", "Reporting by Jane Doe; Editing by John Roe"])
    once = clean_article(article(body, title="  A   title ", highlights=(" one ", "")))
    assert clean_article(once) == once
    assert once.title == "A title"
    assert once.highlights == ("one",)


def test_normalise_text_removes_invisible_characters() -> None:
    assert normalise_text("soft\u00adhyphen zero\u200bwidth") == "softhyphen zerowidth"
