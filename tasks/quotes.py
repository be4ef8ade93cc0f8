"""Direct quotations in an article body and who said them.

Quotations are found in the text alone: “curly”, "straight", «guillemet» and „German“ marks
(a straight mark right after a digit is an inch sign), paired
within a paragraph; a quotation still open at the end of its paragraph ends there (news style
reopens it at the start of the next paragraph, which then counts as its continuation, as does
an unattributed direct quotation that follows an attributed one in the same paragraph). Single
quotes are never quotation marks here, so nested ‘quotes’ stay inside the quotation.

Each quotation is ``direct`` (a quoted utterance: it opens a paragraph or sentence, follows a
colon, or follows a comma with a capital letter) or ``partial`` (quoted words inside the
writer's own sentence, including scare quotes such as a “great victory”). Both are kept, and
both are attributed by the same rules; the ``kind`` column tells them apart.

Attribution reads a spaCy parse. A cue is a speech verb (said, told, added ...) or "according
to" outside every quotation. For each quotation, in order of preference: a cue right after it
(``"…," X said``, ``"…," said X``, ``"…", according to X``), the nearest cue before it in the
same sentence (``X said: "…"``, ``X told Y: "…"``), a cue later in the same sentence (direct
quotations only), a cue in the preceding sentence if it ends with a colon (also across a
paragraph break), then, for a quotation that is a sentence of its own, a cue in the next
sentence of the paragraph, then one in the previous sentence. The first cue that yields a
speaker wins. A negated verb ("did not respond") is no cue. The speaker is
the cue's subject (or the object of "according to"), widened to the named entity or noun
phrase it belongs to (when the parse finds no subject outside the quotations: the PERSON
nearest the cue in its sentence); "he"/"she" resolve to the latest PERSON that was a
grammatical subject before it (else the latest PERSON, else the last named speaker), "it" to
the latest ORG, and a short name ("Putin") to the one longer name of the article that contains
it ("Vladimir Putin"). Unattributed quotations keep speaker None.

``method`` records how the speaker was found: ``cue_after``, ``cue_before``, ``according_to``,
``next_sentence``, ``previous_sentence``, ``continuation``, or ``none``; ``+pronoun`` is
appended when a pronoun was resolved.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from tasks.records import Quote

# Opening mark -> the marks that close it (pages mix straight and curly marks; German „…“).
OPENERS = {"“": '”"', '"': '"”', "«": "»", "„": "“”"}
_MARKS = re.compile(r'[“”"«»„\n]')
_WORD_CHAR = re.compile(r"\w")

# Speech verbs. No lemmatizer runs, so their forms are generated (over-generation such as
# "telled" is harmless); irregular and consonant-doubling forms are listed.
_CUE_VERBS = """
    say tell add ask state write note explain insist warn claim declare announce reply
    respond continue argue recall remark tweet post quote urge acknowledge predict vow
    promise pledge praise hail call describe condemn criticise criticize read report
    comment conclude shout sing laugh recount testify joke cry yell scream whisper exclaim
    concede counter mention observe confirm deny emphasise emphasize stress reiterate relate
    complain boast suggest
