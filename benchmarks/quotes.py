"""Quote finding and speaker attribution against annotated pages: precision, recall, speakers.

    python benchmarks/quotes.py PATH [--bodies GROUND_TRUTH_JSON] [--errors] [--model NAME]

PATH is an annotated page (``*.txt``: the body, a line ``=== gold``, then one line per
quotation, ``kind | speaker | label | quoted text``; see tests/fixtures/quotes/README.md) or a
directory of them. With --bodies, PATH instead holds sections ``## <article id>`` followed by
gold lines only, and the bodies are read from a JSON file: the extraction benchmark's
ground truth (``{id: {"articleBody"}}``) or the metadata benchmark's gold
(``{id: {"body_paragraphs": [...]}}``, paragraphs joined by blank lines). Three annotation sets
are kept: `benchmarks/quotes_dev.txt` (13 bodies of ../shared/bench/article-extraction, the
set the rules were developed on), `benchmarks/quotes_meta.txt` (the 38 English bodies of
../shared/bench/article-metadata of under 2,000 words with quotations) and
`benchmarks/quotes_ext.txt` (the other 43 English bodies of the extraction benchmark of under
2,000 words with quotations); the last two were annotated blind, without looking at newsflow's
output.

Each body runs through the whole enrichment stage (`tasks.enrich.enrich_articles`: the parse,
attribution, then the article's entity linking that names a speaker in full). Counted:

- quotes: quotations whose kind is a quote kind (`tasks.quotes.QUOTE_KINDS`), found and gold,
  matched by their text (stripped of surrounding punctuation); precision and recall;
- speakers: of the gold quotes found, the share whose speaker is right (the gold names or one
  of its ` / ` alternatives, compared without case, dots, a leading "the" or a title; a gold
  ``-`` is right only when no speaker is given), overall and per gold label (PERSON, ORG).

--errors prints every miss, false positive and wrong speaker.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.enrich import DEFAULT_MODEL, enrich_articles, load_nlp
from tasks.entities import fold, split_title
from tasks.quotes import QUOTE_KINDS
from tasks.records import Article, Quote

GOLD_MARK = "=== gold"
_STRIP = " \t\n.,;:!?…'\"“”‘’«»„-—–"


@dataclass(frozen=True, slots=True)
class Gold:
    kind: str
    speakers: tuple[str, ...]  # alternatives; empty when nobody is named
    label: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Page:
    name: str
    body: str
    gold: tuple[Gold, ...]


def parse_gold(lines: list[str], where: str) -> tuple[Gold, ...]:
    gold = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(" | ", 3)]
        if len(parts) != 4:
            raise SystemExit(f"{where}: gold line {number} is not 'kind | speaker | label | text'")
        kind, speaker, label, text = parts
        speakers = () if speaker == "-" else tuple(s.strip() for s in speaker.split(" / "))
        gold.append(Gold(kind, speakers, None if label == "-" else label, text))
    return tuple(gold)


def load_pages(path: Path, bodies: Path | None) -> list[Page]:
    if bodies is not None:
        data = json.loads(bodies.read_text(encoding="utf-8"))
        pages, name, lines = [], None, []
        for line in [*path.read_text(encoding="utf-8").splitlines(), "## "]:
            if line.startswith("## "):
                if name is not None:
                    pages.append(Page(name, body_of(data[name]), parse_gold(lines, name)))
                name, lines = line[3:].strip() or None, []
            elif not line.startswith("#"):
                lines.append(line)
        return pages
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    pages = []
    for file in files:
        body, mark, gold = file.read_text(encoding="utf-8").partition(f"\n{GOLD_MARK}\n")
        if not mark:
            raise SystemExit(f"{file}: no '{GOLD_MARK}' line")
        pages.append(Page(file.stem, body, parse_gold(gold.splitlines(), str(file))))
    return pages


def body_of(entry: dict[str, object]) -> str:
    """An article body from either benchmark's JSON entry."""
    if "articleBody" in entry:
        return str(entry["articleBody"])
    paragraphs = entry["body_paragraphs"]
    assert isinstance(paragraphs, list)
    return "\n\n".join(map(str, paragraphs))


