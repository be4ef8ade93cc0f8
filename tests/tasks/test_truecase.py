"""Text in capitals re-cased for NER: forms the article writes, same length, nothing else."""

from __future__ import annotations

from tasks.truecase import truecase

BODY = (
    "Russian President Vladimir Putin met Kim Jong-un in Vladivostok on Wednesday.\n\n"
    "NATO said the meeting was a concern. Japan protested. The talks lasted hours."
)


def test_a_capitals_headline_takes_the_forms_its_article_writes() -> None:
    assert truecase("PUTIN MEETS KIM IN VLADIVOSTOK", BODY) == "Putin meets Kim in Vladivostok"


def test_a_word_the_article_writes_in_capitals_stays_in_capitals() -> None:
    assert truecase("NATO WARNS PUTIN OVER TALKS", BODY) == "NATO warns Putin over talks"


def test_a_word_seen_only_opening_sentences_is_capitalised_unless_a_function_word() -> None:
    # "Japan" and "At" only open sentences here; neither is written otherwise.
    context = "Japan protested. At dawn, talks resumed."
    assert truecase("PROTEST BY JAPAN AT DAWN", context) == "Protest by Japan at dawn"


def test_a_word_the_article_never_writes_is_lowercase_after_the_first() -> None:
    assert truecase("SUMMIT ENDS WITHOUT A DEAL") == "Summit ends without a deal"


def test_an_unknown_word_that_looks_like_an_acronym_stays_in_capitals() -> None:
    assert truecase("UN AND NFL OFFICIALS MEET IN GENEVA") == "UN and NFL officials meet in geneva"


def test_capitals_runs_inside_a_text_are_recased_with_the_rest_of_it_as_context() -> None:
    text = "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .\n" + BODY
    cased = truecase(text)
    assert cased.startswith("Soccer - Japan get lucky win , china in surprise defeat .\n")
    assert cased.endswith(BODY)


def test_a_whole_line_of_two_words_is_a_run_but_two_words_within_a_line_are_not() -> None:
    assert truecase("BREAKING NEWS\nNATO and EU ministers met.") == (
        "Breaking news\nNATO and EU ministers met."
    )
    datelines = ("WASHINGTON (Reuters) - The FBI said", "NEW YORK (AP) — Stocks fell")
    for as_is in ("NATO and EU ministers met.", *datelines):
        assert truecase(as_is) is as_is


def test_every_offset_holds_and_a_letter_whose_case_changes_length_stays() -> None:
    text = "İSTANBUL TALKS END IN A DEAL\n" + BODY
    cased = truecase(text, BODY)
    assert len(cased) == len(text)
    assert cased.startswith("İSTANBUL talks end in a deal\n")


def test_the_context_does_not_learn_from_its_own_capitals() -> None:
    # The context's capitals line says nothing about how the article writes "ALLIES".
    assert truecase("ALLIES MEET PUTIN", "ALLIES AND PARTNERS GATHER\n" + BODY) == (
        "Allies meet Putin"
    )


def test_an_initial_keeps_its_capital_even_when_it_spells_a_function_word() -> None:
    context = "Police questioned Smith on Monday."
    assert truecase("POLICE NAME A. SMITH AS SUSPECT", context) == "Police name A. Smith as suspect"
