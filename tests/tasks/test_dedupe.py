"""Deduplication logic: shingles, MinHash, decisions, clusters, versions (no warehouse)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tasks.dedupe import (
    BANDS,
    DedupConfig,
    StoredSignature,
    band_hashes,
    body_hash,
    decide,
    dedupe,
    jaccard,
    minhash,
    normalized_words,
    shingle_hashes,
    sign,
    wire_service,
)
from tasks.records import Article
from tasks.urls import article_id

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)

_WORDS = """
minister council harbour budget storm rescue vote court ruling village farmers drought
police festival museum school teachers strike bridge river mayor election campaign
report hospital doctors patients vaccine energy prices market shares investors bank
railway station workers union talks agreement border troops ceasefire refugees aid
climate summit emissions coal wind solar grid outage company profits quarter growth
inflation wages housing rents tenants landlord council plan protest square crowd
officials said on tuesday that the new rules would take effect next month after a
long debate in parliament where opposition members raised concerns about costs and
delays while supporters argued the measures were overdue and necessary
"""
_VOCAB = tuple(_WORDS.split())


def story(seed: int, paragraphs: int = 8, words: int = 45) -> list[str]:
    """Made-up news paragraphs, distinct for each seed."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_VOCAB) for _ in range(words)).capitalize() + "."
        for _ in range(paragraphs)
    ]


def article(
    url: str,
    paras: Sequence[str],
    *,
    hours: float = 0,
    credit: tuple[str, ...] = (),
    canonical: str | None = None,
) -> Article:
    return Article(
        source_id=url.split("/")[2],
        url=url,
        final_url=url,
        canonical_url=canonical or url,
        title="A headline",
        body="\n\n".join(paras),
        fetched_at=T0 + timedelta(days=1),
        published_at=T0 + timedelta(hours=hours),
        credit_lines=credit,
    )


class EmptyIndex:
    """A warehouse that holds nothing yet."""

    def latest(self, article_ids: Sequence[str]) -> dict[str, StoredSignature]:
        return {}

    def by_body_hash(self, body_hashes: Sequence[str]) -> dict[str, StoredSignature]:
        return {}

    def by_bands(self, bands: Sequence[tuple[int, int]], limit: int) -> list[StoredSignature]:
        return []


def republished(paras: list[str], seed: int) -> list[str]:
    """Wire copy: trimmed last paragraph, one added, a dateline, a few words changed."""
    rng = random.Random(seed)
    out = [*paras[:-1]]
    out.insert(3, "Local officials were not immediately available for comment on the plan.")
    out[0] = "LONDON (Reuters) - " + out[0]
    words = out[2].split()
    for _ in range(3):
        words[rng.randrange(len(words))] = "reportedly"
    out[2] = " ".join(words)
    return out


def test_body_hash_ignores_case_punctuation_and_spacing() -> None:
    a = normalized_words("The Mayor said: “No.”\n\nThe  vote  is on Tuesday!")
    b = normalized_words("the mayor said no the vote is on tuesday")
    assert body_hash(a) == body_hash(b)
    assert body_hash(a) != body_hash(normalized_words("the mayor said yes"))
    assert body_hash([]) == ""


def test_minhash_estimates_jaccard_of_shingle_sets() -> None:
    words = " ".join(story(1, paragraphs=12)).split()
    a = shingle_hashes(normalized_words(" ".join(words)))
    b = shingle_hashes(normalized_words(" ".join(words[: int(len(words) * 0.6)])))
    exact = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    assert abs(jaccard(minhash(a), minhash(b)) - exact) < 0.15
    unrelated = shingle_hashes(normalized_words(" ".join(story(2, paragraphs=12))))
    assert jaccard(minhash(a), minhash(unrelated)) < 0.1


def test_band_hashes_of_a_matrix_match_those_of_each_row() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.integers(0, 1 << 32, size=(4, 126), dtype=np.uint64).astype(np.uint32)
    stacked = band_hashes(matrix)
    assert stacked.shape == (4, BANDS)
    for row, hashes in zip(matrix, stacked, strict=True):
        assert (band_hashes(row) == hashes).all()


def test_signatures_are_identical_in_another_process() -> None:
    body = "\n\n".join(story(5))
    code = (
        "import sys; from datetime import datetime, UTC; from tasks.records import Article;"
        "from tasks.dedupe import sign;"
        "a = Article('s', 'https://n.example/a', 'https://n.example/a', 'https://n.example/a',"
        " None, sys.stdin.read(), datetime(2026, 1, 1, tzinfo=UTC));"
        "s = sign(a); print(s.body_hash, s.minhash.hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        input=body,
        capture_output=True,
        text=True,
        check=True,
    )
    here = sign(article("https://n.example/a", [body]))
    assert out.stdout.split() == [here.body_hash, here.minhash.hex()]


def test_identical_body_under_another_url_is_an_exact_duplicate_of_the_earliest() -> None:
    paras = story(10)
    first = article("https://one.example/a", paras, hours=0)
    copy = article("https://two.example/b", ["\n".join(paras).upper()], hours=5)
    result = dedupe([copy, first], EmptyIndex())
    copy_decision, first_decision = result.decisions
    assert first_decision.duplicate_of is None
    assert first_decision.cluster_id == first_decision.article_id
    assert copy_decision.duplicate_kind == "exact"
    assert copy_decision.duplicate_of == first_decision.article_id
    assert copy_decision.cluster_id == first_decision.cluster_id
    assert copy_decision.similarity == 1.0