def bench_article(name: str, body: str) -> tuple[str, Article]:
    """An English article of a benchmark body alone, keyed by `name`, as enrichment takes it."""
    url = f"https://bench.invalid/{name}"
    fetched = datetime(2024, 1, 1, tzinfo=UTC)
    article = Article(
        source_id="bench", url=url, final_url=url, canonical_url=url, title=None, body=body,
        fetched_at=fetched, language="en",
    )  # fmt: skip
    return name, article


def enriched_quotes(pages: list[Page], model: str) -> dict[str, list[Quote]]:
    articles = [bench_article(page.name, page.body) for page in pages]
    found: dict[str, list[Quote]] = {page.name: [] for page in pages}
    for quote in enrich_articles(articles, load_nlp(model)).quotes:
        found[quote.article_id].append(quote)
    return found


def text_key(text: str) -> str:
    return " ".join(text.strip(_STRIP).split())


def speaker_key(name: str) -> str:
    bare, _ = split_title(name)
    return " ".join(fold(word) for word in bare.split())


def right_speaker(found: str | None, gold: Gold) -> bool:
    if not gold.speakers:
        return found is None
    return found is not None and speaker_key(found) in {speaker_key(s) for s in gold.speakers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="annotated page, directory, or gold sections")
    parser.add_argument("--bodies", type=Path, help="ground-truth JSON holding the bodies")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--errors", action="store_true", help="print every error")
    args = parser.parse_args()

    pages = load_pages(args.path, args.bodies)
    found = enriched_quotes(pages, args.model)
    tp = fp = fn = 0
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()  # (gold kind, found kind)
    for page in pages:
        predicted = [q for q in found[page.name] if q.kind in QUOTE_KINDS]
        unmatched = {i: q for i, q in enumerate(predicted)}
        by_text = {text_key(q.text): q.kind for q in found[page.name]}
        for gold in page.gold:
            kinds[(gold.kind, by_text.get(text_key(gold.text), "(missing)"))] += 1
            if gold.kind not in QUOTE_KINDS:
                continue
            match = next(
                (i for i, q in unmatched.items() if text_key(q.text) == text_key(gold.text)), None
            )
            if match is None:
                fn += 1
                if args.errors:
                    print(f"{page.name[:12]}  missed       {gold.text[:70]!r}")
                continue
            quote = unmatched.pop(match)
            tp += 1
            ok = right_speaker(quote.speaker, gold)
            for group in ("all", gold.label or "none"):
                total[group] += 1
                right[group] += ok
            if args.errors and not ok:
                print(
                    f"{page.name[:12]}  speaker      {gold.text[:50]!r}: {quote.speaker!r} "
                    f"({quote.method}) for {' / '.join(gold.speakers) or '-'}"
                )
        fp += len(unmatched)
        if args.errors:
            for quote in unmatched.values():
                print(f"{page.name[:12]}  false pos.   {quote.text[:60]!r} ({quote.kind})")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"{len(pages)} pages, {tp + fn} gold quotes, {tp + fp} found as quotes")
    print(f"quotes    precision {precision:.3f}  recall {recall:.3f}  (tp {tp}, fp {fp}, fn {fn})")
    for group in ("all", "PERSON", "ORG", "none"):
        if total[group]:
            share = right[group] / total[group]
            print(f"speakers  {group:7s} {share:.3f}  ({right[group]} of {total[group]})")
    off = {pair: n for pair, n in kinds.items() if pair[0] != pair[1]}
    if off:
        print("kinds     gold -> found: " + ", ".join(f"{g}->{f} {n}" for (g, f), n in off.items()))


if __name__ == "__main__":
    main()
