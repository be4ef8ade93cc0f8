"""Article body extraction benchmark: newsflow against trafilatura and readability-lxml.

Usage: python benchmarks/extraction.py DATASET_DIR [--out predictions.json] [--peers]

DATASET_DIR holds `ground-truth.json` (`{"<id>": {"articleBody": ..., "url": ...}}`) and
`html/<id>.html.gz`. The metric follows the dataset's README: 4-gram shingles of `\\w+` tokens
counted as multisets, tp/fp/fn normalised per page, precision and recall averaged over pages,
F1 from the two means; accuracy is the share of pages whose token lists are equal.
Throughput is measured pinned to one core, on pages already read and decompressed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKEN_RE = re.compile(r"\w+")
NGRAM = 4
FETCHED_AT = datetime(2030, 1, 1, tzinfo=UTC)

Extractor = Callable[[bytes, str], str]


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text or "")


def shingles(text: str) -> Counter[tuple[str, ...]]:
    toks = tokens(text)
    return Counter(tuple(toks[i : i + NGRAM]) for i in range(max(1, len(toks) - NGRAM + 1)))


def page_scores(expected: str, predicted: str) -> tuple[float, float, float]:
    """Normalised (tp, fp, fn) of one page."""
    want, got = shingles(expected), shingles(predicted)
    tp = fp = fn = 0
    for key in want.keys() | got.keys():
        w, g = want.get(key, 0), got.get(key, 0)
        tp += min(w, g)
        fp += max(0, g - w)
        fn += max(0, w - g)
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def score(truth: dict[str, str], predictions: dict[str, str]) -> dict[str, float]:
    precisions: list[float] = []
    recalls: list[float] = []
    exact = 0
    for key, expected in truth.items():
        predicted = predictions.get(key, "")
        tp, fp, fn = page_scores(expected, predicted)
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
        exact += tokens(expected) == tokens(predicted)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"f1": f1, "precision": p, "recall": r, "accuracy": exact / len(truth)}


def newsflow(html: bytes, url: str) -> str:
    from tasks.clean import clean_article
    from tasks.extract import extract_article
    from tasks.keywords import with_key_phrases

    # As the page unit of a run does it (tasks.pages), key phrases included.
    article = with_key_phrases(clean_article(extract_article(html, url, fetched_at=FETCHED_AT)))
    return article.body


def trafilatura_default(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def trafilatura_precision(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url, favor_precision=True) or ""


def readability_lxml(html: bytes, url: str) -> str:
    import lxml.html
    from readability import Document

    summary = Document(html, url=url).summary(html_partial=True)
    if not summary.strip():
        return ""
    root = lxml.html.fromstring(summary)
    return "\n".join(t.strip() for t in root.itertext() if t.strip())


def run(
    name: str, extract: Extractor, pages: dict[str, tuple[bytes, str]]
) -> tuple[dict[str, str], float]:
    predictions: dict[str, str] = {}
    start = time.perf_counter()
    for key, (html, url) in pages.items():
        predictions[key] = extract(html, url)
    elapsed = time.perf_counter() - start
    return predictions, len(pages) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, help="write newsflow's predictions here")
    parser.add_argument("--peers", action="store_true", help="also run trafilatura and readability")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="timing rounds, extractors interleaved; the fastest round of each counts (default 2)",
    )
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    ground = json.loads((args.dataset / "ground-truth.json").read_text(encoding="utf-8"))
    truth = {key: value.get("articleBody", "") for key, value in ground.items()}
    pages = {
        key: (
            gzip.decompress((args.dataset / "html" / f"{key}.html.gz").read_bytes()),
            value.get("url", ""),
        )
        for key, value in sorted(ground.items())
    }

    runs: list[tuple[str, Extractor]] = [("newsflow", newsflow)]
    if args.peers:
        runs += [
            ("trafilatura", trafilatura_default),
            ("trafilatura favor_precision", trafilatura_precision),
            ("readability-lxml", readability_lxml),
        ]
    # Warm-up: imports and lazily built caches are not part of the timing.
    first_html, first_url = next(iter(pages.values()))
    for _, extract in runs:
        extract(first_html, first_url)

    # Rounds interleave the extractors so that load from elsewhere on the machine hits all of
    # them alike; predictions are deterministic, so any round's predictions serve for quality.
    speeds: dict[str, float] = {}
    predictions_of: dict[str, dict[str, str]] = {}
    for _ in range(max(1, args.rounds)):
        for name, extract in runs:
            predictions, speed = run(name, extract, pages)
            predictions_of[name] = predictions
            speeds[name] = max(speed, speeds.get(name, 0.0))

    print(f"{'extractor':<30} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6} {'pages/s':>8}")
    for name, _ in runs:
        s = score(truth, predictions_of[name])
        print(
            f"{name:<30} {s['f1']:6.3f} {s['precision']:6.3f} {s['recall']:6.3f} "
            f"{s['accuracy']:6.3f} {speeds[name]:8.1f}"
        )
    if args.out:
        body = {k: {"articleBody": v} for k, v in predictions_of["newsflow"].items()}
        args.out.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    if "trafilatura" in speeds:
        ratio = speeds["newsflow"] / speeds["trafilatura"]
        print(f"throughput ratio newsflow / trafilatura: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
