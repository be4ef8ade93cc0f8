"""Direct quotations in an article body and who said them.

Quotations are found in the text alone: “curly”, "straight", «guillemet» and „German“ marks
(a straight mark right after a digit is an inch sign; two single closing marks, ’’ or '',
close a double quotation as some wire copy writes it), paired
within a paragraph; a quotation still open at the end of its paragraph ends there (news style
reopens it at the start of the next paragraph, which then counts as its continuation and keeps
its speaker even where a cue names someone the rules cannot resolve, as does an unattributed
direct quotation that follows an attributed one in the same paragraph, or
that is a paragraph of its own right after a paragraph ending in an attributed quotation).
A quoted excerpt may also run on without being reopened: where a closing mark is the first
mark of one of the next few paragraphs with text, and none of those before it has a mark,
each of them is a quotation, continuing the first.
Single quotes are never quotation marks here, so nested ‘quotes’ stay inside the quotation.

Each pair of marks gets a ``kind``. Quotations (`QUOTE_KINDS`), someone's words:
``direct`` (a quoted utterance: it opens a paragraph or sentence, follows a colon, or follows
a comma with a capital letter) or ``partial`` (quoted words inside the writer's own
sentence). The other kinds (`NOT_QUOTES`) are marks around something nobody said, kept with
no speaker so that analysts can leave them out:

- ``title``: a name in Title Case ("The River Remembers", "Star Wars"; two words or more), or
  marked as a name by the words before it (a work noun such as poem, song, film, programme,
  book; "titled", "named", "dubbed", "known as", "is called", "the word"), or a list item
  after a title;
- ``slogan``: after chants, slogans, mottos, banners, placards or signs reading, or followed
  by "chanted";
- ``scare``: after "so-called"; a partial quotation of up to four words that modifies the
  noun after it (the “interim” government); a partial quotation of up to three words that no
  speech verb attributes.

Attribution reads a spaCy parse. A cue is a speech verb (said, told, added, rejected,
accused, assured ... `CUE_WORDS`), "according to" or "as X puts it" outside every
quotation; a verb negated outside the quotations ("did not respond") is no cue, "continued
to" and "agreed to" neither, nor "maintaining his stance" (a verb of `_OBJECT_VERBS` with a
direct object), nor a participle describing a noun with its agent ("the interests shared by
Ukraine").
For each quotation, in order of preference:

1. a pull-quote signature right after it (“…” — Name);
2. a cue right before it with only names and punctuation between (``X said: "…"``, ``X told
   Y: "…"``, ``he said, "…"``);
3. a cue before it in its sentence that governs it in the parse (``X said the plan was
   "…"``; of several, the nearest say/tell/add, else the outermost);
4. a cue right after it (``"…," X said``, ``"…," said X``, ``"…", according to X``);
5. the nearest cue before it in the same sentence, then an earlier one set between commas
   with its subject (", Mr Temba says, women can ... “…”"), then a cue later in the same
   sentence (for a partial quotation only one that closes the sentence after a comma with
   its subject: "… “tried to block the path” of the boat, the bureau said.");
6. a cue in the preceding sentence if it ends with a colon (also across a paragraph break);
7. for a quotation that is a sentence of its own: a cue in the next sentence of the
   paragraph, then one in the previous sentence (for a quotation that is its whole
   paragraph, the last sentence of the previous paragraph); a continuation (above) goes
   before these;
8. for a quotation that is its whole paragraph and has no speaker yet: the person named as
   the main-clause subject of the previous paragraph's last sentence, when that sentence
   quotes nobody ("Mlungisi Mvoko wants the corridor to reach Angola." / "“Bringing in
   Angola ...”"), or whose documents that subject is ("Godongwana's budget documents
   show ...").

The first cue that yields a speaker wins. The speaker is the cue's subject (for a cue in the
passive, its agent: "they were told by Maria Lopez", but not whoever quotes, cites or
reports someone; for "forecasters warning that", the noun the verb describes; for a
participle under another speech verb, "X said Y had ..., adding that", that verb's subject;
when the parse finds no subject outside the quotations: the subject of the clause above the
cue if it names someone ("X dodged questions on ..., pledging to “…”"), else the name
nearest the cue in its sentence), named by `tasks.speakers` (entities, pronouns with gender
and number agreement, descriptors resolved to whom they describe or dropped). A partial
quotation that no cue attributes takes the named subject of its clause ("Apple views privacy
as “a fundamental human right”"; for three words or fewer only a tagged person or
organisation, in the quotation's own clause).
Unattributed quotations keep speaker None.

``method`` records how the speaker was found: ``signature``, ``cue_after``, ``cue_before``,
``according_to``, ``next_sentence``, ``previous_sentence``, ``continuation``,
``introduced``, ``subject``, or ``none``; ``+pronoun`` or ``+descriptor`` is appended when
a pronoun or a description was resolved.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span, Token

from tasks.records import Quote
from tasks.speakers import (
    DOCUMENT_NOUNS,
    SUBJECT_DEPS,
    Speakers,
    governing_subject,
    passive_agent,
)

# Kinds that are someone's words, and kinds that are marks around something nobody said.
QUOTE_KINDS = frozenset({"direct", "partial"})
NOT_QUOTES = frozenset({"title", "slogan", "scare"})

# Opening mark -> the marks that close it (pages mix straight and curly marks; German „…“).
OPENERS = {"“": '”"', '"': '"”', "«": "»", "„": "“”"}
# Two single closing marks stand for a double one in some wire copy (“It was,’’ she said).
_DOUBLED_CLOSERS = ("’’", "''")
_CLOSERS = frozenset({"”", "»"})  # marks that only ever close a quotation
_RUN_ON_PARAGRAPHS = 3  # unmarked paragraphs a quotation may run through before it closes
_MARKS = re.compile(r'’’|\'\'|[“”"«»„\n]')
_WORD_CHAR = re.compile(r"\w")
_WORD = re.compile(r"[^\W\d_][\w’'&.-]*")

# Speech verbs. No lemmatizer runs, so their forms are generated (over-generation such as
# "telled" is harmless); irregular and consonant-doubling forms are listed.
_CUE_VERBS = """
    say tell add ask state write note explain insist warn claim declare announce reply
    respond continue argue recall remember remark tweet post quote urge acknowledge predict
    vow promise pledge praise hail call describe condemn criticise criticize read report
    comment conclude shout sing laugh recount testify joke cry yell scream whisper exclaim
    concede counter mention observe confirm deny emphasise emphasize stress reiterate relate
    complain boast suggest reject accuse assure reassure allege lament maintain contend
    reveal disclose retort muse caution advise demand assert affirm proclaim agree disagree
    dismiss plead implore threaten brag grumble sigh gush enthuse marvel wonder speculate
    estimate forecast inform chime interject interrupt summarise summarize clarify
    elaborate underline underscore opine posit scoff sneer fume decry denounce lambast mock
    ridicule question query inquire enquire guarantee swear confess apologise apologize
    reflect characterise characterize portray depict cite recommend propose instruct answer justify
    defend repeat hint text email blog blast slam share