def test_wire_copy_with_trims_additions_and_edits_is_a_near_duplicate() -> None:
    paras = story(11)
    origin = article("https://wire.example/story", paras, hours=0)
    copy = article(
        "https://paper.example/news/x",
        republished(paras, 1),
        hours=3,
        credit=("Reporting by A. Writer; Editing by B. Editor",),
    )
    result = dedupe([origin, copy], EmptyIndex())
    first, second = result.decisions
    assert second.duplicate_kind == "near"
    assert second.duplicate_of == first.article_id == second.cluster_id
    assert 0.6 < second.similarity < 1.0
    assert second.wire_service == "Reuters"


def test_different_stories_sharing_a_background_paragraph_are_not_duplicates() -> None:
    background = story(99, paragraphs=1)
    a = article("https://one.example/a", [*story(20, paragraphs=6), *background])
    b = article("https://one.example/b", [*story(21, paragraphs=6), *background], hours=1)
    result = dedupe([a, b], EmptyIndex())
    assert [d.duplicate_kind for d in result.decisions] == [None, None]
    assert result.decisions[0].cluster_id != result.decisions[1].cluster_id


def test_same_canonical_url_in_one_run_is_a_canonical_url_duplicate_with_the_same_id() -> None:
    paras = story(12)
    canonical = "https://one.example/a"
    plain = article(canonical, paras)
    tracked = article(canonical + "?utm_source=x", paras, canonical=canonical)
    result = dedupe([tracked, plain], EmptyIndex())
    tracked_d, plain_d = result.decisions
    assert tracked_d.article_id == plain_d.article_id == article_id(canonical)
    assert tracked_d.duplicate_kind == "canonical_url"
    assert plain_d.duplicate_kind is None
    assert tracked_d.cluster_id == plain_d.cluster_id
    assert len(result.signatures) == 1


@pytest.mark.parametrize("amp_first", [True, False])
def test_page_served_at_its_canonical_url_represents_its_amp_copy(amp_first: bool) -> None:
    canonical = "https://one.example/2026/story"
    page = article(canonical, story(17))
    amp = article(
        "https://one.example/amp/2026/story",
        [*story(17), "Read the full story."],
        canonical=canonical,
    )
    batch = [amp, page] if amp_first else [page, amp]
    result = dedupe(batch, EmptyIndex())
    decisions = {a.url: d for a, d in zip(batch, result.decisions, strict=True)}
    assert decisions[canonical].duplicate_kind is None
    assert decisions[amp.url].duplicate_kind == "canonical_url"
    assert decisions[amp.url].duplicate_of == decisions[canonical].article_id


def test_cluster_origin_is_the_earliest_published_whatever_the_input_order() -> None:
    paras = story(13)
    batch = [
        article("https://c.example/x", republished(paras, 1), hours=9),
        article("https://a.example/x", paras, hours=0),
        article("https://b.example/x", republished(paras, 2), hours=4),
        article("https://d.example/y", story(14), hours=2),
    ]
    expected = dedupe(batch, EmptyIndex())
    origin_id = article_id("https://a.example/x")
    assert {d.cluster_id for d in expected.decisions[:3]} == {origin_id}
    assert expected.decisions[3].cluster_id != origin_id
    for seed in range(5):
        order = list(range(len(batch)))
        random.Random(seed).shuffle(order)
        got = dedupe([batch[i] for i in order], EmptyIndex())
        assert [got.decisions[k] for k in sorted(range(4), key=order.__getitem__)] == list(
            expected.decisions
        )


def test_signing_in_separate_batches_then_deciding_once_equals_one_batch() -> None:
    batch = [
        article(f"https://s{i}.example/x", republished(story(15), i), hours=i) for i in range(6)
    ]
    whole = dedupe(batch, EmptyIndex())
    parts = [sign(a) for a in batch[3:]] + [sign(a) for a in batch[:3]]
    split = decide(parts[3:] + parts[:3], EmptyIndex())
    assert split == whole


def test_short_bodies_are_never_content_duplicates() -> None:
    stub = ["Subscribe to read this article."]
    result = dedupe(
        [article("https://one.example/a", stub), article("https://one.example/b", stub)],
        EmptyIndex(),
    )
    assert [d.duplicate_kind for d in result.decisions] == [None, None]


def test_stricter_thresholds_turn_a_near_duplicate_into_a_new_story() -> None:
    paras = story(16)
    batch = [article("https://a.example/x", paras), article("https://b.example/x", paras[:4])]
    loose = dedupe(batch, EmptyIndex())
    strict = dedupe(batch, EmptyIndex(), config=DedupConfig(jaccard=0.9, containment=1.01))
    assert loose.decisions[1].duplicate_kind == "near"
    assert strict.decisions[1].duplicate_kind is None


@pytest.mark.parametrize(
    ("credits", "body", "expected"),
    [
        (("Reporting by Jane Doe; Editing by John Roe",), "Text.", None),
        (("© The Associated Press",), "Text.", "AP"),
        ((), "WASHINGTON (Reuters) - The Senate voted.", "Reuters"),
        ((), "PARIS (AFP) — Le vote.", "AFP"),
        ((), "The vote (held on Tuesday) - passed.", None),
    ],
)
def test_wire_service_is_read_from_credit_lines_and_dateline(
    credits: tuple[str, ...], body: str, expected: str | None
) -> None:
    assert wire_service(credits, body) == expected
