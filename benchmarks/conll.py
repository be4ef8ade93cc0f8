"""Named entities against CoNLL-2003: PER, ORG and LOC F1 of enrichment and of the model alone.

    python benchmarks/conll.py CONLL_FILE [--model NAME] [--errors N]

CONLL_FILE is a CoNLL-2003 file (e.g. the English test set, ``eng.testb``): one token per
line with its tag in the last column (IOB1 or IOB2), a blank line between sentences and
``-DOCSTART-`` lines between documents. Where a copy of the file has lost its ``-DOCSTART-``
lines, a document is taken to start at the sentence before each dateline (a sentence ending
in a date such as ``1996-12-06``), as every Reuters story of the set does.

Each document becomes one article body: its sentences one per line, tokens joined by spaces
except before closing punctuation and "'s" and after an opening bracket (``Bitar 's`` reads
``Bitar's``). It runs through
the whole enrichment stage (`tasks.enrich.enrich_articles`: NER on the re-cased text, the
repeated-name and entity fixes, linking with one label per entity); `model alone` is the
model's own NER over the same text. Labels are mapped PERSON -> PER, ORG -> ORG, GPE, LOC
and FAC -> LOC; the rest (NORP, EVENT ...) and the gold MISC are left out. A name counts when
its tokens and type are the gold's (conlleval's exact match), pooled over the documents.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spacy.language import Language

from benchmarks.quotes import bench_article
from tasks.enrich import DEFAULT_MODEL, enrich_articles, load_nlp

TYPES = ("PER", "ORG", "LOC")
LABELS = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
_TAG = re.compile(r"O|[BI]-\w+")
_DATELINE_END = re.compile(r"\d{4}-\d{2}-\d{2}")
_NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "?", "!", ")", "'s", "'", "n't", "%"})
Name = tuple[int, int, str]  # first token, token after the last, type


@dataclass(frozen=True, slots=True)
class Document:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    sentence_ends: frozenset[int]  # indexes of tokens that end a sentence


def read_sentences(path: Path) -> Iterator[list[tuple[str, str]] | None]:
    """Sentences as (token, tag) lists; None where a ``-DOCSTART-`` line stands."""
    sentence: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if fields and fields[0] == "-DOCSTART-":
            if sentence:
                yield sentence
            sentence = []
            yield None
        elif fields:
            if len(fields) < 2 or not _TAG.fullmatch(fields[-1]):
                raise SystemExit(f"{path}:{number}: not 'token ... TAG' with an IOB tag: {line!r}")
            sentence.append((fields[0], fields[-1]))
        elif sentence:
            yield sentence
            sentence = []
    if sentence:
        yield sentence


def documents(path: Path) -> list[Document]:
    items = list(read_sentences(path))
    groups: list[list[list[tuple[str, str]]]] = []
    if None in items:
        for item in items:
            if item is None:
                groups.append([])
            elif groups:
                groups[-1].append(item)
            else:
                groups.append([item])
    else:
        sentences = [s for s in items if s is not None]
        starts = {0} | {
            i - 1 for i, s in enumerate(sentences) if i and _DATELINE_END.fullmatch(s[-1][0])
        }
        for i, sentence in enumerate(sentences):
            if i in starts or not groups:
                groups.append([])
            groups[-1].append(sentence)
    docs = []
    for group in groups:
        if not group:
            continue
        tokens = [token for sentence in group for token, _ in sentence]
        tags = [tag for sentence in group for _, tag in sentence]
        ends, count = set(), 0
        for sentence in group:
            count += len(sentence)
            ends.add(count - 1)
        docs.append(Document(tuple(tokens), tuple(tags), frozenset(ends)))
    return docs


def gold_names(tags: Iterable[str]) -> set[Name]:
    """The names of an IOB1 or IOB2 tag sequence."""
    names: set[Name] = set()
    start, kind = None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, tag_type = tag.partition("-")
        continues = prefix == "I" and tag_type == kind
        if start is not None and not continues:
            names.add((start, i, kind or ""))
            start, kind = None, None
        if prefix in {"B", "I"} and not continues:
            start, kind = i, tag_type
    return {name for name in names if name[2] in TYPES}


def text_of(doc: Document) -> tuple[str, list[tuple[int, int]]]:
    """The document as a body, and each token's character offsets in it."""
    parts: list[str] = []
    offsets = []
    length = 0
    for i, token in enumerate(doc.tokens):
        if i:
            joined = token in _NO_SPACE_BEFORE or doc.tokens[i - 1] == "("
            gap = "\n" if i - 1 in doc.sentence_ends else ("" if joined else " ")
            parts.append(gap)
            length += len(gap)
        offsets.append((length, length + len(token)))
        parts.append(token)
        length += len(token)
    return "".join(parts), offsets


