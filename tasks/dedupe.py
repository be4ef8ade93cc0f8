"""Deduplication: canonical URL, exact body, near duplicate, syndication clusters, versions.

Two steps, both pure:

1. `sign(article)` (CPU work, runs in any worker, any batch size): normalised word shingles,
   a MinHash signature with fixed parameters (the same in every process), a body hash.
2. `decide(signatures, index)` (cheap, runs once over everything the run extracted): sorts
   the signatures by (published_at, canonical_url, ...) and decides each against what the
   warehouse already holds (`SignatureIndex`, queried in bulk) and against the articles
   decided before it in the run. Same inputs, same decisions, whatever the batch order.

Near duplicates: LSH over the MinHash bands proposes candidates; the decision verifies each
candidate from the full signatures and the shingle counts: a Jaccard estimate of at least
`DedupConfig.jaccard`, or a containment of the smaller shingle set in the larger
(`|A ∩ B| / min(|A|, |B|)`, estimated from Jaccard and the set sizes) of at least
`DedupConfig.containment`, which keeps a heavily trimmed wire copy with its story.

Clusters: `cluster_id` is the `article_id` of the cluster's first article (the earliest
published one within a run); it never changes when later members arrive. `duplicate_of` of a
member names the cluster's origin; `similarity` is the member's similarity to that origin.
Clusters are never merged afterwards: an article that bridges two stored clusters joins the one
it is most similar to.

Versions: an article whose canonical URL is stored with another body becomes version
`latest + 1` of the same `article_id`, keeps its cluster, and reports `version_change`
(1 - estimated Jaccard to the previous version).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tasks.records import Article, DedupDecision
from tasks.urls import article_id as make_article_id
from tasks.urls import normalize_url

logger = logging.getLogger(__name__)

NUM_PERM = 126
BANDS = 42  # of 3 rows: a pair at Jaccard 0.4 becomes a candidate with p = 0.94, 0.5: 0.996
ROWS = NUM_PERM // BANDS
SHINGLE_WORDS = 5
SEED = 20260527
DOCUMENT_BAND = -1  # the `band` value of the row that carries a version's signature

_rng = np.random.default_rng(SEED)
_PERM_A = _rng.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_PERM_B = _rng.integers(0, 1 << 63, size=NUM_PERM, dtype=np.uint64)
_SHINGLE_MULT = _rng.integers(1, 1 << 62, size=SHINGLE_WORDS, dtype=np.uint64) | np.uint64(1)
_BAND_SALT = _rng.integers(1, 1 << 62, size=BANDS, dtype=np.uint64)
del _rng

_WORD_RE = re.compile(r"\w+")

WIRE_SERVICES: dict[str, str] = {
    "reuters": "Reuters",
    "associated press": "AP",
    "ap": "AP",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "bloomberg": "Bloomberg",
    "dpa": "dpa",
    "upi": "UPI",
    "united press international": "UPI",
    "xinhua": "Xinhua",
    "kyodo": "Kyodo",
    "yonhap": "Yonhap",
    "pa media": "PA Media",
    "press association": "PA Media",
    "ansa": "ANSA",
    "efe": "EFE",
    "pti": "PTI",
    "ani": "ANI",
    "tass": "TASS",
    "anadolu": "Anadolu",
    "canadian press": "The Canadian Press",
    "aap": "AAP",
}
_WIRE_RE = re.compile(
    r"\b("
    + "|".join(sorted((re.escape(k) for k in WIRE_SERVICES), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Thresholds of the near-duplicate decision (defaults tuned by `benchmarks/dedup.py`)."""

    jaccard: float = 0.3  # near duplicate: Jaccard estimate at least this ...
    containment: float = 0.75  # ... or the smaller shingle set this much contained in the other
    jaccard_floor: float = 0.15  # and, for containment, at least this Jaccard estimate
    min_shingles: int = 8  # shorter bodies (about 12 words) are never content duplicates
    max_candidates_per_band: int = 50  # stored articles returned per matching band hash