"""
_IRREGULAR = "said told wrote sang admit admits admitted admitting"


def _forms(verb: str) -> set[str]:
    if verb.endswith("e"):
        past, ing = verb + "d", verb[:-1] + "ing"
    elif verb.endswith("y") and verb[-2] not in "aeiou":
        past, ing = verb[:-1] + "ied", verb + "ing"
    else:
        past, ing = verb + "ed", verb + "ing"
    if verb.endswith(("s", "sh", "ch", "x")):
        third = verb + "es"
    elif verb.endswith("y") and verb[-2] not in "aeiou":
        third = verb[:-1] + "ies"
    else:
        third = verb + "s"
    return {verb, third, past, ing}


CUE_WORDS = frozenset(
    {form for verb in _CUE_VERBS.split() for form in _forms(verb)} | set(_IRREGULAR.split())
)
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass"})
# Dependency labels a verb can carry; a cue word with another label is a noun ("the reply").
VERB_DEPS = frozenset(
    {"ROOT", "ccomp", "conj", "advcl", "relcl", "xcomp", "parataxis", "pcomp", "acl", "dep"}
)
SPEAKER_LABELS = frozenset({"PERSON", "ORG", "NORP", "GPE", "FAC"})
PRONOUN_LABEL = {"he": "PERSON", "she": "PERSON", "it": "ORG"}
RELATIVE_PRONOUNS = frozenset({"who", "which", "that"})
_NOUN_PHRASE_DEPS = frozenset({"compound", "amod", "nmod", "poss", "case", "nummod"})
_CLIMB_DEPS = frozenset({"conj", "xcomp", "advcl"})
_AFTER_WINDOW = 8  # tokens between a closing mark and a cue that belongs to the quotation
_SHORT_SENTENCE = 8  # tokens: "Kim said." after a quotation is its attribution, not news


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """Where one quotation sits in a body."""

    start: int  # first quoted character
    end: int  # one past the last quoted character (trailing comma and spaces left out)
    open_at: int  # offset of the opening mark
    close_end: int  # one past the closing mark, or the end of the paragraph if unclosed
    closed: bool
    para_start: int
    kind: str  # "direct" | "partial"


@dataclass(frozen=True, slots=True)
class _Attribution:
    speaker: str | None
    cue: str | None
    method: str


_NONE = _Attribution(speaker=None, cue=None, method="none")


def find_quote_spans(text: str) -> list[QuoteSpan]:
    """Every quotation in `text`, in order; no model needed."""
    spans: list[QuoteSpan] = []
    opener: str | None = None
    open_at = para_start = 0
    for match in _MARKS.finditer(text):
        mark, at = match.group(), match.start()
        if mark == "\n":
            if opener is not None:
                _add_span(spans, text, open_at, at, closed=False, para_start=para_start)
                opener = None
            para_start = at + 1
        elif opener is None:
            if mark in OPENERS and not (mark == '"' and text[at - 1 : at].isdigit()):  # 34"
                opener, open_at = mark, at
        elif mark in OPENERS[opener]:
            _add_span(spans, text, open_at, at + 1, closed=True, para_start=para_start)
            opener = None
    if opener is not None:
        _add_span(spans, text, open_at, len(text), closed=False, para_start=para_start)
    return spans


def _add_span(
    spans: list[QuoteSpan],
    text: str,
    open_at: int,
    close_end: int,
    *,
    closed: bool,
    para_start: int,
) -> None:
    start, end = open_at + 1, close_end - 1 if closed else close_end
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    if not _WORD_CHAR.search(text, start, end):
        return
    kind = _kind(text[para_start:open_at].rstrip(), text[start:end])
    spans.append(QuoteSpan(start, end, open_at, close_end, closed, para_start, kind))


def _kind(before: str, words: str) -> str:
    if not before or before[-1] in ":.!?;—–-(":
        return "direct"
    last_word = before.rsplit(None, 1)[-1].lower().strip(",")
    if words[0].isupper() and (before[-1] == "," or last_word in CUE_WORDS):
        return "direct"
    if words[-1] in ".!?" and len(words.split()) >= 4:
        return "direct"
    return "partial"


def unattributed_quotes(article_id: str, text: str, *, method: str) -> list[Quote]:
    """The quotations of `text` with no speaker (a language without a model)."""
    return [
        Quote(
            article_id=article_id,
            text=text[span.start : span.end],
            speaker=None,
            start_char=span.start,
            end_char=span.end,
            cue=None,
            method=method,
            kind=span.kind,
        )
        for span in find_quote_spans(text)
    ]


def attribute_quotes(article_id: str, doc: Doc) -> list[Quote]:
    """The quotations of a parsed body with their speakers, in text order."""
    spans = find_quote_spans(doc.text)
    if not spans:
        return []
    context = _Context(doc, spans)
    quotes: list[Quote] = []
    previous: tuple[QuoteSpan, _Attribution] | None = None
    for span in spans:
        found = context.attribute(span)
        if found.cue is None and previous is not None:
            before, attribution = previous
            reopened = not before.closed and span.open_at == span.para_start > before.para_start
            follows = span.kind == "direct" and span.para_start == before.para_start
            if attribution.speaker is not None and (reopened or follows):
                found = _Attribution(attribution.speaker, attribution.cue, "continuation")
        if found.speaker is not None:
            context.last_speaker = found.speaker
        quotes.append(
            Quote(
                article_id=article_id,
                text=doc.text[span.start : span.end],
                speaker=found.speaker,
                start_char=span.start,
                end_char=span.end,
                cue=found.cue,
                method=found.method,
                kind=span.kind,
            )
        )
        previous = (span, found)
    return quotes


class _Context:
    """One parsed body with its quotations, cues and sentences indexed for attribution."""

    def __init__(self, doc: Doc, spans: Sequence[QuoteSpan]) -> None:
        self.doc = doc
        self.spans = spans
        self.opens = [span.open_at for span in spans]
        self.sents = list(doc.sents)
        self.sent_starts = [sent.start_char for sent in self.sents]
        self.ent_of: dict[int, Span] = {}
        ents = doc.ents
        for ent in ents:
            for i in range(ent.start, ent.end):
                self.ent_of[i] = ent
        self.cues = [token for token in doc if _is_cue(token) and not self.in_quote(token.idx)]
        self.cue_starts = [token.idx for token in self.cues]
        self.outside = [ent for ent in ents if not self.in_quote(ent.start_char)]
        self.person_names = {ent.text for ent in ents if ent.label_ == "PERSON"}
        self.last_speaker: str | None = None
        self.used_after: set[int] = set()  # cues already taken by the quotation before them

    def in_quote(self, offset: int) -> bool:
        i = bisect.bisect_right(self.opens, offset) - 1
        return i >= 0 and offset < self.spans[i].close_end

    def quote_between(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.opens, start)
        return i < len(self.opens) and self.opens[i] < end

    def sentence_index(self, offset: int) -> int:
        return max(bisect.bisect_right(self.sent_starts, offset) - 1, 0)

    def cues_in(self, start: int, end: int) -> list[Token]:
        lo = bisect.bisect_left(self.cue_starts, start)
        hi = bisect.bisect_left(self.cue_starts, end)
        return self.cues[lo:hi]

    # Choosing the cue -------------------------------------------------------------------

    def attribute(self, span: QuoteSpan) -> _Attribution:
        """The first candidate cue that names a speaker, else the first cue, else none."""
        chosen: _Attribution | None = None
        for cue, method in self.candidate_cues(span):
            if cue.lower_ == "according":
                method = "according_to"
            speaker, via_pronoun = self.speaker_of(cue)
            if via_pronoun:
                method += "+pronoun"
            cue_text = "according to" if cue.lower_ == "according" else cue.lower_
            found = _Attribution(speaker=speaker, cue=cue_text, method=method)
            if chosen is None or speaker is not None:
                chosen = found
                if method.startswith("cue_after"):
                    self.used_after.add(cue.i)
            if speaker is not None:
                break
        return chosen or _NONE

    def candidate_cues(self, span: QuoteSpan) -> Iterator[tuple[Token, str]]:
        """Cues that may introduce a quotation, most likely first."""
        first = self.sentence_index(span.open_at)
        last = self.sentence_index(max(span.open_at, span.close_end - 1))
        lo, hi = self.sents[first].start_char, self.sents[last].end_char
        after = [
            cue
            for cue in self.cues_in(span.close_end, hi)
            if not self.quote_between(span.close_end, cue.idx)
        ]
        before = self.cues_in(lo, span.open_at)
        if after:
            gap = self.doc.char_span(span.close_end, after[0].idx, alignment_mode="expand")
            if gap is None or len(gap) <= _AFTER_WINDOW:
                yield after.pop(0), "cue_after"
        if before and self.may_precede(before[-1], span):
            yield before[-1], "cue_before"
        if span.kind == "direct":  # a far cue is too loose a link for a scare quote
            for cue in after:
                yield cue, "cue_after"
        if first > 0:
            previous = self.sents[first - 1]
            if previous.text.rstrip().endswith(":"):  # may introduce the next paragraph
                earlier = self.cues_in(previous.start_char, previous.end_char)
                if earlier:
                    yield earlier[-1], "cue_before"
        outside = self.doc.text[lo : span.open_at] + self.doc.text[span.close_end : hi]
        alone = span.kind == "direct" and not _WORD_CHAR.search(outside)
        if alone and last + 1 < len(self.sents):
            following = self.sents[last + 1]
            between = self.doc.text[span.close_end : following.start_char]
            if "\n" not in between:
                later = self.cues_in(following.start_char, following.end_char)
                if later:
                    short = (
                        len(following) <= _SHORT_SENTENCE
                        and later[0].i - following.start < 4
                        and not between.strip()
                    )
                    yield later[0], "cue_after" if short else "next_sentence"
        if alone and first > 0:
            previous = self.sents[first - 1]
            text_between = self.doc.text[previous.start_char : span.open_at]
            if "\n" not in text_between and not self.quote_between(
                previous.start_char, span.open_at
            ):
                for cue in reversed(self.cues_in(previous.start_char, previous.end_char)):
                    yield cue, "previous_sentence"

    def may_precede(self, cue: Token, span: QuoteSpan) -> bool:
        """Whether a cue before a quotation introduces it.

        A cue that already closed the previous quotation ("“Yes,” she said, ...") introduces
        this one only when nothing but its speaker and punctuation lies between them
        ("..., she said, “and no.”"), not across another clause ("..., and “no” was ...").
        """
        if self.quote_between(cue.idx, span.open_at):
            return False
        if cue.i not in self.used_after:
            return True
        for token in self.doc[cue.i + 1 :]:
            if token.idx >= span.open_at:
                return True
            if token.is_alpha and token.i not in self.ent_of and token.lower_ not in PRONOUN_LABEL:
                return False
        return True

    # Naming the speaker -----------------------------------------------------------------

    def speaker_of(self, cue: Token) -> tuple[str | None, bool]:
        """The speaker named by a cue, and whether a pronoun had to be resolved."""
        subject = self.subject_of(cue)
        if subject is None:
            return None, False
        return self.name_of(subject, allow_climb=True)

    def subject_of(self, cue: Token) -> Token | None:
        doc = self.doc
        if cue.lower_ == "according":
            to = doc[cue.i + 1]
            objects = [child for child in to.children if child.dep_ == "pobj"]
            if objects:
                return objects[0]
            return doc[to.i + 1] if to.i + 1 < len(doc) else None
        verb = cue
        for _ in range(3):
            subject = next((c for c in verb.children if c.dep_ in SUBJECT_DEPS), None)
            if subject is not None and not self.in_quote(subject.idx):
                return subject
            if verb.dep_ not in _CLIMB_DEPS or verb.head is verb:
                break
            verb = verb.head
        return self.nearest_speaker(cue)

    def nearest_speaker(self, cue: Token) -> Token | None:
        """When the parse gives no subject: the PERSON nearest the cue in its sentence, else
        the nearest other named speaker, else the nearest personal pronoun."""
        sentence = cue.sent
        ranked: list[tuple[int, int, int]] = []
        for token in sentence:
            if token.i == cue.i or self.in_quote(token.idx) or not self.is_speaker_like(token):
                continue
            ent = self.ent_of.get(token.i)
            rank = 0 if ent is not None and ent.label_ == "PERSON" else 1 if ent else 2
            ranked.append((rank, abs(token.i - cue.i), token.i))
        return cue.doc[min(ranked)[2]] if ranked else None

    def is_speaker_like(self, token: Token) -> bool:
        ent = self.ent_of.get(token.i)
        return (ent is not None and ent.label_ in SPEAKER_LABELS) or token.lower_ in PRONOUN_LABEL

    def name_of(self, token: Token, *, allow_climb: bool) -> tuple[str | None, bool]:
        ent = self.ent_of.get(token.i)
        if ent is not None and ent.label_ in SPEAKER_LABELS:
            return self.full_name(ent), False
        for child in token.children:
            appos = self.ent_of.get(child.i)
            if child.dep_ == "appos" and appos is not None and appos.label_ in SPEAKER_LABELS:
                return self.full_name(appos), False
        if token.lower_ in PRONOUN_LABEL:
            return self.antecedent(token, PRONOUN_LABEL[token.lower_]), True
        if token.lower_ in RELATIVE_PRONOUNS:
            if not allow_climb or token.head.dep_ != "relcl":
                return None, False
            noun = token.head.head
            if self.is_speaker_like(noun):
                return self.name_of(noun, allow_climb=False)
            subject = _governing_subject(noun)
            return self.name_of(subject, allow_climb=False) if subject else (None, False)
        if not token.is_alpha or token.is_stop:
            return None, False
        return _noun_phrase(token), False

    def antecedent(self, pronoun: Token, label: str) -> str | None:
        earlier = [
            ent for ent in self.outside if ent.label_ == label and ent.end_char <= pronoun.idx
        ]
        subjects = [ent for ent in earlier if ent.root.dep_ in SUBJECT_DEPS]
        chosen = subjects[-1] if subjects else earlier[-1] if earlier else None
        if chosen is None:
            return self.last_speaker
        return self.full_name(chosen)

    def full_name(self, ent: Span) -> str:
        """A PERSON's longer name when the article gives exactly one ("Kim" -> "Kim Jong-un")."""
        if ent.label_ != "PERSON":
            return ent.text
        words = set(ent.text.split())
        longer = {
            name
            for name in self.person_names
            if len(name) > len(ent.text) and words <= set(name.split())
        }
        return longer.pop() if len(longer) == 1 else ent.text


def _is_cue(token: Token) -> bool:
    if token.lower_ == "according":
        return token.i + 1 < len(token.doc) and token.doc[token.i + 1].lower_ == "to"
    return (
        token.lower_ in CUE_WORDS
        and token.dep_ in VERB_DEPS
        and not any(child.dep_ == "neg" for child in token.children)  # "did not respond"
    )


def _governing_subject(token: Token) -> Token | None:
    """The subject of the nearest clause above `token` ("Kim left a book which read: ...")."""
    for ancestor in _ancestors(token):
        subject = next((c for c in ancestor.children if c.dep_ in SUBJECT_DEPS), None)
        if subject is not None and subject.lower_ not in RELATIVE_PRONOUNS:
            return subject
    return None


def _ancestors(token: Token) -> Iterable[Token]:
    while token.head is not token:
        token = token.head
        yield token


def _noun_phrase(token: Token) -> str:
    """The subject noun with its left modifiers, without a leading determiner."""
    start = token.i
    for child in token.lefts:
        if child.dep_ in _NOUN_PHRASE_DEPS:
            start = min(start, child.left_edge.i)
    doc = token.doc
    while start < token.i and doc[start].dep_ == "det":
        start += 1
    return doc[start : token.i + 1].text