"""
_DOUBLED = "admit quip snap rebut beg sob"  # admitted, quipped ...
_IRREGULAR = "said told wrote written sang sung spoke spoken swore sworn"
# Speech verbs that say nothing before a to-infinitive ("continued to", "agreed to return").
_NOT_CUE_WITH_XCOMP = frozenset(
    {"continue", "continues", "continued", "continuing", "agree", "agrees", "agreed", "agreeing"}
)


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
    {form for verb in _CUE_VERBS.split() for form in _forms(verb)}
    | {form for verb in _DOUBLED.split() for form in (verb, verb + "s")}
    | {verb + verb[-1] + ending for verb in _DOUBLED.split() for ending in ("ed", "ing")}
    | set(_IRREGULAR.split())
)
# The plainest speech verbs: of the cues governing a quotation, the nearest of these wins
# ("the aide recalled that he said “…”"), else the outermost cue ("X said Y had concluded “…”").
_SAYING = frozenset(_forms("say") | _forms("tell") | _forms("add") | {"said", "told"})
# Verbs whose agent reports someone else's words ("quoted by Reuters as saying").
_REPORTING = frozenset(_forms("quote") | _forms("cite") | _forms("report"))
# Verbs that are speech only without a direct object ("maintained that ..." but not
# "maintaining his stance").
_OBJECT_VERBS = """
    maintain defend question answer repeat cite reflect propose recommend guarantee estimate
    forecast threaten share