@dataclass(frozen=True, slots=True)
class Signature:
    """What deduplication needs to know about one article; computed by `sign`."""

    article_id: str
    canonical_url: str
    url: str
    source_id: str
    published_at: datetime | None
    body_hash: str  # of the normalised word sequence; "" when the body has no words
    words: int
    shingles: int  # distinct shingles; 0 when the body has no words
    minhash: bytes  # NUM_PERM little-endian uint32, empty when shingles == 0
    wire_service: str | None = None

    def values(self) -> npt.NDArray[np.uint32]:
        return np.frombuffer(self.minhash, dtype="<u4")


@dataclass(frozen=True, slots=True)
class StoredSignature:
    """One article version as the `dedup_signatures` table holds it (its document row)."""

    article_id: str
    version: int
    cluster_id: str
    source_id: str
    body_hash: str
    shingles: int
    minhash: bytes
    published_at: datetime | None = None
    duplicate_of: str | None = None
    duplicate_kind: str | None = None
    similarity: float = 1.0

    def values(self) -> npt.NDArray[np.uint32]:
        return np.frombuffer(self.minhash, dtype="<u4")


class SignatureIndex(Protocol):
    """What the warehouse already holds, queried in bulk (see `warehouse.dedup_index`)."""

    def latest(self, article_ids: Sequence[str]) -> dict[str, StoredSignature]:
        """The latest stored version of each of these articles that is stored."""
        ...

    def by_body_hash(self, body_hashes: Sequence[str]) -> dict[str, StoredSignature]:
        """For each stored body hash among these, the earliest stored version that has it."""
        ...

    def by_bands(self, bands: Sequence[tuple[int, int]], limit: int) -> list[StoredSignature]:
        """Stored versions that share at least one (band, band_hash) pair.

        At most `limit` versions per pair (a deterministic choice), to bound hot buckets.
        """
        ...


@dataclass(frozen=True, slots=True)
class DedupResult:
    decisions: tuple[DedupDecision, ...]  # in the order of the input
    signatures: tuple[StoredSignature, ...]  # new document rows to publish


def normalized_words(text: str) -> list[str]:
    """Casefolded word tokens of the text after NFKC: what shingles and body hashes see."""
    return _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold())


def body_hash(words: Sequence[str]) -> str:
    """Hex digest of a normalised word sequence; "" for no words."""
    if not words:
        return ""
    return hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=16).hexdigest()


def shingle_hashes(words: Sequence[str]) -> npt.NDArray[np.uint64]:
    """Distinct 64-bit hashes of the overlapping `SHINGLE_WORDS`-word shingles, sorted."""
    if not words:
        return np.empty(0, dtype=np.uint64)
    word_hashes = np.fromiter(
        (zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words)
    )
    k = min(SHINGLE_WORDS, len(word_hashes))
    n = len(word_hashes) - k + 1
    combined = np.zeros(n, dtype=np.uint64)
    for j in range(k):
        combined += word_hashes[j : j + n] * _SHINGLE_MULT[j]  # wraps modulo 2**64
    return np.unique(_mix64(combined))


def minhash(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint32]:
    """MinHash signature (NUM_PERM values) of a non-empty set of 64-bit hashes.

    Permutation i is splitmix64(a_i * h + b_i) with fixed odd a_i (a bijection of 64-bit
    integers, so the minimum is one of a random-like order); the top 32 bits of each minimum
    are kept.
    """
    permuted = _mix64(_PERM_A[:, None] * hashes[None, :] + _PERM_B[:, None])
    return (permuted.min(axis=1) >> np.uint64(32)).astype(np.uint32)


def band_hashes(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]:
    """One signed 64-bit hash per LSH band: shape (..., NUM_PERM) -> (..., BANDS)."""
    rows = values.astype(np.uint64).reshape(*values.shape[:-1], BANDS, ROWS)
    h = np.broadcast_to(_BAND_SALT, rows.shape[:-1]).copy()
    for j in range(ROWS):
        h = _mix64(h ^ rows[..., j])
    return h.view(np.int64)


