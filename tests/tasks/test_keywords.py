"""Keywords: the publisher's own from every place, with provenance; computed key phrases."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tasks.extract import extract_article
from tasks.keywords import (
    YAKE_LANGUAGES,
    key_phrases,
    keyword_records,
    normalise,
    with_key_phrases,
)
from tasks.pages import clean_page, extract_page
from tasks.records import Article, Discovered, FetchedPage, Keyword

FETCHED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
URL = "https://harbourpost.example/2024/05/31/ferry-strike-ends.html"
ROOT = Path(__file__).resolve().parents[2]

STORY = [
    "The ferry strike at the port of Aberdeen ended on Friday after crews accepted a new pay "
    "offer from Northlink Ferries, the operator said.",
    "Ferry crews had walked out for nine days, leaving islanders on Orkney and Shetland without "
    "their daily ferry service and stranding freight lorries at the harbour.",
    "The union said the pay offer met its demands. Northlink Ferries said sailings to Orkney "
    "would resume on Saturday morning and freight would be cleared by Monday.",
    "Island businesses said the ferry strike had cost them dearly. Fish exporters on Shetland "
    "lost two weeks of sales while the harbour stood idle.",
]
GERMAN = [
    "Die Stadtwerke von Kemijärvi heizen seit dem Herbst mit der Abwärme eines "
    "Rechenzentrums, das am Rand der Kleinstadt steht.",
    "Nach Angaben der Stadtwerke deckt die Abwärme des Rechenzentrums inzwischen ein Drittel "
    "des Wärmebedarfs der Kleinstadt, und die Heizkosten der Haushalte sind gesunken.",
    "Der Betreiber des Rechenzentrums will die Anlage im nächsten Jahr erweitern, und die "
    "Stadtwerke wollen dann auch das Schwimmbad mit der Abwärme heizen.",
]
# Function words of German: YAKE never starts or ends a phrase with one of its stop words.
GERMAN_STOP_WORDS = {"die", "der", "des", "dem", "das", "und", "von", "mit", "am", "im", "ein"}


def story_page(head: str = "", paragraphs: list[str] = STORY, lang: str = "en") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>Ferry strike ends</title>{head}</head><body><article><h1>Ferry strike ends</h1>"
        f"{body}</article></body></html>"
    ).encode()


def jsonld(**fields: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "x", **fields}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def listed(keywords: tuple[str, ...] = (), categories: tuple[str, ...] = ()) -> Discovered:
    feed = "https://harbourpost.example/feed"
    return Discovered(URL, "harbour", feed, keywords=keywords, categories=categories)


def entries(head: str = "", discovered: Discovered | None = None) -> list[tuple[str, str]]:
    article = extract_article(story_page(head), URL, fetched_at=FETCHED_AT, discovered=discovered)
    return [(keyword, source) for keyword, source, _ in article.keyword_entries]


# ---------------------------------------------------------------- publisher keywords


def test_every_publisher_source_is_read_with_its_provenance() -> None:
    head = (
        '<meta name="keywords" content="ferries, strikes">'
        '<meta name="news_keywords" content="Aberdeen; Northlink">'
        '<meta property="article:tag" content="Orkney">'
        '<meta property="article:tag" content="Shetland">'
        + jsonld(
            keywords="pay, unions",
            about=[
                {"@type": "Place", "name": "Port of Aberdeen"},
                {"@type": "Thing", "name": "Labour"},
            ],
        )
    )
    found = listed(keywords=("Scotland", "transport"), categories=("UK news", "Business"))
    assert entries(head, found) == [
        ("Scotland", "news_sitemap"),
        ("transport", "news_sitemap"),
        ("ferries", "meta_keywords"),
        ("strikes", "meta_keywords"),
        ("Aberdeen", "news_keywords"),
        ("Northlink", "news_keywords"),
        ("Orkney", "article_tag"),
        ("Shetland", "article_tag"),
        ("pay", "jsonld_keywords"),
        ("unions", "jsonld_keywords"),
        ("Port of Aberdeen", "jsonld_about"),
        ("Labour", "jsonld_about"),
        ("UK news", "feed_category"),
        ("Business", "feed_category"),
    ]


def test_publisher_keywords_carry_no_score() -> None:
    article = extract_article(
        story_page('<meta name="keywords" content="ferries">'), URL, fetched_at=FETCHED_AT
    )
    assert article.keyword_entries == (("ferries", "meta_keywords", None),)


def test_string_forms_split_at_commas_and_semicolons_single_values_do_not() -> None:
    head = (
        '<meta name="keywords" content="Energy; Prices,Winter ,, ;">'
        '<meta property="article:tag" content="Washington, D.C.">'
        + jsonld(keywords=["Trump, Donald J", {"@type": "DefinedTerm", "name": "Elections"}])
    )
    assert entries(head) == [
        ("Energy", "meta_keywords"),
        ("Prices", "meta_keywords"),
        ("Winter", "meta_keywords"),
        ("Washington, D.C.", "article_tag"),
        ("Trump, Donald J", "jsonld_keywords"),
        ("Elections", "jsonld_keywords"),
    ]


def test_a_single_jsonld_about_thing_and_a_string_keyword_list_in_two_meta_tags() -> None:
    head = (
        '<meta name="keywords" content="ferries">'
        '<meta name="keywords" content="harbours">'
        + jsonld(about={"@type": "Organization", "name": "Northlink Ferries"})
    )
    assert entries(head) == [
        ("ferries", "meta_keywords"),
        ("harbours", "meta_keywords"),
        ("Northlink Ferries", "jsonld_about"),
    ]


def test_duplicates_within_a_source_are_dropped_across_sources_kept() -> None:
    head = (
        '<meta name="keywords" content="Ferries, ferries , FERRIES., Ports">'
        '<meta property="article:tag" content="Ferries">'
        '<meta property="article:tag" content="ferries">'
    )
    assert entries(head) == [
        ("Ferries", "meta_keywords"),
        ("Ports", "meta_keywords"),
        ("Ferries", "article_tag"),
    ]


def test_keywords_that_are_punctuation_or_sentences_are_dropped_and_a_source_is_capped() -> None:
    sentence = "This paragraph of the page was put into its keywords by a content system " * 2
    many = ", ".join(f"tag{i}" for i in range(60))
    head = f'<meta name="keywords" content="--, {sentence}, …">' + (
        f'<meta name="news_keywords" content="{many}">'
    )
    kept = entries(head)
    assert kept[:2] == [("tag0", "news_keywords"), ("tag1", "news_keywords")]
    assert len(kept) == 50
    assert kept[-1] == ("tag49", "news_keywords")


def test_normalised_form_is_nfkc_casefolded_collapsed_and_trimmed_of_punctuation() -> None:
    assert normalise("  Ｆｅｒｒｙ\u00a0 Strikes ") == "ferry strikes"  # full-width, nbsp
    assert normalise("STRAßE") == "strasse"
    assert normalise("«Brexit»") == "brexit"
    assert normalise("#Wahl 2025.") == "wahl 2025"
    assert normalise("U.S.-China trade") == "u.s.-china trade"  # punctuation inside stays
    assert normalise("ﬁsh") == "fish"  # ligature
    assert normalise("“ — ”") == ""


def test_keyword_records_carry_the_article_and_the_normalised_form() -> None:
    rows = keyword_records(
        "a1", [("Port of  Aberdeen", "article_tag", None), ("ferry", "computed", 0.25)]
    )
    assert rows == [
        Keyword("a1", "Port of  Aberdeen", "port of aberdeen", "article_tag", None),
        Keyword("a1", "ferry", "ferry", "computed", 0.25),
    ]


# ---------------------------------------------------------------- computed key phrases


def test_key_phrases_are_the_best_n_scored_most_relevant_first() -> None:
    phrases = key_phrases("Ferry strike ends", "\n\n".join(STORY), "en", n=5)
    assert len(phrases) == 5
    assert {source for _, source, _ in phrases} == {"computed"}
    scores = [score for _, _, score in phrases]
    assert all(isinstance(s, float) and s > 0 for s in scores)
    assert scores == sorted(scores)
    texts = [normalise(phrase) for phrase, _, _ in phrases]
    assert "ferry strike" in texts
    assert len(set(texts)) == len(texts)
    assert len(key_phrases("Ferry strike ends", "\n\n".join(STORY), "en", n=12)) == 12


def word_salad(sentences: int) -> str:
    """Sentences of words drawn (with a fixed seed) from the story's: many words share
    many neighbours, where YAKE's sums come out different in their last bits from one call
    to the next."""
    draw = random.Random(7)
    words = sorted(set(re.findall(r"\w+", " ".join(STORY))))
    return " ".join(
        " ".join(draw.choice(words) for _ in range(draw.randint(6, 16))).capitalize() + "."
        for _ in range(sentences)
    )


def test_key_phrases_are_the_same_on_every_call_and_in_every_process() -> None:
    text = word_salad(60)
    here = key_phrases(None, text, "en", n=20)
    assert len(here) == 20
    assert all(key_phrases(None, text, "en", n=20) == here for _ in range(20))
    code = (
        "import json, sys; from tasks.keywords import key_phrases; "
        "print(json.dumps(key_phrases(None, sys.stdin.read(), 'en', n=20)))"
    )
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", code], input=text, capture_output=True, text=True, check=True,
            cwd=ROOT,
        ).stdout  # fmt: skip
        assert [tuple(p) for p in json.loads(out)] == list(here)


def test_equal_scores_are_ranked_by_their_text() -> None:
    phrases = key_phrases("Ferry strike ends", "\n\n".join(STORY), "en", n=20)
    ranked = [(score, phrase) for phrase, _, score in phrases]
    assert ranked == sorted(ranked)
    assert len({score for score, _ in ranked}) < len(ranked)  # there are ties


def test_key_phrases_use_the_stop_words_of_the_articles_language() -> None:
    text = "\n\n".join(GERMAN)
    german = [normalise(p).split() for p, _, _ in key_phrases("Abwärme heizt", text, "de", n=20)]
    assert german
    assert not [w for w in german if w[0] in GERMAN_STOP_WORDS or w[-1] in GERMAN_STOP_WORDS]
    assert ["abwärme"] in german
    as_english = key_phrases("Abwärme heizt", text, "en", n=20)
    words = [normalise(p).split() for p, _, _ in as_english]
    edges = {w[0] for w in words} | {w[-1] for w in words}
    assert edges & GERMAN_STOP_WORDS  # read as English, German function words make phrases


def test_key_phrases_read_the_first_three_thousand_characters() -> None:
    story = "\n\n".join(STORY * 4)
    room = 3_000 - len("Ferry strike ends.\n\n") - len(story) - len("\n\n")
    opening = f"{story}\n\n{('Freight moved again. ' * 40)[:room]}"  # 3,000 with the title
    later = "\n\n".join(["Zanzibar spice merchants praised Zanzibar spice markets."] * 30)
    phrases = key_phrases("Ferry strike ends", f"{opening}\n\n{later}", "en", n=30)
    assert phrases
    assert not [p for p, _, _ in phrases if "zanzibar" in normalise(p)]
    assert key_phrases(None, later, "en")[0][0].startswith("Zanzibar")


def test_a_computed_phrase_is_kept_once_per_normalised_form() -> None:
    text = "Northlink Ferries resumed sailings. Passengers thanked Ｎｏｒｔｈｌｉｎｋ staff."
    phrases = [normalise(p) for p, _, _ in key_phrases(None, text, "en", n=30)]
    assert "northlink" in phrases
    assert len(phrases) == len(set(phrases))


def test_clitics_the_tokenizer_splits_off_make_no_phrase() -> None:
    text = (
        "The islanders’ anger grew. The operator’s chief said crews didn’t strike lightly. "
        "The operator’s offer won’t end the islanders’ anger, the union's leader said."
    )
    phrases = [p for p, _, _ in key_phrases(None, text, "en", n=30)]
    assert "islanders’ anger" in phrases  # a possessive the tokenizer leaves on its word
    clitics = {"’s", "'s", "n’t"}
    assert not [p for p in phrases if clitics & set(p.split())]


@pytest.mark.parametrize("language", ["zh", "ko", "br", None])
def test_no_key_phrases_without_stop_words_of_the_language(language: str | None) -> None:
    assert key_phrases("Ferry strike ends", "\n\n".join(STORY), language) == ()


@pytest.mark.parametrize("language", sorted(YAKE_LANGUAGES))
def test_every_language_offered_has_a_stop_word_list_in_the_installed_yake(language: str) -> None:
    """An unknown code makes yake-rust panic, which would take a worker process down."""
    assert key_phrases(None, "Northlink Ferries resumed sailings to Orkney.", language)


def test_czech_and_norwegian_bokmal_use_yakes_own_codes() -> None:
    body = "Vláda ve středu schválila nový rozpočet. Rozpočet počítá s nižším schodkem."
    assert key_phrases(None, body, "cs")
    assert key_phrases(None, "Regjeringen la fram et nytt budsjett for kommunene.", "nb")


def test_cleaning_adds_key_phrases_after_the_publisher_keywords() -> None:
    html = story_page('<meta property="article:tag" content="Orkney">')
    fetched = FetchedPage("harbour", URL, URL, 200, "text/html", html, FETCHED_AT)
    extracted = extract_page(fetched, None)
    assert isinstance(extracted, Article)
    assert extracted.keyword_entries == (("Orkney", "article_tag", None),)  # the publisher's
    article = clean_page(extracted)  # cleaning adds the computed phrases, in the same worker
    assert isinstance(article, Article)
    assert article.keyword_entries[0] == ("Orkney", "article_tag", None)
    computed = article.keyword_entries[1:]
    assert len(computed) == 10
    assert {source for _, source, _ in computed} == {"computed"}
    assert with_key_phrases(article) == article  # computed again, not added twice