"""
_NOT_CUE_WITH_OBJECT = frozenset(form for verb in _OBJECT_VERBS.split() for form in _forms(verb))
# Dependency labels a verb can carry; a cue word with another label is a noun ("the reply").
VERB_DEPS = frozenset(
    {"ROOT", "ccomp", "conj", "advcl", "relcl", "xcomp", "parataxis", "pcomp", "acl", "dep"}
)
_CLIMB_DEPS = frozenset({"conj", "xcomp", "advcl"})
_RANKS = {"PERSON": 0, "ORG": 1}  # which named subject speaks first; other names rank 2
_LOOSE = frozenset({"next_sentence", "previous_sentence"})  # cues in another sentence
_MODIFIER_DEPS = frozenset({"amod", "compound", "nmod", "nummod"})
_AFTER_WINDOW = 8  # tokens between a closing mark and a cue that belongs to the quotation
_CLOSING_TAIL = 5  # words after a sentence-closing attribution ("in a statement on Monday")
_SHORT_SENTENCE = 8  # tokens: "Kim said." after a quotation is its attribution, not news
_SCARE_WORDS = 3  # an unattributed partial quotation this short is the writer's own words
_MODIFIER_WORDS = 4  # a quoted modifier this short is a term: the “interim” government

# Words before or after a pair of marks that make it a name or a slogan (see the docstring).
_SMALL = "a an the and or nor but of in on at to for by with from as into onto over up vs via per"
_SMALL_WORDS = frozenset(_SMALL.split())
_WORKS = (
    r"book|novel|poem|song|songs|single|album|record|track|film|movie|documentary|show|series"
    r"|sitcom|programme|program|podcast|play|musical|opera|episode|column|essay|app"
    r"|application|game|video|painting|exhibition|campaign|initiative|operation|project"
    r"|brand|band|newsletter|magazine|festival|tour|competition|contest|award|prize|anthem"
    r"|hymn|slogan|motto|hashtag|word|term|phrase|name|nickname|moniker"
)
_NAMED_BEFORE = re.compile(
    rf"(?:\b(?:{_WORKS}),?|\b(?:titled|entitled|named|dubbed|nicknamed|christened|nickname of"
    r"|(?:is|are|was|were|be|been|being|[’']s) called)"
    r"(?:\s+(?:the|a|an))?"
    r"|\b(?:dubbed|nicknamed|termed|known|billed|branded|labell?ed)\b[^.!?;“”\"]{0,60}\bas"
    r"(?:\s+(?:the|a|an))?)\s*$",
    re.IGNORECASE,
)
_NAMED_AFTER = re.compile(r"^\s*,?\s*as \w+(?: \w+)? (?:dubbed|nicknamed|christened)\b")
_SLOGAN_BEFORE = re.compile(
    r"\b(?:chant\w*|slogans?|mottos?|banners?|placards?|signs?\s+(?:reading|saying|that read"
    r"|which read|with)|hashtags?|taglines?|catchphrases?|mantras?|(?:rallying|battle|war) cry)"
    r"\b",
    re.IGNORECASE,
)
_SLOGAN_AFTER = re.compile(r"^[\s,.]*(?:\w+\s+){0,3}?chant(?:ed|ing|s)?\b", re.IGNORECASE)
_SO_CALLED = re.compile(r"\bso-called\s*$", re.IGNORECASE)
_LIST_JOIN = re.compile(r"[\s,]*(?:(?:and|or|,)\s*)?$")
_SENTENCE_END = re.compile(r"[.!?]\s")  # inside quoted words: more than one sentence
_SENTENCE_BREAK = re.compile(r"[.!?][”\"»’]?(?:\s|$)")  # before a mark: where its sentence starts
_SIGNATURE = re.compile(r"[ \t]*(?:\n\s*)?(?:[—―–]|--?)[ \t]*(?=\S)")


@dataclass(frozen=True, slots=True)
class QuoteSpan:
    """Where one quotation sits in a body."""

    start: int  # first quoted character
    end: int  # one past the last quoted character (trailing comma and spaces left out)
    open_at: int  # offset of the opening mark
    close_end: int  # one past the closing mark, or the end of the paragraph if unclosed
    closed: bool
    para_start: int
    kind: str  # one of QUOTE_KINDS or NOT_QUOTES


@dataclass(frozen=True, slots=True)
class _Attribution:
    speaker: str | None
    cue: str | None
    method: str


_NONE = _Attribution(speaker=None, cue=None, method="none")


def find_quote_spans(text: str, *, english: bool = True) -> list[QuoteSpan]:
    """Every quotation in `text`, in order, with its kind as far as the text tells it (a
    partial quotation may still turn out ``scare`` once attributed); no model needed. The
    title, slogan and "so-called" rules read English words and capitals: with `english`
    False every quotation is ``direct`` or ``partial``."""
    spans: list[QuoteSpan] = []
    opener: str | None = None
    open_at = para_start = 0
    run_on: list[tuple[int, int]] | None = None  # paragraphs since a quotation was left open
    marked = False  # the paragraph has had a quotation mark
    for match in _MARKS.finditer(text):
        mark, at = match.group(), match.start()
        if mark == "\n":
            if opener is not None:
                _add_span(spans, text, open_at, at, closed=0, para_start=para_start, en=english)
                opener, run_on = None, []
            elif marked:
                run_on = None
            elif run_on is not None and text[para_start:at].strip():
                running = len(run_on) < _RUN_ON_PARAGRAPHS
                run_on = [*run_on, (para_start, at)] if running else None
            para_start, marked = at + 1, False
        elif opener is None and run_on is not None and not marked and mark in _CLOSERS:
            # The quotation ran on without being reopened (a quoted excerpt) and closes here.
            for start, end in [*run_on, (para_start, match.end())]:
                closed = len(mark) if start == para_start else 0
                _add_span(
                    spans, text, start, end, closed=closed, para_start=start, en=english, opened=0
                )
            run_on, marked = None, True
        elif opener is None:
            marked = True
            if mark in OPENERS and not (mark == '"' and text[at - 1 : at].isdigit()):  # 34"
                opener, open_at = mark, at
        elif mark in OPENERS[opener] or (mark in _DOUBLED_CLOSERS and opener in '“"'):
            closed, close = len(mark), match.end()
            _add_span(spans, text, open_at, close, closed=closed, para_start=para_start, en=english)
            opener = None
    if opener is not None:
        _add_span(spans, text, open_at, len(text), closed=0, para_start=para_start, en=english)
    return spans


def _add_span(
    spans: list[QuoteSpan],
    text: str,
    open_at: int,
    close_end: int,
    *,
    closed: int,
    para_start: int,
    en: bool,
    opened: int = 1,
) -> None:
    """Add the quotation between an opening mark and `close_end`; `closed` is the length of
    its closing mark (0: unclosed, ended by its paragraph), `opened` of its opening mark (0:
    a quotation run on from the paragraph before, opening this one without a mark)."""
    start, end = open_at + opened, close_end - closed
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    if not _WORD_CHAR.search(text, start, end):
        return
    previous = spans[-1] if spans and spans[-1].para_start == para_start else None
    if en:
        kind = _kind(text, para_start, open_at, text[start:end], close_end, previous)
    else:
        kind = _utterance_kind(text[para_start:open_at].rstrip(), text[start:end])
    spans.append(QuoteSpan(start, end, open_at, close_end, closed > 0, para_start, kind))


def _kind(
    text: str, para_start: int, open_at: int, words: str, close_end: int, previous: QuoteSpan | None
) -> str:
    before = text[para_start:open_at].rstrip()
    sentence = before[max((m.end() for m in _SENTENCE_BREAK.finditer(before)), default=0) :]
    line_end = text.find("\n", close_end)
    after = text[close_end : len(text) if line_end < 0 else line_end]
    if previous is not None and _listed_after(text, previous, open_at):  # “A,” “B” and “C”
        return previous.kind
    if _SLOGAN_BEFORE.search(sentence[-100:]) or _SLOGAN_AFTER.match(after):
        return "slogan"
    if _SO_CALLED.search(sentence):
        return "scare"
    if _title_case(words) or (
        len(words.split()) <= 8 and (_NAMED_BEFORE.search(sentence) or _NAMED_AFTER.match(after))
    ):
        return "title"
    return _utterance_kind(before, words)


def _utterance_kind(before: str, words: str) -> str:
    """``direct`` for a quoted utterance, else ``partial``."""
    if not before or before[-1] in ":.!?;—–-(":
        return "direct"
    last_word = before.rsplit(None, 1)[-1].lower().strip(",")
    if words[0].isupper() and (before[-1] == "," or last_word in CUE_WORDS):
        return "direct"
    if words[-1] in ".!?" and len(words.split()) >= 4:
        return "direct"
    return "partial"


def _listed_after(text: str, previous: QuoteSpan, open_at: int) -> bool:
    """Whether a quotation is the next item of a list of titles or slogans."""
    joined = _LIST_JOIN.match(text, previous.close_end, open_at) is not None
    return previous.kind in ("title", "slogan") and joined


def _title_case(words: str) -> bool:
    """Whether quoted words read as a name: two to twelve words, each capitalised but the
    small ones, in one sentence ("The River Remembers", "Takin’ It To the Streets")."""
    found = _WORD.findall(words)
    if not 2 <= len(found) <= 12 or _SENTENCE_END.search(words):
        return False
    return all(
        word[0].isupper() or (i > 0 and word.lower() in _SMALL_WORDS)
        for i, word in enumerate(found)
    )


def _reopens(span: QuoteSpan, before: QuoteSpan) -> bool:
    """Whether `span` continues the quotation `before` into a new paragraph: `before` was
    never closed and `span` opens its paragraph."""
    return not before.closed and span.open_at == span.para_start > before.para_start


def _subject_after_comma(cue: Token) -> Token | None:
    """A cue's subject when a comma inside the sentence opens the phrase of the two
    (", the bureau said", ", Mr Temba says"), else None."""
    subject = next((c for c in cue.children if c.dep_ in SUBJECT_DEPS), None)
    if subject is None:
        return None
    start = min(subject.left_edge.i, cue.i)
    return subject if start > cue.sent.start and cue.doc[start - 1].text == "," else None


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
        for span in find_quote_spans(text, english=False)
    ]


def attribute_quotes(
    article_id: str, doc: Doc, spans: Sequence[QuoteSpan] | None = None
) -> list[Quote]:
    """The quotations of a parsed body with their speakers, in text order. `spans` are
    `find_quote_spans(doc.text)` when the caller has them already."""
    text = doc.text  # spaCy joins the tokens again on every access
    if spans is None:
        spans = find_quote_spans(text)
    if not spans:
        return []
    context = _Context(doc, text, spans)
    quotes: list[Quote] = []
    previous: tuple[QuoteSpan, _Attribution] | None = None
    for span in spans:
        if span.kind in NOT_QUOTES:
            found = _NONE
        else:
            found = context.attribute(span, previous)
            if span.kind == "partial" and context.is_scare(span, found):
                span, found = replace(span, kind="scare"), _NONE
        if span.kind in QUOTE_KINDS:
            if found.speaker is not None:
                context.speakers.last_speaker = found.speaker
            previous = (span, found)
        quotes.append(
            Quote(
                article_id=article_id,
                text=text[span.start : span.end],
                speaker=found.speaker,
                start_char=span.start,
                end_char=span.end,
                cue=found.cue,
                method=found.method,
                kind=span.kind,
            )
        )
    return quotes


class _Context:
    """One parsed body with its quotations, cues and sentences indexed for attribution."""

    def __init__(self, doc: Doc, text: str, spans: Sequence[QuoteSpan]) -> None:
        self.doc = doc
        self.text = text
        self.spans = spans
        self.opens = [span.open_at for span in spans]
        self.sents = list(doc.sents)
        self.sent_starts = [sent.start_char for sent in self.sents]
        self.token_starts = [token.idx for token in doc]
        self.speakers = Speakers(doc, self.in_quote)
        self.cues = [token for token in doc if self.is_cue(token)]
        self.cue_starts = [token.idx for token in self.cues]
        self.used_after: set[int] = set()  # cues already taken by the quotation before them

    def in_quote(self, offset: int) -> bool:
        i = bisect.bisect_right(self.opens, offset) - 1
        return i >= 0 and offset < self.spans[i].close_end

    def is_cue(self, token: Token) -> bool:
        if self.in_quote(token.idx):
            return False
        if token.lower_ == "according":
            return token.i + 1 < len(token.doc) and token.doc[token.i + 1].lower_ == "to"
        if token.lower_ in ("put", "puts"):  # "as Enslin puts it"
            words = {c.lower_ for c in token.children if not self.in_quote(c.idx)}
            return {"as", "it"} <= words
        if token.lower_ not in CUE_WORDS or token.dep_ not in VERB_DEPS:
            return False
        if token.dep_ == "acl" and any(c.dep_ == "agent" for c in token.children):
            return False  # a participle describing a noun: "the interests shared by Ukraine"
        for child in token.children:
            if child.dep_ == "neg" and not self.in_quote(child.idx):  # "did not respond"
                return False
            if child.dep_ == "xcomp" and token.lower_ in _NOT_CUE_WITH_XCOMP:
                return False
            object_verb = token.lower_ in _NOT_CUE_WITH_OBJECT
            if child.dep_ == "dobj" and object_verb and not self.in_quote(child.idx):
                return False
        return True

    def closes_sentence(self, cue: Token) -> bool:
        """Whether a cue and its subject close their sentence after a comma, attributing all
        of it (", the bureau said." / ", said Ms Berg on Monday.")."""
        subject = _subject_after_comma(cue)
        if subject is None:
            return False
        rest = [t for t in cue.doc[max(subject.i, cue.i) + 1 : cue.sent.end] if not t.is_punct]
        return len(rest) <= _CLOSING_TAIL and not any(t.dep_ in VERB_DEPS for t in rest)

    def parenthetical(self, cue: Token) -> bool:
        """Whether a cue and its subject stand between commas inside their sentence,
        attributing all of it (", Mr Temba says, women can be harassed ...")."""
        subject = _subject_after_comma(cue)
        after = cue.i + 1
        return (
            subject is not None
            and subject.i < cue.i
            and after < len(cue.doc)
            and cue.doc[after].text == ","
        )

    def quote_between(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.opens, start)
        return i < len(self.opens) and self.opens[i] < end

    def sentence_index(self, offset: int) -> int:
        return max(bisect.bisect_right(self.sent_starts, offset) - 1, 0)

    def cues_in(self, start: int, end: int) -> list[Token]:
        lo = bisect.bisect_left(self.cue_starts, start)
        hi = bisect.bisect_left(self.cue_starts, end)
        return self.cues[lo:hi]

    def tokens_in(self, start: int, end: int) -> Span:
        lo = bisect.bisect_left(self.token_starts, start)
        hi = bisect.bisect_left(self.token_starts, end)
        return self.doc[lo:hi]

    def paragraph_alone(self, span: QuoteSpan) -> bool:
        """Whether the quotation is its whole paragraph."""
        text = self.text
        line_end = text.find("\n", span.close_end)
        rest = text[span.close_end : len(text) if line_end < 0 else line_end]
        return span.open_at == span.para_start and not _WORD_CHAR.search(rest)

    # Choosing the cue -------------------------------------------------------------------

    def attribute(
        self, span: QuoteSpan, previous: tuple[QuoteSpan, _Attribution] | None
    ) -> _Attribution:
        """A signature, else the first candidate cue that names a speaker (a continuation
        of the previous quotation going before a cue in another sentence), else the first
        cue, else a continuation (also instead of a cue that names nobody, for a quotation
        run on into a new paragraph), else (for a partial quotation) the subject of the
        clause it stands in when that names someone, else none."""
        signed = self.signature(span)
        if signed is not None:
            return _Attribution(speaker=signed, cue=None, method="signature")
        chosen: _Attribution | None = None
        # One quotation run on into a new paragraph keeps the speaker it had, whoever a cue
        # the rules cannot name says it is ("“...,” the government spokesman said").
        reopens = previous is not None and _reopens(span, previous[0])
        for cue, method in self.candidate_cues(span):
            if method in _LOOSE and previous is not None:
                carried = self.continued(span, *previous)
                if carried.speaker is not None:
                    return carried
            if cue.lower_ == "according":
                method = "according_to"
            speaker, via = self.speaker_of(cue)
            if via:
                method += "+" + via
            cue_text = "according to" if cue.lower_ == "according" else cue.lower_
            found = _Attribution(speaker=speaker, cue=cue_text, method=method)
            if chosen is None or speaker is not None:
                chosen = found
                if method.startswith("cue_after"):
                    self.used_after.add(cue.i)
            if speaker is not None:
                break
        if previous is not None and (chosen is None or (chosen.speaker is None and reopens)):
            chosen = self.continued(span, *previous)
        if (chosen is None or chosen.speaker is None) and self.paragraph_alone(span):
            chosen = self.introduced(span) or chosen
        if (chosen is None or chosen.method == "none") and span.kind == "partial":
            chosen = self.clause_subject(span)
        return chosen or _NONE

    def clause_subject(self, span: QuoteSpan) -> _Attribution:
        """For a partial quotation of more than a few words that no cue attributes: the
        named subject of the clause it stands in ("Apple views privacy as “a fundamental
        human right”")."""
        root = self.quote_root(span)
        if root is None:
            return _NONE
        short = len(_WORD.findall(self.text, span.start, span.end)) <= _SCARE_WORDS
        verb = next((t for t in [root, *root.ancestors] if t.dep_ in VERB_DEPS), None)
        while verb is not None:
            subject = next((c for c in verb.children if c.dep_ in SUBJECT_DEPS), None)
            if subject is None or self.in_quote(subject.idx):
                climb = not short and verb.dep_ in _CLIMB_DEPS and verb.head.i != verb.i
                verb = verb.head if climb else None
                continue
            found = self.speakers.referent(subject)
            if found is not None and (not short or found.label in ("PERSON", "ORG")):
                name: str | None = found.name
            else:
                name = None if short else self.speakers.proper_name(subject)
            if name is None:
                return _NONE
            return _Attribution(speaker=name, cue=None, method="subject")
        return _NONE

    def introduced(self, span: QuoteSpan) -> _Attribution | None:
        """For a quotation that is its whole paragraph and that nothing else attributes: the
        person the previous paragraph ends on as the subject of its main clause ("Mlungisi
        Mvoko ... wants to see the corridor reach Angola." / "“Bringing in Angola ...”")."""
        n = self.sentence_index(span.para_start) - 1
        if n < 0 or self.sents[n].end_char > span.para_start:
            return None
        sentence = self.sents[n]
        if any(self.in_quote(token.idx) for token in sentence):
            return None
        for token in sentence:
            if token.dep_ == "nsubj" and token.head.dep_ == "ROOT":
                found = self.speakers.referent(token)
                if found is not None and found.label == "PERSON":
                    return _Attribution(speaker=found.name, cue=None, method="introduced")
                owner = self._document_owner(token) if found is None else None
                if owner is not None:
                    return _Attribution(speaker=owner, cue=None, method="introduced")
        return None

    def _document_owner(self, noun: Token) -> str | None:
        """Whose documents a subject is ("Godongwana's latest budget documents show"), named
        as a person or an organisation, or None."""
        word = noun.lower_
        if word not in DOCUMENT_NOUNS and word.removesuffix("s") not in DOCUMENT_NOUNS:
            return None
        for child in noun.children:
            found = self.speakers.referent(child) if child.dep_ == "poss" else None
            if found is not None:
                return found.name
        return None

    def signature(self, span: QuoteSpan) -> str | None:
        """The name signing a pull quote: “…” — Carla Jimenez, head librarian."""
        if span.kind != "direct" or span.open_at != span.para_start:
            return None
        dash = _SIGNATURE.match(self.text, span.close_end)
        if dash is None:
            return None
        tokens = self.tokens_in(dash.end(), dash.end() + 1)
        if not tokens:
            return None
        first = tokens[0]
        found = self.speakers.referent(first)
        if found is not None:
            return found.name
        words = []
        for token in self.doc[first.i : first.i + 4]:
            if not token.is_title or "\n" in token.text:
                break
            words.append(token.text)
        return " ".join(words) if len(words) >= 2 else None

    def continued(
        self, span: QuoteSpan, before: QuoteSpan, attribution: _Attribution
    ) -> _Attribution:
        """The previous quotation's speaker, when this one continues it (see the docstring)."""
        if attribution.speaker is None:
            return _NONE
        reopened = _reopens(span, before)
        follows = span.kind == "direct" and span.para_start == before.para_start
        between = self.text[before.close_end : span.para_start]
        next_paragraph = (
            self.paragraph_alone(span)
            and before.para_start < span.para_start
            and "\n" not in between.rstrip()  # no other paragraph between
        )
        if reopened or follows or next_paragraph:
            return _Attribution(attribution.speaker, attribution.cue, "continuation")
        return _NONE

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
        if before and self.introduces(before[-1], span) and self.may_precede(before[-1], span):
            yield before[-1], "cue_before"  # X said: “…” / he said, “…”
        root = self.quote_root(span)
        if root is not None:
            governing = [cue for cue in before if cue.is_ancestor(root)]
            saying = [cue for cue in governing if cue.lower_ in _SAYING]
            chosen = saying[-1] if saying else governing[0] if governing else None
            if chosen is not None and chosen.i not in self.used_after:
                yield chosen, "cue_before"
        if after:
            gap = self.doc.char_span(span.close_end, after[0].idx, alignment_mode="expand")
            if gap is None or len(gap) <= _AFTER_WINDOW:
                yield after.pop(0), "cue_after"
        if before and self.may_precede(before[-1], span):
            yield before[-1], "cue_before"
        for cue in reversed(before[:-1]):  # "In the dark, Mr Temba says, women can ... “…”"
            if self.parenthetical(cue) and self.may_precede(cue, span):
                yield cue, "cue_before"
        if span.kind == "direct":  # a far cue is too loose a link for a scare quote
            for cue in after:
                yield cue, "cue_after"
        elif after and self.closes_sentence(after[-1]):  # “…” of the boat, the bureau said.
            yield after[-1], "cue_after"
        if first > 0:
            previous = self.sents[first - 1]
            if previous.text.rstrip().endswith(":"):  # may introduce the next paragraph
                earlier = self.cues_in(previous.start_char, previous.end_char)
                if earlier:
                    yield earlier[-1], "cue_before"
        outside = self.text[lo : span.open_at] + self.text[span.close_end : hi]
        alone = span.kind == "direct" and not _WORD_CHAR.search(outside)
        if alone and last + 1 < len(self.sents):
            following = self.sents[last + 1]
            between = self.text[span.close_end : following.start_char]
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
            text_between = self.text[previous.start_char : span.open_at]
            same_paragraph = "\n" not in text_between
            if (same_paragraph or self.paragraph_alone(span)) and not self.quote_between(
                previous.start_char, span.open_at
            ):
                for cue in reversed(self.cues_in(previous.start_char, previous.end_char)):
                    yield cue, "previous_sentence"

    def introduces(self, cue: Token, span: QuoteSpan) -> bool:
        """Whether only punctuation and names lie between a cue and the quotation after it
        (after "according to", its whole phrase: "according to Google Search lead Liz Reid,
        “…”")."""
        phrase = {t.i for t in cue.doc[cue.i + 1].subtree} if cue.lower_ == "according" else ()
        return all(
            t.is_punct or t.is_space or t.i in phrase or self.speakers.is_speaker_like(t)
            for t in self.tokens_in(cue.idx + len(cue), span.open_at)
        )

    def quote_root(self, span: QuoteSpan) -> Token | None:
        """The quoted token whose head lies outside the quotation."""
        inside = self.tokens_in(span.start, span.end)
        for token in inside:
            if not span.start <= token.head.idx < span.end or token.head.i == token.i:
                return token
        return None

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
            if token.is_alpha and not self.speakers.is_speaker_like(token):
                return False
        return True

    def is_scare(self, span: QuoteSpan, found: _Attribution) -> bool:
        """Whether a partial quotation is the writer's term rather than anyone's words."""
        words = len(_WORD.findall(self.text, span.start, span.end))
        if words <= _SCARE_WORDS and found.cue is None and found.speaker is None:
            return True
        if words > _MODIFIER_WORDS:
            return False
        root = self.quote_root(span)
        if root is None or root.dep_ not in _MODIFIER_DEPS or root.head.idx < span.close_end:
            return False
        between = self.tokens_in(span.close_end, root.head.idx)
        return all(t.is_punct or t.lower_ in ("and", "or") or self.in_quote(t.idx) for t in between)

    # Naming the speaker -----------------------------------------------------------------

    def speaker_of(self, cue: Token) -> tuple[str | None, str]:
        """The speaker named by a cue, and what had to be resolved ("pronoun" ...)."""
        subject = self.subject_of(cue)
        if subject is None:
            return None, ""
        naming = self.speakers.name(subject)
        return naming.name, naming.via if naming.name is not None else ""

    def subject_of(self, cue: Token) -> Token | None:
        doc = self.doc
        if cue.lower_ == "according":
            to = doc[cue.i + 1]
            objects = [child for child in to.children if child.dep_ == "pobj"]
            if objects:
                return objects[0]
            return doc[to.i + 1] if to.i + 1 < len(doc) else None
        if cue.dep_ == "acl" and not self.in_quote(cue.head.idx):  # "forecasters warning that"
            return cue.head
        if cue.dep_ == "advcl" and cue.lower_.endswith("ing"):  # "X said ..., adding that"
            speech = next((a for a in cue.ancestors if self.is_cue(a)), None)
            if speech is not None:
                return self.subject_of(speech)
        agent = self._agent(cue)
        if agent is not None:
            return agent
        verb = cue
        for _ in range(3):
            subjects = [
                c for c in verb.children if c.dep_ in SUBJECT_DEPS and not self.in_quote(c.idx)
            ]
            if subjects:  # of two ("Wikileaks editor Kristinn Hrafnsson"), the person's name
                return min(subjects, key=self._naming_rank)
            if verb.dep_ not in _CLIMB_DEPS or verb.head.i == verb.i:
                break
            verb = verb.head
        above = governing_subject(cue)  # "X dodged questions, pledging to “…”"
        if above is not None and not self.in_quote(above.idx) and self.speakers.referent(above):
            return above
        return self.nearest_speaker(cue)

    def _agent(self, cue: Token) -> Token | None:
        """Who a cue in the passive is by ("recommended as a key “enabling technology” by the
        Agency's advisory panel"), or None; never whoever quotes or cites someone ("she was
        quoted by Reuters as saying")."""
        agent = passive_agent(cue) if cue.lower_ not in _REPORTING else None
        return agent if agent is not None and not self.in_quote(agent.head.idx) else None

    def _naming_rank(self, subject: Token) -> int:
        """0 for a subject naming a person, 1 an organisation, 2 another name (a place
        speaks less often than it is where something happened), 3 no name."""
        found = self.speakers.referent(subject)
        return 3 if found is None else _RANKS.get(found.label, 2)

    def nearest_speaker(self, cue: Token) -> Token | None:
        """When the parse gives no subject: the PERSON nearest the cue in its sentence, else
        the nearest other named speaker, else the nearest personal pronoun."""
        ranked: list[tuple[int, int, int]] = []
        for token in cue.sent:
            if token.i == cue.i or self.in_quote(token.idx):
                continue
            rank = self._naming_rank(token)
            unnamed = rank == 3 and self.speakers.proper_name(token) is None
            if unnamed and not self.speakers.is_speaker_like(token):
                continue
            ranked.append((rank, abs(token.i - cue.i), token.i))
        return cue.doc[min(ranked)[2]] if ranked else None
