"""The names a text repeats where the model did not see them again (`tasks.repeats`)."""

from __future__ import annotations

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from tasks.repeats import first_names, repeated_names


@pytest.fixture(scope="module")
def blank() -> Language:
    return spacy.blank("en")


def doc_with(nlp: Language, text: str, *found: tuple[str, str, int]) -> Doc:
    """`text` with the entities (name, label, which occurrence of the name) a model found."""
    doc = nlp.make_doc(text)
    spans = []
    for name, label, nth in found:
        at = -1
        for _ in range(nth + 1):
            at = text.index(name, at + 1)
        span = doc.char_span(at, at + len(name), label=label)
        assert span is not None
        spans.append(span)
    doc.ents = spans
    return doc


def added(doc: Doc) -> list[tuple[str, str, int]]:
    return [(s.text, s.label_, s.start_char) for s in repeated_names(doc)]


def test_a_name_found_once_is_found_where_it_is_written_again(blank: Language) -> None:
    text = "Sondland testified on Tuesday. Lawmakers asked Sondland about the call."
    doc = doc_with(blank, text, ("Sondland", "PERSON", 0))
    assert added(doc) == [("Sondland", "PERSON", text.rindex("Sondland"))]


def test_a_surname_of_a_person_named_in_full_is_found_alone(blank: Language) -> None:
    text = "Vladimir Putin arrived. Kim greeted Putin warmly, and Mr Putin smiled."
    doc = doc_with(blank, text, ("Vladimir Putin", "PERSON", 0), ("Kim", "PERSON", 0))
    assert [(name, label) for name, label, _ in added(doc)] == [
        ("Putin", "PERSON"),
        ("Putin", "PERSON"),
    ]


def test_an_added_name_takes_the_label_the_name_carries_most_often(blank: Language) -> None:
    text = "Sondland spoke. Sondland left. Sondland returned. Then they thanked Sondland."
    doc = doc_with(
        blank, text, ("Sondland", "GPE", 0), ("Sondland", "PERSON", 1), ("Sondland", "PERSON", 2)
    )
    assert added(doc) == [("Sondland", "PERSON", text.rindex("Sondland"))]


def test_a_name_inside_a_longer_capitalised_phrase_is_left_alone(blank: Language) -> None:
    text = "Washington imposed tariffs, The Washington Post reported from Washington Heights."
    doc = doc_with(blank, text, ("Washington", "GPE", 0))
    assert added(doc) == []


def test_a_name_inside_a_word_or_a_compound_is_left_alone(blank: Language) -> None:
    text = "Mueller wrote a report. The post-Mueller drill began, and Mueller-era rules held."
    doc = doc_with(blank, text, ("Mueller", "PERSON", 0))
    assert added(doc) == []


def test_a_one_word_name_that_is_also_a_common_word_is_left_to_the_model(
    blank: Language,
) -> None:
    text = (
        "Jan August spoke in August. Bush said a bush burned, as Bush had. "
        "The GB team won 32 GB. The and The."
    )
    doc = doc_with(
        blank, text, ("Jan August", "PERSON", 0), ("Bush", "PERSON", 0), ("GB", "ORG", 0),
        ("The", "ORG", 1),
    )
    assert added(doc) == []


def test_entities_the_model_found_are_kept_and_never_overlapped(blank: Language) -> None:
    text = "Angela Merkel met Merkel supporters. Merkel spoke."
    doc = doc_with(blank, text, ("Angela Merkel", "PERSON", 0), ("Merkel", "PERSON", 2))
    spans = repeated_names(doc)
    assert [(s.text, s.start_char) for s in spans] == [("Merkel", text.index("Merkel s"))]
    doc.ents = [*doc.ents, *spans]  # raises if they overlapped
    assert len(doc.ents) == 3
    assert isinstance(spans[0], Span)


def full_names(doc: Doc) -> list[tuple[str, str, int]]:
    return [(s.text, s.label_, s.start_char) for s in first_names(doc)]


def test_a_first_name_the_model_left_out_joins_the_surname_everywhere_it_is_written(
    blank: Language,
) -> None:
    text = "Imran Khan has appealed. Critics of ousted PM Imran Khan’s party met. Khan left."
    doc = doc_with(blank, text, ("Khan", "PERSON", 1), ("Khan", "PERSON", 2))
    assert full_names(doc) == [
        ("Imran Khan", "PERSON", 0),
        ("Imran Khan", "PERSON", text.index("Imran Khan’s")),
    ]


def test_a_full_name_the_model_missed_is_found_from_a_titled_surname(blank: Language) -> None:
    text = "The Deputy Prosecution Eva-Marie Persson ruled. Ms Persson said so."
    doc = doc_with(blank, text, ("Ms Persson", "PERSON", 0))
    assert full_names(doc) == [("Eva-Marie Persson", "PERSON", text.index("Eva-Marie"))]
    doc.ents = filter_spans([*first_names(doc), *doc.ents])  # never overlaps the model's
    assert [e.text for e in doc.ents] == ["Eva-Marie Persson", "Ms Persson"]


def test_a_word_that_only_ever_opens_a_sentence_or_quotation_is_not_a_first_name(
    blank: Language,
) -> None:
    text = (
        "Khan spoke. Yesterday Khan left. An inside look\nBrave Khan met “Stop Khan” fans, "
        "who yelled “Go.” Warm Khan waved."
    )
    doc = doc_with(blank, text, ("Khan", "PERSON", 0))
    assert full_names(doc) == []


def test_words_of_products_places_and_titles_are_not_first_names(blank: Language) -> None:
    text = (
        "Max said it. The 11 Pro Max shipped, then a Liquid Max and Switch Max Lite. "
        "Cleveland Max won in Cleveland, Senator Max spoke, and Blue Max sang blue songs "
        "as NATO Max watched. Jam ate, so Pear Jam ate jam. "
        "Jenner said Coty-Kylie Jenner deals suit Kylie Jenner, pro-Max and anti - Max."
    )
    doc = doc_with(
        blank,
        text,
        ("Max", "PERSON", 0),
        ("Cleveland", "GPE", 1),
        ("Jam", "PERSON", 0),
        ("Jenner", "PERSON", 0),
        ("Kylie Jenner", "PERSON", 1),
    )
    assert full_names(doc) == []
