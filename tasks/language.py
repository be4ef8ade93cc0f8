"""The language of an article as an ISO 639-1 code.

A declared language (`<html lang>`, `Content-Language`, `og:locale`, JSON-LD `inLanguage`) is
trusted unless the text clearly contradicts it: enough text, identified with high confidence
as another language, in which the declared one is all but ruled out (closely related
languages, such as Norwegian and Danish, never contradict each other). Without a declaration
the identifier's guess is taken when it is confident enough.

Identification is py3langid's naive Bayes model over byte n-grams, bundled with the package
(read once per process, offline).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_CODE = re.compile(r"^([a-zA-Z]{2})(?:$|[-_])")
_LETTER = re.compile(r"[^\W\d_]")

SAMPLE_CHARS = 1000  # leading characters of the text that are identified
MIN_LETTERS_TO_CONTRADICT = 100  # a declared language stands against less text than this
CONTRADICTION = 0.9  # the identifier's confidence in another language ...
DECLARED_RULED_OUT = 0.05  # ... while the declared one is at most this likely
MIN_LETTERS_TO_GUESS = 20
MIN_GUESS = 0.5  # confidence needed to name a language nobody declared

# Labels of the model that are varieties of an ISO 639-1 language.
_VARIETY_OF = {"wuu": "zh", "yue": "zh", "ary": "ar", "arz": "ar", "uzs": "uz", "gug": "gn"}
# Languages close enough that the model's choice between them does not contradict a page.
_RELATED = (
    frozenset({"no", "nb", "nn", "da"}),
    frozenset({"bs", "hr", "sr"}),
    frozenset({"ms", "id"}),
    frozenset({"cs", "sk"}),
)


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def declared_language(*values: str | None) -> str | None:
    """The first well-formed language code among declared values ("en-GB" -> "en")."""
    for value in values:
        if value:
            match = _CODE.match(value.strip())
            if match:
                return match[1].lower()
    return None


def identify(text: str) -> list[tuple[str, float]]:
    """Languages of `text` with their probabilities, most likely first (varieties merged)."""
    ranked: dict[str, float] = {}
    for label, probability in _identifier().rank(text[:SAMPLE_CHARS]):
        code = _VARIETY_OF.get(label, label)
        ranked[code] = ranked.get(code, 0.0) + probability
    return sorted(ranked.items(), key=lambda item: item[1], reverse=True)


def related(a: str, b: str) -> bool:
    """The same language, or two that the identifier cannot be trusted to tell apart."""
    return a == b or any(a in group and b in group for group in _RELATED)


def guess_language(text: str) -> str | None:
    """The identifier's language for `text`; None for too little text or too little trust."""
    if len(_LETTER.findall(text[:SAMPLE_CHARS])) < MIN_LETTERS_TO_GUESS:
        return None
    best, probability = identify(text)[0]
    return best if probability >= MIN_GUESS else None


def detect_language(text: str, *declared: str | None) -> str | None:
    """Declared code unless the text clearly says otherwise; the guess when nothing is declared."""
    stated = declared_language(*declared)
    if stated is None:
        return guess_language(text)
    if len(_LETTER.findall(text[:SAMPLE_CHARS])) < MIN_LETTERS_TO_CONTRADICT:
        return stated
    ranked = identify(text)
    best, probability = ranked[0]
    if probability < CONTRADICTION:
        return stated
    stated_probability = sum(p for code, p in ranked if related(code, stated))
    return best if stated_probability <= DECLARED_RULED_OUT else stated


def is_english(language: str | None) -> bool:
    """True for English and for an unknown language (most sources are English): the
    languages enrichment has a model for."""
    return language is None or language.lower().split("-")[0].split("_")[0] == "en"


def enrichment_of(language: str | None, is_copy: bool) -> str:
    """What enrichment does with an article, as `articles.enrichment` records it: `full`
    (entities and quotes with speakers), `no_model` (no model for its language: quotes without
    speakers, no entities) or `copy` (a duplicate: its story is enriched, not it)."""
    if is_copy:
        return "copy"
    return "full" if is_english(language) else "no_model"
