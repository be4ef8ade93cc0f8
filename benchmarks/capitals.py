"""Names in text written in capitals: what re-casing (`tasks.truecase`) gives back to NER.

    python benchmarks/capitals.py [--metadata DIR] [--extraction GROUND_TRUTH_JSON] [-v]

Real headlines and first paragraphs, written in capitals as wire copy and some outlets print
them: the English pages' titles of the metadata benchmark (``DIR/gold.json``: title and body
paragraphs), enriched as a headline with the body after it, and the first paragraph of each
body of the extraction benchmark of four paragraphs or more. The reference is what enrichment
(`tasks.enrich.enrich_articles`) finds in the same text as published; scored are the PERSON,
ORG and place names (GPE, LOC and FAC as one) of the capitals text, matched by offsets and
label, as found by

- `model alone`: the model's own NER over the capitals text;
- `newsflow`: `enrich_articles` over the capitals text (re-cased for NER).

A reference made by the model is not a gold standard: the figures say how much of what the
model reads in cased text it still reads in capitals, not how right it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spacy.language import Language

from tasks.enrich import DEFAULT_MODEL, enrich_articles, load_nlp
from tasks.records import Article

LABELS = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
Names = set[tuple[int, int, str]]


def cases(metadata: Path | None, extraction: Path | None) -> Iterator[tuple[str, str, str]]:
    """(kind, text to write in capitals, the body after it)."""
    if metadata is not None:
        gold = json.loads((metadata / "gold.json").read_text(encoding="utf-8"))
        for page in gold.values():
            if page.get("language") == "en" and page.get("title"):
                yield "headline", page["title"], "\n\n".join(page["body_paragraphs"])
    if extraction is not None:
        truth = json.loads(extraction.read_text(encoding="utf-8"))
        for page in truth.values():
            paragraphs = [p for p in page["articleBody"].split("\n") if p.strip()]
            if len(paragraphs) > 3:
                yield "paragraph", paragraphs[0], "\n\n".join(paragraphs[1:])


def found(nlp: Language, kind: str, head: str, body: str) -> Names:
    """The names enrichment finds in `head` (the title, or the body's first paragraph)."""
    if kind == "headline":
        article = _article(head, body)
        field, lo, hi = "title", 0, len(head)
    else:
        article = _article(None, head + "\n\n" + body)
        field, lo, hi = "body", 0, len(head)
    mentions = enrich_articles([("a", article)], nlp).mentions
    return {
        (m.start_char, m.end_char, LABELS[m.label])
        for m in mentions
        if m.field == field and m.label in LABELS and lo <= m.start_char and m.end_char <= hi
    }


def model_alone(nlp: Language, head: str, body: str) -> Names:
    doc = nlp(head + "\n\n" + body)
    return {
        (e.start_char, e.end_char, LABELS[e.label_])
        for e in doc.ents
        if e.label_ in LABELS and e.end_char <= len(head)
    }


def _article(title: str | None, body: str) -> Article:
    url = "https://example.org/a"
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return Article("s", url, url, url, title, body, when, language="en")


def score(pairs: list[tuple[Names, Names]]) -> str:
    tp = sum(len(ref & got) for ref, got in pairs)
    fp = sum(len(got - ref) for ref, got in pairs)
    fn = sum(len(ref - got) for ref, got in pairs)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"P {p:.3f}  R {r:.3f}  F1 {f1:.3f}  ({tp} found, {fp} extra, {fn} missed)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metadata", type=Path, help="article-metadata directory")
    parser.add_argument("--extraction", type=Path, help="article-extraction ground-truth.json")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("-v", "--verbose", action="store_true", help="print each difference")
    args = parser.parse_args()
    if args.metadata is None and args.extraction is None:
        parser.error("give --metadata, --extraction or both")
    nlp = load_nlp(args.model)
    runs: dict[tuple[str, str], list[tuple[Names, Names]]] = {}
    for kind, head, body in cases(args.metadata, args.extraction):
        capitals = head.upper()
        if len(capitals) != len(head):
            continue  # a letter whose capital is longer: offsets would not match
        reference = found(nlp, kind, head, body)
        ours = found(nlp, kind, capitals, body)
        runs.setdefault((kind, "model alone"), []).append(
            (reference, model_alone(nlp, capitals, body))
        )
        runs.setdefault((kind, "newsflow"), []).append((reference, ours))
        if args.verbose and ours != reference:
            print(f"{head[:90]!r}\n   missed {sorted(reference - ours)}")
            print(f"   extra {sorted(ours - reference)}")
    for (kind, who), pairs in sorted(runs.items()):
        print(f"{kind:9} ({len(pairs):3} texts)  {who:11}  {score(pairs)}")


if __name__ == "__main__":
    main()
