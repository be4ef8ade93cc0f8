"""Deduplication benchmark: syndication quality and warehouse-scale speed.

    python benchmarks/dedup.py quality GROUND_TRUTH_JSON [--seed N]
    python benchmarks/dedup.py scale GROUND_TRUTH_JSON [--existing 10000,100000,1000000]

`quality` builds a syndication set from real article bodies (a ground-truth JSON mapping ids
to {"articleBody", "url"}, e.g. ../shared/bench/article-extraction/ground-truth.json): every
story is published by its outlet and republished 1 to 4 times by other outlets, each with its
own template lines, a rewritten headline, trimmed or added paragraphs (up to 20% of the text
each), a wire dateline and credit line, and small word edits. Hard negatives: a "follow-up"
story per original that reuses background paragraphs of it under the same template, plus
every other story of the same outlet template. It reports pairwise precision and recall of the
clusters (all in one run; and half published to a Parquet lake, half against it) and whether
shuffling the input changes any decision.

`scale` writes N synthetic existing articles' signatures (plus planted near copies of the new
batch) into a Parquet lake in a temp dir, then times deduplicating a new batch of 10,000
articles against it, each size in a fresh process so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.dedupe import (
    BANDS,
    DOCUMENT_BAND,
    NUM_PERM,
    DedupResult,
    StoredSignature,
    band_hashes,
    decide,
    sign,
)
from tasks.records import Article
from warehouse.dedup_index import ParquetSignatureIndex, signatures_table
from warehouse.schema import DEDUP_SIGNATURES

OUTLETS = [
    ("dailyledger.example", ["Sign up for the Morning Ledger newsletter in your inbox."]),
    ("rivertimes.example", ["Read more: our coverage of this story.", "Copyright River Times."]),
    ("northpost.example", ["Support independent journalism: subscribe today for one dollar."]),
    ("citywire.example", []),
    ("eveningherald.example", ["This article originally appeared in print."]),
    ("metroobserver.example", ["Follow us on social media for the latest updates."]),
]
WIRES = [
    ("Reuters", "Reporting by {a}; Editing by {b}"),
    ("AP", "The Associated Press"),
    ("AFP", "AFP contributed to this report"),
]
CITIES = ["WASHINGTON", "LONDON", "NEW YORK", "PARIS", "TOKYO", "BERLIN", "SAN FRANCISCO"]
EDITS = {
    "said": "says",
    "percent": "per cent",
    "color": "colour",
    "center": "centre",
    "program": "programme",
    "organization": "organisation",
    "Mr.": "Mr",
    "U.S.": "US",
    "also": "",
    "very": "",
    "that": "which",
}
RUN_DAY = datetime(2026, 5, 1, 6, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    article: Article
    story: str  # ground truth: items with the same story are duplicates of one another


def load_bodies(path: Path, min_words: int = 40) -> list[tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for key in sorted(data):
        body = data[key]["articleBody"].strip()
        if len(body.split()) >= min_words:
            out.append((key, body))
    return out


def paragraphs(body: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n\s*\n|\n", body) if p.strip()]
    if len(paras) >= 3:
        return paras
    sentences = re.split(r"(?<=[.!?])\s+", body)
    size = max(1, len(sentences) // 5)
    return [" ".join(sentences[i : i + size]) for i in range(0, len(sentences), size)]


def words_of(paras: list[str]) -> int:
    return sum(len(p.split()) for p in paras)


def trim(paras: list[str], fraction: float, rng: random.Random) -> list[str]:
    budget = int(words_of(paras) * fraction)
    out = list(paras)
    while len(out) > 2:
        # wire copy is trimmed from the bottom, sometimes a paragraph from the middle
        idx = len(out) - 1 if rng.random() < 0.7 else rng.randrange(1, len(out))
        size = len(out[idx].split())
        if size > budget:
            break
        budget -= size
        del out[idx]
    return out


def add(paras: list[str], fraction: float, pool: list[str], rng: random.Random) -> list[str]:
    budget = int(words_of(paras) * fraction)
    out = list(paras)
    while budget > 0 and pool:
        extra = rng.choice(pool)
        extra_words = extra.split()[:budget]
        if len(extra_words) < 5:
            break
        out.insert(rng.randrange(1, len(out) + 1), " ".join(extra_words))
        budget -= len(extra_words)
    return out


def edit_words(paras: list[str], rate: float, rng: random.Random) -> list[str]:
    out = []
    for para in paras:
        words = para.split()
        for i, w in enumerate(words):
            if w in EDITS and rng.random() < 0.5:
                words[i] = EDITS[w]
            elif rng.random() < rate:
                words[i] = rng.choice(["", w + "s", w.upper(), "reportedly"])
        out.append(" ".join(w for w in words if w))
    return out


@dataclass(frozen=True)
class Mutation:
    """How far a republication strays: paragraph share trimmed / added, word edit rate."""

    max_change: float = 0.2
    edit_rate: float = 0.02


def republish(
    story_paras: list[str],
    outlet: int,
    pool: list[str],
    rng: random.Random,
    mutation: Mutation = Mutation(),
) -> tuple[str, tuple[str, ...]]:
    paras = list(story_paras)
    if rng.random() < 0.6:
        paras = trim(paras, rng.uniform(0.02, mutation.max_change), rng)
    if rng.random() < 0.6:
        paras = add(paras, rng.uniform(0.02, mutation.max_change), pool, rng)
    paras = edit_words(paras, rng.uniform(0.0, mutation.edit_rate), rng)
    credit: tuple[str, ...] = ()
    if rng.random() < 0.7:
        wire, line = rng.choice(WIRES)
        paras[0] = f"{rng.choice(CITIES)} ({wire}) - {paras[0]}"
        credit = (line.format(a="Jane Doe", b="John Roe"),)
    return "\n\n".join(paras + OUTLETS[outlet][1]), credit


def markov_chain(corpus: list[str]) -> dict[str, list[str]]:
    successors: dict[str, list[str]] = defaultdict(list)
    for text in corpus:
        for a, b in itertools.pairwise(text.split()):
            successors[a].append(b)
    return dict(successors)


def markov_text(chain: dict[str, list[str]], n_words: int, rng: random.Random) -> str:
    """Word salad from a first-order chain: topical words, (almost) no shared 5-grams."""
    keys = sorted(chain)
    word = rng.choice(keys)
    out = [word]
    while len(out) < n_words:
        nexts = chain.get(word)
        word = rng.choice(nexts) if nexts else rng.choice(keys)
        out.append(word)
    return " ".join(out)


def build_set(
    bodies: list[tuple[str, str]], seed: int, mutation: Mutation = Mutation()
) -> list[Item]:
    rng = random.Random(seed)
    all_paras = [paragraphs(body) for _, body in bodies]
    pool = [p for paras in all_paras for p in paras if len(p.split()) >= 12]
    chain = markov_chain([body for _, body in bodies])
    items: list[Item] = []
    for n, ((key, _), paras) in enumerate(zip(bodies, all_paras, strict=True)):
        home = n % len(OUTLETS)
        published = RUN_DAY - timedelta(days=2, minutes=n)
        items.append(
            _item(key, key, home, "\n\n".join(paras + OUTLETS[home][1]), (), published, f"t{n}")
        )
        others = [o for o in range(len(OUTLETS)) if o != home]
        for r, outlet in enumerate(rng.sample(others, rng.randint(1, 4))):
            body, credit = republish(paras, outlet, pool, rng, mutation)
            when = published + timedelta(hours=rng.randint(1, 30))
            items.append(_item(key, f"{key}-r{r}", outlet, body, credit, when, f"T{n} {r}"))
        # Hard negative: a follow-up on the same topic reusing background paragraphs.
        background = paras[: max(1, len(paras) // 5)][:2]
        fresh = markov_text(chain, rng.randint(250, 500), rng)
        follow_paras = [*paragraphs(fresh), *background]
        items.append(
            _item(
                f"{key}-followup",
                f"{key}-f",
                home,
                "\n\n".join(follow_paras + OUTLETS[home][1]),
                (),
                published + timedelta(days=1),
                f"follow {n}",
            )
        )
    return items


def _item(
    story: str,
    slug: str,
    outlet: int,
    body: str,
    credit: tuple[str, ...],
    published: datetime,
    title: str,
) -> Item:
    url = f"https://{OUTLETS[outlet][0]}/news/{slug}"
    article = Article(
        source_id=OUTLETS[outlet][0],
        url=url,
        final_url=url,
        canonical_url=url,
        title=title,
        body=body,
        fetched_at=RUN_DAY,
        published_at=published,
        credit_lines=credit,
    )
    return Item(article=article, story=story)


def pairwise(items: list[Item], clusters: list[str]) -> tuple[float, float, int, int, int]:
    by_cluster: dict[str, list[int]] = defaultdict(list)
    by_story: dict[str, list[int]] = defaultdict(list)
    for i, (item, cluster) in enumerate(zip(items, clusters, strict=True)):
        by_cluster[cluster].append(i)
        by_story[item.story].append(i)
    predicted = {p for members in by_cluster.values() for p in itertools.combinations(members, 2)}
    truth = {p for members in by_story.values() for p in itertools.combinations(members, 2)}
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    return precision, recall, tp, len(predicted) - tp, len(truth) - tp


class EmptyIndex:
    def latest(self, article_ids: object) -> dict[str, StoredSignature]:
        return {}

    def by_body_hash(self, body_hashes: object) -> dict[str, StoredSignature]:
        return {}

    def by_bands(self, bands: object, limit: int) -> list[StoredSignature]:
        return []


def run_quality(ground_truth: Path, seed: int, mutation: Mutation) -> None:
    items = build_set(load_bodies(ground_truth), seed, mutation)
    articles = [it.article for it in items]
    stories = len({it.story for it in items})
    print(f"syndication set: {len(items)} articles, {stories} stories (incl. follow-ups)")

    started = time.perf_counter()
    signatures = [sign(a) for a in articles]
    signed = time.perf_counter()
    result = decide(signatures, EmptyIndex())
    decided = time.perf_counter()
    _print_scores("one run", items, result)
    print(
        f"  sign {signed - started:.3f}s, decide {decided - signed:.3f}s "
        f"({len(items) / (decided - started):.0f} articles/s)"
    )

    shuffled = list(range(len(items)))
    random.Random(seed + 1).shuffle(shuffled)
    again = decide([signatures[i] for i in shuffled], EmptyIndex())
    same = all(again.decisions[k] == result.decisions[i] for k, i in enumerate(shuffled))
    print(f"  shuffled input gives identical decisions: {same}")

    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as tmp:
        lake = Path(tmp)
        half = sorted(range(len(items)), key=lambda i: articles[i].url)[::2]
        first = set(half)
        first_run = decide([signatures[i] for i in half], EmptyIndex())
        _publish(lake, date(2026, 4, 30), "nightly", first_run, "run-1")
        rest = [i for i in range(len(items)) if i not in first]
        with ParquetSignatureIndex(lake) as index:
            second_run = decide([signatures[i] for i in rest], index)
        clusters = [""] * len(items)
        for i, d in zip(half, first_run.decisions, strict=True):
            clusters[i] = d.cluster_id
        for i, d in zip(rest, second_run.decisions, strict=True):
            clusters[i] = d.cluster_id
        p, r, tp, fp, fn = pairwise(items, clusters)
        print(
            f"two runs through the lake: precision {p:.4f} recall {r:.4f} "
            f"(tp {tp}, fp {fp}, fn {fn})"
        )


def _print_scores(label: str, items: list[Item], result: DedupResult) -> None:
    clusters = [d.cluster_id for d in result.decisions]
    p, r, tp, fp, fn = pairwise(items, clusters)
    kinds: dict[str | None, int] = defaultdict(int)
    for d in result.decisions:
        kinds[d.duplicate_kind] += 1
    print(
        f"{label}: precision {p:.4f} recall {r:.4f} (tp {tp}, fp {fp}, fn {fn}); "
        f"kinds {dict(sorted(kinds.items(), key=str))}"
    )


def _publish(lake: Path, run_date: date, scope: str, result: DedupResult, run_id: str) -> None:
    folder = lake / "dedup_signatures" / f"run_date={run_date.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(signatures_table(result.signatures, run_id=run_id), folder / f"{scope}.parquet")


# --- scale ------------------------------------------------------------------------------------


def synthetic_lake(lake: Path, existing: int, planted: list[StoredSignature], seed: int) -> None:
    """Write `existing` random article signatures (and the planted ones) as Parquet files."""
    rng = np.random.default_rng(seed)
    per_file = 100_000
    folder_day = date(2026, 1, 1)
    for start in range(0, existing, per_file):
        n = min(per_file, existing - start)
        minhash = rng.integers(0, 1 << 32, size=(n, NUM_PERM), dtype=np.uint64).astype(np.uint32)
        ids = [f"{start + i:032x}" for i in range(n)]
        table = _synthetic_table(ids, minhash, rng)
        day = folder_day + timedelta(days=start // per_file)
        folder = lake / "dedup_signatures" / f"run_date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "nightly.parquet")
    folder = lake / "dedup_signatures" / "run_date=2025-12-31"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(signatures_table(planted, run_id="planted"), folder / "nightly.parquet")


def _synthetic_table(ids: list[str], minhash: np.ndarray, rng: np.random.Generator) -> pa.Table:
    n = len(ids)
    id_array = pa.array(ids, pa.string())
    band_idx = np.repeat(np.arange(n), BANDS)
    hashes = band_hashes(minhash).reshape(-1)
    total = n + n * BANDS
    ts_type = DEDUP_SIGNATURES.field("published_at").type

    def doc_then_null(arr: pa.Array) -> pa.Array:
        return pa.concat_arrays([arr, pa.nulls(n * BANDS, arr.type)])

    blobs = pa.array([row.tobytes() for row in minhash.astype("<u4")], pa.binary())
    hexes = pa.array([f"{x:032x}" for x in rng.integers(0, 1 << 62, size=n)], pa.string())
    columns = {
        "run_id": pa.array(np.full(total, "run-synthetic", dtype=object), pa.string()),
        "source_id": pa.array(np.full(total, "synthetic", dtype=object), pa.string()),
        "article_id": pa.concat_arrays([id_array, id_array.take(pa.array(band_idx))]),
        "version": pa.array(np.ones(total, dtype=np.int32)),
        "band": pa.array(
            np.concatenate(
                [np.full(n, DOCUMENT_BAND, np.int16), np.tile(np.arange(BANDS, dtype=np.int16), n)]
            )
        ),
        "band_hash": pa.array(np.concatenate([np.zeros(n, np.int64), hashes])),
        "cluster_id": doc_then_null(id_array),
        "body_hash": doc_then_null(hexes),
        "shingles": doc_then_null(pa.array(rng.integers(100, 900, size=n, dtype=np.int32))),
        "minhash": doc_then_null(blobs),
        "published_at": doc_then_null(pa.array([RUN_DAY - timedelta(days=30)] * n, ts_type)),
        "duplicate_of": pa.nulls(total, pa.string()),
        "duplicate_kind": pa.nulls(total, pa.string()),
        "similarity": doc_then_null(pa.array(np.ones(n, dtype=np.float32))),
    }
    return pa.table(columns, schema=DEDUP_SIGNATURES)


def new_batch(bodies: list[tuple[str, str]], size: int, seed: int) -> tuple[list[Article], int]:
    """`size` distinct articles: Markov text, with every tenth one a copy of a real story."""
    rng = random.Random(seed)
    corpus = [b for _, b in bodies]
    chains = [markov_chain(corpus[k::7]) for k in range(7)]
    all_paras = [paragraphs(b) for b in corpus]
    pool = [p for paras in all_paras for p in paras if len(p.split()) >= 12]
    articles = []
    copies = 0
    for i in range(size):
        if i % 10 == 0:
            paras = all_paras[(i // 10) % len(all_paras)]
            body, credit = republish(paras, 1 + i % 3, pool, rng)
            copies += 1
        else:
            body, credit = markov_text(chains[i % 7], rng.randint(300, 700), rng), ()
        url = f"https://{OUTLETS[i % len(OUTLETS)][0]}/news/batch-{i}"
        articles.append(
            Article(
                source_id=OUTLETS[i % len(OUTLETS)][0],
                url=url,
                final_url=url,
                canonical_url=url,
                title=None,
                body=body,
                fetched_at=RUN_DAY,
                published_at=RUN_DAY - timedelta(minutes=i),
                credit_lines=credit,
            )
        )
    return articles, copies


def planted_signatures(bodies: list[tuple[str, str]]) -> list[StoredSignature]:
    """The real stories as stored articles; every tenth article of the new batch copies one."""
    originals = [
        _item(key, key, 0, "\n\n".join(paragraphs(body)), (), RUN_DAY - timedelta(days=40), key)
        for key, body in bodies
    ]
    return list(decide([sign(it.article) for it in originals], EmptyIndex()).signatures)


def make_lake(ground_truth: Path, lake: Path, existing: int, seed: int) -> None:
    synthetic_lake(lake, existing, planted_signatures(load_bodies(ground_truth)), seed)


def scale_one(ground_truth: Path, existing: int, batch_size: int, seed: int) -> dict[str, float]:
    """Time one batch against a lake of `existing` signatures written by another process."""
    bodies = load_bodies(ground_truth)
    planted_ids = {p.article_id for p in planted_signatures(bodies)}
    batch, copies = new_batch(bodies, batch_size, seed)
    with tempfile.TemporaryDirectory(prefix="dedup-scale-") as tmp:
        lake = Path(tmp)
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "make-lake",
                str(ground_truth),
                "--existing",
                str(existing),
                "--lake",
                str(lake),
                "--seed",
                str(seed),
            ],
            check=True,
        )
        t1 = time.perf_counter()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        signatures = [sign(a) for a in batch]
        t2 = time.perf_counter()
        with ParquetSignatureIndex(lake) as index:
            result = decide(signatures, index)
        t3 = time.perf_counter()
        lake_bytes = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    found = sum(1 for d in result.decisions if d.cluster_id in planted_ids)
    return {
        "existing": existing,
        "batch": batch_size,
        "lake_write_s": round(t1 - t0, 2),
        "lake_mb": round(lake_bytes / 1e6, 1),
        "sign_s": round(t2 - t1, 2),
        "decide_s": round(t3 - t2, 2),
        "total_s": round(t3 - t1, 2),
        "planted_copies": copies,
        "planted_found": found,
        "rss_before_mb": round(rss_before / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_scale(ground_truth: Path, sizes: list[int], batch_size: int, seed: int) -> None:
    print(
        f"new batch of {batch_size} articles against N stored signatures on {os.cpu_count()} "
        "cores (sign: shingles + MinHash; decide: DuckDB lookups + decisions; RSS in MB)"
    )
    print(
        f"{'existing':>9} {'lake MB':>8} {'sign s':>7} {'decide s':>9} {'total s':>8} "
        f"{'RSS before':>11} {'peak RSS':>9} {'planted found':>14}"
    )
    for size in sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "scale-one",
                str(ground_truth),
                "--existing",
                str(size),
                "--batch",
                str(batch_size),
                "--seed",
                str(seed),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{row['existing']:>9} {row['lake_mb']:>8} {row['sign_s']:>7} "
            f"{row['decide_s']:>9} {row['total_s']:>8} {row['rss_before_mb']:>11} "
            f"{row['peak_rss_mb']:>9} "
            f"{row['planted_found']:>7}/{row['planted_copies']}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["quality", "scale", "scale-one", "make-lake"])
    parser.add_argument("ground_truth", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--existing", default="10000,100000,1000000")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--max-change", type=float, default=0.2, help="quality: trim/add share")
    parser.add_argument("--edit-rate", type=float, default=0.02, help="quality: word edit rate")
    parser.add_argument("--lake", type=Path, help="make-lake: the directory to fill")
    args = parser.parse_args(argv)
    if args.mode == "quality":
        run_quality(args.ground_truth, args.seed, Mutation(args.max_change, args.edit_rate))
    elif args.mode == "scale":
        run_scale(
            args.ground_truth, [int(x) for x in args.existing.split(",")], args.batch, args.seed
        )
    elif args.mode == "make-lake":
        make_lake(args.ground_truth, args.lake, int(args.existing), args.seed)
    else:
        print(json.dumps(scale_one(args.ground_truth, int(args.existing), args.batch, args.seed)))


if __name__ == "__main__":
    main()