def to_tokens(spans: Iterable[tuple[int, int, str]], offsets: list[tuple[int, int]]) -> set[Name]:
    """Character spans with a model label as token names: the tokens each span overlaps."""
    names = set()
    for start, end, label in spans:
        kind = LABELS.get(label)
        covered = [i for i, (lo, hi) in enumerate(offsets) if lo < end and hi > start]
        if kind and covered:
            names.add((covered[0], covered[-1] + 1, kind))
    return names


def newsflow_names(nlp: Language, bodies: list[str]) -> list[set[tuple[int, int, str]]]:
    articles = [bench_article(str(i), body) for i, body in enumerate(bodies)]
    found: list[set[tuple[int, int, str]]] = [set() for _ in bodies]
    for mention in enrich_articles(articles, nlp).mentions:
        start = mention.start_char
        if mention.title and mention.text.startswith(mention.title):
            start += len(mention.text) - len(mention.text[len(mention.title) :].lstrip())
        found[int(mention.article_id)].add((start, mention.end_char, mention.label))
    return found


def model_names(nlp: Language, bodies: list[str]) -> list[set[tuple[int, int, str]]]:
    with nlp.select_pipes(enable=["ner"]):
        return [
            {(e.start_char, e.end_char, e.label_) for e in doc.ents} for doc in nlp.pipe(bodies)
        ]


def score(gold: list[set[Name]], found: list[set[Name]]) -> dict[str, tuple[float, float, float]]:
    scores = {}
    for kind in (*TYPES, "all"):
        tp = fp = fn = 0
        for g, f in zip(gold, found, strict=True):
            g = {n for n in g if kind in {"all", n[2]}}
            f = {n for n in f if kind in {"all", n[2]}}
            tp, fp, fn = tp + len(g & f), fp + len(f - g), fn + len(g - f)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        scores[kind] = (p, r, 2 * p * r / (p + r) if p + r else 0.0)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a CoNLL-2003 file")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--errors", type=int, default=0, help="print the N commonest errors")
    args = parser.parse_args()

    docs = documents(args.path)
    texts = [text_of(doc) for doc in docs]
    bodies = [body for body, _ in texts]
    gold = [gold_names(doc.tags) for doc in docs]
    nlp = load_nlp(args.model)
    runs = {"model alone": model_names(nlp, bodies), "newsflow": newsflow_names(nlp, bodies)}
    print(f"{len(docs)} documents, {sum(map(len, gold))} gold PER/ORG/LOC names")
    print(f"{'':12} " + "  ".join(f"{k:>17}" for k in (*TYPES, "all")) + "   (P / R / F1)")
    for name, spans in runs.items():
        found = [to_tokens(s, offsets) for s, (_, offsets) in zip(spans, texts, strict=True)]
        row = score(gold, found)
        print(f"{name:12} " + "  ".join("{:.2f}/{:.2f}/{:.3f}".format(*row[k]) for k in row))
        if args.errors and name == "newsflow":
            print_errors(docs, gold, found, args.errors)


def print_errors(
    docs: list[Document], gold: list[set[Name]], found: list[set[Name]], n: int
) -> None:
    errors: Counter[str] = Counter()
    for doc, g, f in zip(docs, gold, found, strict=True):
        by_span = {(a, b): k for a, b, k in g}
        for a, b, kind in f - g:
            words = " ".join(doc.tokens[a:b])
            errors[f"false {kind:3} {words!r} (gold {by_span.get((a, b), '-')})"] += 1
        found_spans = {(a, b) for a, b, _ in f}
        for a, b, kind in g - f:
            if (a, b) not in found_spans:
                errors[f"missed {kind:3} {' '.join(doc.tokens[a:b])!r}"] += 1
    for error, count in errors.most_common(n):
        print(f"{count:5}  {error}")


if __name__ == "__main__":
    main()
