"""Enrichment speed on one core: articles per second for entities and attributed quotes.

    python benchmarks/enrich.py [--bodies PATH] [-n 300] [--batch-size 64] [--model NAME]

PATH is a text file (one body), a directory of ``*.txt`` bodies, or a ground-truth JSON
mapping ids to {"articleBody": ...} (e.g. ../shared/bench/article-extraction/ground-truth.json);
the bodies are cycled to N articles. Without PATH, N synthetic news bodies are generated
(deterministic for a given --seed). The process is pinned to one CPU and BLAS to one thread.

Reported, best of --repeat runs: the full stage (`tasks.enrich.enrich`: parser, NER, entity
fixes, quote attribution), its spaCy pipeline alone (what the rules on top cost is the
difference) and, for comparison, NER alone (the model's tok2vec + ner, nothing else).
Model loading is not timed.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import spacy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.enrich import DEFAULT_MODEL, enrich, load_nlp  # noqa: E402

FIRST = ["Maria", "Alice", "Tom", "Daniel", "Ruth", "Carlos", "Helen", "Ivan", "Sofia", "Omar"]
LAST = ["Johnson", "Mendes", "Okafor", "Adler", "Lindqvist", "Baker", "Reyes", "Costa", "Petrov"]
ORGS = ["the Finance Ministry", "Reuters", "the World Bank", "KCNA", "the State Department"]
PLACES = ["Berlin", "Lagos", "Seoul", "Lima", "Ottawa", "Jakarta", "Nairobi", "Kyiv"]
VERBS = ["said", "added", "told reporters", "warned"]
QUOTES = [
    "We will not accept any delay in the reconstruction of the port",
    "The figures show that prices have finally started to fall",
    "There is no evidence that the talks have failed",
    "Our priority is the safety of the people who live near the river",
]
FILLER = [
    "Officials in {place} met on {day} to discuss the budget for the coming year.",
    "{person} arrived in {place} late on {day} after a two-day visit to the region.",
    "Analysts at {org} expect growth of about two percent this year.",
    "The agreement, signed in {place}, covers trade, energy and transport.",
    "Protesters gathered outside the parliament building in {place} on {day}.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def synthetic_body(rng: random.Random, paragraphs: int = 12) -> str:
    """A news-like body of about 500 words with names, places and attributed quotes."""
    lines = []
    for _ in range(paragraphs):
        person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        values = {
            "person": person,
            "place": rng.choice(PLACES),
            "org": rng.choice(ORGS),
            "day": rng.choice(DAYS),
        }
        sentences = [rng.choice(FILLER).format(**values) for _ in range(2)]
        pattern = rng.randrange(4)
        quote = rng.choice(QUOTES)
        if pattern == 0:
            sentences.append(f"“{quote},” {person} {rng.choice(VERBS)}.")
        elif pattern == 1:
            sentences.append(f"{person} said: “{quote}.”")
        elif pattern == 2:
            sentences.append(f"“{quote},” according to {values['org']}.")
        else:
            sentences.append(f"He said the plan was a “great success” for {values['place']}.")
        lines.append(" ".join(sentences))
    return "\n\n".join(lines)


def load_bodies(path: Path) -> list[str]:
    if path.is_dir():
        return [p.read_text(encoding="utf-8") for p in sorted(path.glob("*.txt"))]
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [entry["articleBody"] for _, entry in sorted(data.items())]
    return [path.read_text(encoding="utf-8")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=Path, help="text file, directory of .txt, or JSON")
    parser.add_argument("-n", type=int, default=300, help="number of articles")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of R runs")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if args.bodies:
        given = [body for body in load_bodies(args.bodies) if body.strip()]
        bodies = [given[i % len(given)] for i in range(args.n)]
        origin = f"{len(given)} bodies from {args.bodies}"
    else:
        rng = random.Random(args.seed)
        bodies = [synthetic_body(rng) for _ in range(args.n)]
        origin = f"synthetic (seed {args.seed})"
    articles = [(f"a{i:06d}", body, "en") for i, body in enumerate(bodies)]
    chars = sum(len(body) for body in bodies)
    words = sum(len(body.split()) for body in bodies)
    print(
        f"{len(articles)} articles, {origin}; {chars / len(articles):.0f} chars "
        f"({words / len(articles):.0f} words) per article, one core, model {args.model}"
    )

    nlp = load_nlp(args.model)
    ner_only = spacy.load(args.model, exclude=["tagger", "attribute_ruler", "lemmatizer", "parser"])
    enrich(articles[:4], nlp)  # warm up
    list(ner_only.pipe(bodies[:4]))
    result = enrich(articles, nlp, batch_size=args.batch_size)
    attributed = sum(1 for q in result.quotes if q.speaker is not None)
    print(
        f"{len(result.mentions)} mentions, {len(result.quotes)} quotes "
        f"({attributed} with a speaker); best of {args.repeat} runs:"
    )

    def run_enrich() -> None:
        enrich(articles, nlp, batch_size=args.batch_size)

    def run_pipeline() -> None:
        for _ in nlp.pipe(bodies, batch_size=args.batch_size):
            pass

    def run_ner() -> None:
        for _ in ner_only.pipe(bodies, batch_size=args.batch_size):
            pass

    for label, run in (
        ("enrich (the stage)", run_enrich),
        ("  its spaCy pipeline alone", run_pipeline),
        ("NER alone (tok2vec + ner)", run_ner),
    ):
        elapsed = best_of(args.repeat, run)
        print(
            f"{label:28s} {len(articles) / elapsed:7.1f} articles/s, "
            f"{chars / elapsed / 1000:6.1f} k chars/s"
        )


def best_of(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


if __name__ == "__main__":
    main()
