"""Text written in capitals, cased as the article writes it elsewhere, for the model's eyes only.

spaCy's small English model reads case: in an all-capitals headline ("JAPAN GET LUCKY WIN,
CHINA IN SURPRISE DEFEAT") it finds few of the names it finds in the same words cased. NER
therefore reads `truecase(text)`, which has the same length as `text` (every offset holds) and
differs only in the *capitals runs*: capitals words in a row within a line, three of them of
four letters or more (a dateline, "NEW YORK (AP)", is not one), or a whole line of two words
or more. Each word of a run is re-cased:

1. as the article most often writes it outside capitals runs ("Japan", "NATO", "defeat"),
   and in `context` (the body, for a headline enriched on its own), outside capitals runs,
   not counting a capitalised word that opens a sentence (any word may);
2. else capitalised if the article opens sentences with it ("Japan began ..."), unless it is
   an English function word ("The");
3. else kept in capitals when it looks like an acronym: not a function word, and two
   letters or fewer or no vowel ("AP", "NFL");
4. else lowercase. A name a headline alone holds is lost so, but capitalising the words the
   article does not write ("Heralds", "Reopens") made the model read most of them as names.

The first word of a line keeps a capital. Initials ("J.") and words whose case change would
change their length are left as written.

`benchmarks/capitals.py` measures what this gives back: the names enrichment finds in real
headlines and first paragraphs written in capitals, against those it finds as published.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from spacy.lang.en.stop_words import STOP_WORDS

_VOWEL = re.compile(r"[aeiouyAEIOUY]")
ACRONYM_LETTERS = 2
_CAPITAL = r"[^\W\d_a-z]"  # as a filter: a letter, not a lowercase ASCII one
_TWO_CAPITALS_WORDS = re.compile(
    rf"{_CAPITAL}{{2}}[\W\d_]+(?:{_CAPITAL}{{2}}|{_CAPITAL}(?![^\W\d_]))"
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SENTENCE_START = frozenset(".!?:;\n\"“'‘([—–-")
# Casefolded word -> its written forms: within sentences, and opening them (capitalised).
_Forms = tuple[dict[str, Counter[str]], dict[str, Counter[str]]]
RUN_WORDS = 3  # words of `RUN_LETTERS` or more in a row of capitals words that make a run
RUN_LETTERS = 4
LINE_WORDS = 2  # ... or this many words of two letters or more that are a whole line


def truecase(text: str, context: str = "") -> str:
    """`text` with its capitals runs re-cased (see the module), learning how words are written
    from `text` and `context`; `text` itself if it has no capitals run."""
    if not _TWO_CAPITALS_WORDS.search(text):
        return text  # most texts: a run has two such words, a word's capitals ending it
    words = _words(text)
    runs = _capitals_runs(text, words)
    if not runs:
        return text
    forms: _Forms = (defaultdict(Counter), defaultdict(Counter))
    _count_forms(text, words, runs, forms)
    if context:
        more = _words(context)
        _count_forms(context, more, _capitals_runs(context, more), forms)
    out = list(text)
    for run in runs:
        for i in run:
            start, end = words[i]
            word = text[start:end]
            if end - start < 2 and text[end : end + 1] == ".":
                continue  # an initial
            cased = _recase(word, _seen(word.casefold(), forms), first=_line_start(text, start))
            if len(cased) == len(word):
                out[start:end] = cased
    return "".join(out)


def _words(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _WORD.finditer(text)]


def _capitals_runs(text: str, words: list[tuple[int, int]]) -> list[list[int]]:
    """Indexes into `words` of each capitals run."""
    runs: list[list[int]] = []
    current: list[int] = []

    def close() -> None:
        long = sum(words[i][1] - words[i][0] >= RUN_LETTERS for i in current)
        counted = sum(words[i][1] - words[i][0] >= 2 for i in current)
        if long >= RUN_WORDS or (counted >= LINE_WORDS and _whole_line(text, current, words)):
            runs.append(list(current))
        current.clear()

    for i, (start, end) in enumerate(words):
        word = text[start:end]
        if current and "\n" in text[words[current[-1]][1] : start]:
            close()
        if word.isupper():
            current.append(i)
        elif current:
            close()
    if current:
        close()
    return runs


def _whole_line(text: str, run: list[int], words: list[tuple[int, int]]) -> bool:
    """Whether the run's words are all the words of their line."""
    first, last = words[run[0]][0], words[run[-1]][1]
    line_start = text.rfind("\n", 0, first) + 1
    line_end = text.find("\n", last)
    line_end = len(text) if line_end < 0 else line_end
    return _WORD.search(text, line_start, first) is None and _WORD.search(
        text, last, line_end
    ) is None


def _count_forms(
    text: str,
    words: list[tuple[int, int]],
    runs: list[list[int]],
    forms: _Forms,
) -> None:
    """Count into `forms` how `text` writes each word outside its capitals runs."""
    inside = {i for run in runs for i in run}
    within, opening = forms
    for i, (start, end) in enumerate(words):
        if i in inside:
            continue
        word = text[start:end]
        if word[:1].isupper() and not word.isupper() and _sentence_start(text, start):
            opening[word.casefold()][word] += 1
        else:
            within[word.casefold()][word] += 1


def _seen(key: str, forms: _Forms) -> Counter[str] | None:
    """The forms a word is written in within sentences; else, unless it is a function word
    ("The"), the capitalised forms that open sentences ("Japan began ...")."""
    within, opening = forms
    if key in within:
        return within[key]
    return opening.get(key) if key not in STOP_WORDS else None


def _sentence_start(text: str, start: int) -> bool:
    """Whether the word at `start` opens a sentence, a line or a quotation."""
    at = start - 1
    while at >= 0 and text[at] in " \t":
        at -= 1
    return at < 0 or text[at] in _SENTENCE_START


def _line_start(text: str, start: int) -> bool:
    """Whether no word comes before `start` on its line."""
    return _WORD.search(text, text.rfind("\n", 0, start) + 1, start) is None


def _recase(word: str, seen: Counter[str] | None, *, first: bool) -> str:
    if seen:
        form = max(seen.items(), key=lambda item: (item[1], _rank(item[0])))[0]
        cased = form if len(form) == len(word) else word
    elif word.casefold() not in STOP_WORDS and (
        len(word) <= ACRONYM_LETTERS or (word.isascii() and not _VOWEL.search(word))
    ):
        cased = word  # an acronym, most likely: "AP", "NFL"
    else:
        cased = word.lower()
    return cased[:1].upper() + cased[1:] if first else cased


def _rank(form: str) -> int:
    """Tie-break between forms written equally often: capitalised, then capitals, then lower."""
    return 2 if form[:1].isupper() and not form.isupper() else 1 if form.isupper() else 0