def jaccard(a: npt.NDArray[np.uint32], b: npt.NDArray[np.uint32]) -> float:
    """Jaccard similarity estimated from two MinHash signatures."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def containment(j: float, size_a: int, size_b: int) -> float:
    """|A ∩ B| / min(|A|, |B|), from the Jaccard estimate and the two set sizes."""
    if size_a == 0 or size_b == 0:
        return 0.0
    inter = j * (size_a + size_b) / (1.0 + j)
    return min(1.0, inter / min(size_a, size_b))


def wire_service(credit_lines: Iterable[str], body: str = "") -> str | None:
    """The wire service named in a credit line, or in a `(Reuters) -` dateline of the body."""
    for line in credit_lines:
        match = _WIRE_RE.search(line)
        if match:
            return WIRE_SERVICES[match.group(1).lower()]
    head = body[:200]
    match = re.search(r"\(([^()]{2,40})\)\s*[-–—]", head)
    if match:
        inner = _WIRE_RE.search(match.group(1))
        if inner:
            return WIRE_SERVICES[inner.group(1).lower()]
    return None


def sign(article: Article) -> Signature:
    """Shingle, hash and MinHash one article body."""
    words = normalized_words(article.body)
    hashes = shingle_hashes(words)
    values = minhash(hashes) if len(hashes) else np.empty(0, dtype=np.uint32)
    return Signature(
        article_id=make_article_id(article.canonical_url),
        canonical_url=article.canonical_url,
        url=article.url,
        source_id=article.source_id,
        published_at=article.published_at,
        body_hash=body_hash(words),
        words=len(words),
        shingles=len(hashes),
        minhash=values.astype("<u4").tobytes(),
        wire_service=wire_service(article.credit_lines, article.body),
    )


def dedupe(
    batch: Sequence[Article], index: SignatureIndex, *, config: DedupConfig | None = None
) -> DedupResult:
    """Decide every article of the batch; see `decide`."""
    return decide([sign(a) for a in batch], index, config=config)


def decide(
    signatures: Sequence[Signature],
    index: SignatureIndex,
    *,
    config: DedupConfig | None = None,
) -> DedupResult:
    """One `DedupDecision` per signature (input order) and the signature rows to publish.

    In a content-determined order (`_decision_order`: earliest published first), each article is:
    - the same article as one seen before (same canonical URL): with the same body, a
      `canonical_url` duplicate of it; with a changed body, a new version of the stored
      article (within one run, a second body for one URL is a `canonical_url` duplicate);
    - else an `exact` duplicate if its normalised body equals a known one;
    - else a `near` duplicate if a known article shares an LSH band with it and the verified
      similarity passes `config`;
    - else the origin of a new cluster.
    Bodies with fewer than `config.min_shingles` shingles are never content duplicates.
    """
    cfg = config or DedupConfig()
    state = _State(cfg.min_shingles)
    eligible = [s for s in signatures if s.shingles >= cfg.min_shingles]

    latest = index.latest(sorted({s.article_id for s in signatures}))
    stored_by_hash = index.by_body_hash(sorted({s.body_hash for s in eligible}))
    probe = sorted(
        {(band, h) for s in eligible for band, h in enumerate(band_hashes(s.values()).tolist())}
    )
    candidates = index.by_bands(probe, cfg.max_candidates_per_band) if probe else []
    for stored in [*candidates, *stored_by_hash.values(), *latest.values()]:
        state.remember(stored)
    origins = sorted({st.cluster_id for st in state.known.values()} - state.versions.keys())
    for stored in index.latest(origins).values() if origins else ():
        state.remember(stored)

    decisions: dict[int, DedupDecision] = {}
    to_publish: list[StoredSignature] = []
    for i in _decision_order(signatures):
        sig = signatures[i]
        decision, row = _decide_one(sig, cfg, latest, stored_by_hash, state)
        decisions[i] = decision
        if row is not None:
            to_publish.append(row)
            state.remember(row)
            state.run_by_article.setdefault(sig.article_id, decision)
            if sig.shingles >= cfg.min_shingles:
                state.run_by_hash.setdefault(sig.body_hash, decision.cluster_id)
    ordered = tuple(decisions[i] for i in range(len(signatures)))
    logger.debug(
        "Decided %d articles: %d new stories, %d new versions, %d exact, %d near, "
        "%d canonical_url; %d stored candidates",
        len(ordered),
        sum(d.duplicate_kind is None and d.version == 1 for d in ordered),
        sum(d.version_change is not None for d in ordered),
        sum(d.duplicate_kind == "exact" for d in ordered),
        sum(d.duplicate_kind == "near" for d in ordered),
        sum(d.duplicate_kind == "canonical_url" for d in ordered),
        len(candidates),
    )
    return DedupResult(decisions=ordered, signatures=tuple(to_publish))


class _State:
    """What `decide` knows while it walks the run: stored candidates and the run so far."""

    def __init__(self, min_shingles: int) -> None:
        self.min_shingles = min_shingles
        self.known: dict[tuple[str, int], StoredSignature] = {}
        self.values: dict[tuple[str, int], npt.NDArray[np.uint32]] = {}
        self.versions: dict[str, list[int]] = {}
        self.buckets: dict[tuple[int, int], list[tuple[str, int]]] = {}
        self.run_by_article: dict[str, DedupDecision] = {}
        self.run_by_hash: dict[str, str] = {}  # body hash -> cluster_id, decided in this run

    def remember(self, stored: StoredSignature) -> None:
        key = (stored.article_id, stored.version)
        if key in self.known:
            return
        values = stored.values()
        self.known[key] = stored
        self.values[key] = values
        self.versions.setdefault(stored.article_id, []).append(stored.version)
        if stored.shingles >= self.min_shingles and len(values) == NUM_PERM:
            for band, h in enumerate(band_hashes(values).tolist()):
                bucket = self.buckets.setdefault((band, h), [])
                bucket.append(key)

    def origin(self, cluster_id: str) -> StoredSignature | None:
        versions = self.versions.get(cluster_id)
        return self.known[(cluster_id, min(versions))] if versions else None


def _decide_one(
    sig: Signature,
    cfg: DedupConfig,
    latest: dict[str, StoredSignature],
    stored_by_hash: dict[str, StoredSignature],
    state: _State,
) -> tuple[DedupDecision, StoredSignature | None]:
    values = sig.values()
    same = state.run_by_article.get(sig.article_id)
    if same is not None:  # another URL (or fetch) of an article decided in this run
        kept = replace(same, duplicate_of=sig.article_id, duplicate_kind="canonical_url")
        return replace(kept, body_hash=sig.body_hash, wire_service=sig.wire_service), None

    previous = latest.get(sig.article_id)
    if previous is not None:
        if previous.body_hash == sig.body_hash:
            decision = _decision(
                sig,
                previous.version,
                previous.cluster_id,
                sig.article_id,
                "canonical_url",
                previous.similarity,
                None,
            )
            return decision, None
        change = 1.0 - _similarity(values, sig.shingles, previous, jaccard_only=True)
        similarity = _origin_similarity(sig, values, previous.cluster_id, state)
        kind = previous.duplicate_kind
        origin = state.origin(previous.cluster_id)
        if kind == "exact" and (origin is None or origin.body_hash != sig.body_hash):
            kind = "near"  # the member's new body no longer equals its origin's
        decision = _decision(
            sig,
            previous.version + 1,
            previous.cluster_id,
            previous.duplicate_of,
            kind,
            similarity,
            change,
        )
        return decision, _row(sig, decision)

    match: tuple[str, str] | None = None  # (cluster_id, kind)
    if sig.shingles >= cfg.min_shingles:
        if sig.body_hash in state.run_by_hash:
            match = (state.run_by_hash[sig.body_hash], "exact")
        elif sig.body_hash in stored_by_hash:
            match = (stored_by_hash[sig.body_hash].cluster_id, "exact")
        else:
            near = _best_near(sig, values, cfg, state)
            if near is not None:
                match = (near, "near")
    if match is None:
        decision = _decision(sig, 1, sig.article_id, None, None, 1.0, None)
        return decision, _row(sig, decision)
    cluster_id, kind = match
    similarity = _origin_similarity(sig, values, cluster_id, state)
    decision = _decision(sig, 1, cluster_id, cluster_id, kind, similarity, None)
    return decision, _row(sig, decision)


def _best_near(
    sig: Signature, values: npt.NDArray[np.uint32], cfg: DedupConfig, state: _State
) -> str | None:
    """The cluster of the most similar verified candidate (ties: the smallest cluster_id)."""
    seen: set[tuple[str, int]] = set()
    best: tuple[float, str] | None = None  # (-containment, cluster_id): min() is the best
    for band, h in enumerate(band_hashes(values).tolist()):
        for key in state.buckets.get((band, h), ()):
            if key in seen or key[0] == sig.article_id:
                continue
            seen.add(key)
            other = state.known[key]
            j = jaccard(values, state.values[key])
            c = containment(j, sig.shingles, other.shingles)
            if j < cfg.jaccard and (j < cfg.jaccard_floor or c < cfg.containment):
                continue
            candidate = (-max(c, j), other.cluster_id)
            if best is None or candidate < best:
                best = candidate
    return None if best is None else best[1]


def _origin_similarity(
    sig: Signature, values: npt.NDArray[np.uint32], cluster_id: str, state: _State
) -> float:
    """Similarity (containment estimate) to the first version of the cluster's origin."""
    if cluster_id == sig.article_id:
        return 1.0
    origin = state.origin(cluster_id)
    if origin is None:
        return 0.0
    if origin.body_hash and origin.body_hash == sig.body_hash:
        return 1.0
    return _similarity(values, sig.shingles, origin)


