"""The names a text repeats where the model did not see them again.

NER decides each occurrence of a name from its own context, so a text that names "Sondland"
nine times often gets seven of them. `repeated_names(doc)` finds the other occurrences of the
names the model found in the same text (and of the surnames of the people it found named in
full: "Putin" after "Vladimir Putin") and gives them the label the name carries most often
there. An occurrence counts only where a name could stand on its own:

- written exactly so (case included), on tokens no entity holds, as words of their own (not
  "GB" in "32GB", "Mueller" in "post-Mueller", nor a modifier: "Siri-enabled");
- not run into a longer capitalised phrase ("Washington" in "Washington Post"), although a
  title may precede it ("Mr Putin");
- a one-word name only if it has three letters or more, is not an English function word, a
  month or a day, and the text never writes it in lowercase (a "Bush" that is also a bush is
  left to the model).

It repeats the model's mistakes as well as its finds ("Thunder" read as a person once is a
person throughout); the article's entity linking then decides one label over all mentions.

`first_names(doc)` finds the full names the model cut to a surname or did not see at all: a
person's one-word name written after a first name ("PM Imran Khan's", where the model tagged
"Khan"; "Prosecution Eva-Marie Persson" beside a "Ms Persson" it tagged). The first name is a
capitalised word (hyphenated ones included) that no other entity holds, that is not a title,
a function word, a month or a day, and that the text never writes in lowercase; and the text
writes it before that surname at least once where it does not open a sentence, so that
"Yesterday Khan said" alone is not a name.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Doc, Span

from tasks.entities import TITLES

REPEATED_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC"})
MIN_LETTERS = 3  # of a one-word name: "GB" and "GW" are units as often as names
_JOINERS = frozenset({"-", "–", "/"})
_HYPHENS = frozenset({"-", "‐", "‑"})
_SENTENCE_ENDS = frozenset({".", "!", "?", ":"})
_CLOSING = frozenset({'"', "”", "’", "'", ")"})
_OPENING = frozenset({'"', "“", "‘", "'", "(", "«", "„"})
_ARTICLES = frozenset({"a", "an", "the"})
_NOT_PEOPLE = frozenset(
    {"GPE", "LOC", "NORP", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE"}
)
CALENDAR = frozenset(
    {
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    }
)
_NOT_FIRST_NAMES = STOP_WORDS | CALENDAR | TITLES


def repeated_names(doc: Doc) -> list[Span]:
    """Spans for the occurrences of the doc's names that no entity holds (see the module)."""
    names = _names(doc)
    if not names:
        return []
    lowercase = {t.text for t in doc if t.is_lower}
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for key in sorted(names, key=len, reverse=True):  # the longest name first
        if len(key) > 1 or _may_stand_alone(key[0], lowercase):
            by_first[key[0]].append(key)
    found: list[Span] = []
    free = [token.ent_iob_ not in ("B", "I") for token in doc]
    i = 0
    while i < len(doc):
        match = next(
            (key for key in by_first.get(doc[i].text, ()) if _matches(doc, i, key, free)), None
        )
        if match is None:
            i += 1
            continue
        label = names[match].most_common(1)[0][0]
        found.append(Span(doc, i, i + len(match), label=label))
        i += len(match)
    return found


def first_names(doc: Doc) -> list[Span]:
    """PERSON spans "First Surname" for the one-word person names of the doc written after a
    first name the model left out (see the module); each covers any span of the surname."""
    surnames = {_surname(ent) for ent in doc.ents if ent.label_ == "PERSON"} - {None}
    if not surnames:
        return []
    lowercase = {t.text for t in doc if t.is_lower}
    refused = lowercase | {
        token.lower_ for ent in doc.ents if ent.label_ in _NOT_PEOPLE for token in ent
    }
    people = {ent.text for ent in doc.ents if ent.label_ == "PERSON" and len(ent) > 1}
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    opens_only: dict[str, bool] = {}  # a name whose first name only ever opens a sentence
    for token in doc:
        if token.text not in surnames or token.lower_ in lowercase:
            continue
        if _runs_on(doc, token.i + 1):
            continue
        start = _first_name_start(doc, token.i, refused)
        name = doc[start : token.i + 1].text if start is not None else ""
        if start is None or _part_of(name, people):
            continue
        found[name].append((start, token.i + 1))
        opens_only[name] = opens_only.get(name, True) and _opens_sentence(doc, start)
    return [
        Span(doc, start, end, label="PERSON")
        for name, places in found.items()
        if not opens_only[name]
        for start, end in places
    ]


def _surname(ent: Span) -> str | None:
    """The one word of a person named by one word, after any titles ("Ms Persson")."""
    words = [t for t in ent if t.lower_.rstrip(".") not in TITLES]
    if len(words) == 1 and words[0].is_alpha and _capitalised(words[0].text):
        return words[0].text
    return None


def _runs_on(doc: Doc, at: int) -> bool:
    """Whether a capitalised word follows at `at` ("Switch" in "Nintendo Switch Lite")."""
    return at < len(doc) and doc[at].is_alpha and _capitalised(doc[at].text)


def _first_name_start(doc: Doc, at: int, refused: set[str]) -> int | None:
    """Where the first name written right before token `at` starts, if one is there: a
    capitalised word, or hyphenated ones ("Eva-Marie"), on tokens no entity holds, not a
    title, function word, month or day, nor a word of `refused` (in lowercase); not after an
    article or a number ("a Liquid Retina", "11 Pro Max")."""
    start = at - 1
    if start < 0 or not doc[start].is_alpha:
        return None
    while (
        start >= 2
        and doc[start - 1].text in _HYPHENS
        and not doc[start - 1].whitespace_
        and not doc[start - 2].whitespace_
    ):
        start -= 2
    words = [t for t in doc[start:at] if t.text not in _HYPHENS]
    for word in words:
        text = word.text
        if word.ent_iob_ in ("B", "I") or not word.is_alpha or not text[:1].isupper():
            return None
        if text.isupper() or word.lower_ in refused or word.lower_ in _NOT_FIRST_NAMES:
            return None
    if start > 0:
        before = doc[start - 1]
        if before.lower_ in _ARTICLES or before.like_num:
            return None
    return start


def _part_of(name: str, people: set[str]) -> bool:
    """Whether the name's last hyphenated part and surname are a person the doc names in
    full: "Coty-Kylie Jenner" is Coty and Kylie Jenner."""
    first, _, last = name.rpartition(" ")
    _, hyphen, tail = first.rpartition("-")
    return bool(hyphen) and f"{tail} {last}" in people


def _opens_sentence(doc: Doc, at: int) -> bool:
    """Whether token `at` opens a sentence, a line or a quotation (by the text alone)."""
    before = [t for t in doc[max(at - 3, 0) : at] if not t.is_space or "\n" in t.text]
    if not before:
        return True
    last = before[-1]
    return (
        "\n" in last.text
        or last.text in _SENTENCE_ENDS | _OPENING
        or (last.text in _CLOSING and len(before) > 1 and before[-2].text in _SENTENCE_ENDS)
    )


def _names(doc: Doc) -> dict[tuple[str, ...], Counter[str]]:
    """Each name the model found (as token texts) with how often it carries each label;
    a person named in full also gives their surname."""
    names: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for ent in doc.ents:
        if ent.label_ not in REPEATED_LABELS or not _capitalised(ent[0].text):
            continue
        key = tuple(token.text for token in ent)
        if not _capitalised(key[-1]):
            continue
        names[key][ent.label_] += 1
        if ent.label_ == "PERSON" and len(ent) > 1 and ent[-1].is_alpha:
            names[(key[-1],)]["PERSON"] += 1
    return names


def _capitalised(text: str) -> bool:
    return text[:1].isupper()


def _may_stand_alone(word: str, lowercase: set[str]) -> bool:
    folded = word.casefold()
    return (
        len(word) >= MIN_LETTERS
        and folded not in STOP_WORDS
        and folded not in CALENDAR
        and folded not in lowercase
    )


def _matches(doc: Doc, i: int, key: tuple[str, ...], free: list[bool]) -> bool:
    """Whether `key` is written at token `i` on free tokens, standing on its own."""
    end = i + len(key)
    if end > len(doc) or not all(free[i:end]):
        return False
    if any(doc[i + n].text != word for n, word in enumerate(key)):
        return False
    before = doc[i - 1] if i > 0 else None
    after = doc[end] if end < len(doc) else None
    if before is not None and _joined(doc, i - 1):
        return False  # inside a word or a compound: "32GB", "Soon-Shiong", "post-Mueller"
    if after is not None and not doc[end - 1].whitespace_ and after.text in _JOINERS:
        return False  # a modifier: "Siri-enabled"
    if after is not None and after.is_alpha and _capitalised(after.text):
        return False
    if before is not None and before.is_alpha and _capitalised(before.text):
        return before.lower_.rstrip(".") in TITLES
    return True


def _joined(doc: Doc, at: int) -> bool:
    """Whether the token at `at` runs into the next one as part of a word: a letter or digit
    with no space after it, or a hyphen or slash between two such."""
    token = doc[at]
    if token.whitespace_ or token.is_space:
        return False
    if token.text in _JOINERS:
        return at > 0 and not (doc[at - 1].whitespace_ or doc[at - 1].is_space)
    return not token.is_punct