def _similarity(
    values: npt.NDArray[np.uint32],
    shingles: int,
    other: StoredSignature,
    *,
    jaccard_only: bool = False,
) -> float:
    if not shingles or not other.shingles:
        return 0.0
    j = jaccard(values, other.values())
    return j if jaccard_only else containment(j, shingles, other.shingles)


def _decision(
    sig: Signature,
    version: int,
    cluster_id: str,
    duplicate_of: str | None,
    kind: str | None,
    similarity: float,
    change: float | None,
) -> DedupDecision:
    return DedupDecision(
        article_id=sig.article_id,
        version=version,
        cluster_id=cluster_id,
        duplicate_of=duplicate_of,
        duplicate_kind=kind,
        similarity=round(similarity, 4),
        body_hash=sig.body_hash,
        version_change=None if change is None else round(change, 4),
        wire_service=sig.wire_service,
    )


def _row(sig: Signature, decision: DedupDecision) -> StoredSignature:
    return StoredSignature(
        article_id=sig.article_id,
        version=decision.version,
        cluster_id=decision.cluster_id,
        source_id=sig.source_id,
        body_hash=sig.body_hash,
        shingles=sig.shingles,
        minhash=sig.minhash,
        published_at=sig.published_at,
        duplicate_of=decision.duplicate_of,
        duplicate_kind=decision.duplicate_kind,
        similarity=decision.similarity,
    )


_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def _decision_order(signatures: Sequence[Signature]) -> list[int]:
    """Indexes in the order of decision, which depends only on content, never on input order.

    Articles by (earliest published_at of their canonical URL, canonical URL); within one
    canonical URL the page served at that URL comes first (then AMP, print, tracking copies),
    so that it is the one stored as the article.
    """
    first_published: dict[str, datetime] = {}
    for sig in signatures:
        when = sig.published_at or _FAR_FUTURE
        first_published[sig.article_id] = min(when, first_published.get(sig.article_id, when))

    def key(i: int) -> tuple[datetime, str, bool, datetime, str, str]:
        sig = signatures[i]
        return (
            first_published[sig.article_id],
            sig.canonical_url,
            not _served_at_canonical(sig),
            sig.published_at or _FAR_FUTURE,
            sig.body_hash,
            sig.url,
        )

    return sorted(range(len(signatures)), key=key)


def _served_at_canonical(sig: Signature) -> bool:
    try:
        return normalize_url(sig.url) == sig.canonical_url
    except ValueError:
        return False


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser, element-wise (arithmetic wraps modulo 2**64)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
