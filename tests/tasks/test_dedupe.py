"""Deduplication logic: shingles, MinHash, decisions, clusters, versions (no warehouse)."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tasks.dedupe import (
    BANDS,
    DedupConfig,
    StoredSignature,
    band_hashes,
    body_hash,
    containment,
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


# ------------------------------------------------ hand-written bodies for the threshold tests

HARBOUR = [
    "The harbour board voted on Tuesday night to build a flood barrier across the mouth of the "
    "old fishing port, ending a dispute that has divided the town for almost a decade.",
    "Work on the barrier is expected to begin next spring and to last three years, according to "
    "engineers who presented the final design to a crowded meeting in the town hall.",
    "The structure will rise eleven metres above the seabed and will close automatically when "
    "sensors on the outer breakwater detect a surge more than a metre above the normal tide.",
    "Shopkeepers on the quay, whose basements flooded twice last winter, cheered when the result "
    "was read out, while a small group of trawler owners walked out of the hall in protest.",
    "The fishermen fear that the narrow gate planned for the middle of the barrier will slow "
    "their boats at low water and push them to land their catch at rival ports along the coast.",
    "The board chairman promised that a second, wider gate would be studied before any contract "
    "is signed, and said the fishing fleet would be consulted at every stage of the building work.",
    "The project will cost about forty million pounds, most of it paid by a national coastal "
    "defence fund, with the remainder raised through a small levy on harbour dues for twenty "
    "years.",
    "Residents of the low streets behind the quay have waited since the great storm of the last "
    "decade for a defence that would let them insure their homes again at an ordinary price.",
    "An insurance broker in the high street said several companies had already written to ask "
    "for the construction timetable, which suggests premiums could fall once the barrier is built.",
    "Environmental groups asked the board to survey the seagrass beds inside the harbour, which "
    "shelter young fish and could be harmed by changes to the flow of water through the entrance.",
    "The board agreed to pay for a two year study of the beds and to publish the results, though "
    "it rejected a call to delay the start of the work until the study had been completed.",
    "A final vote on the contract is due in the autumn, after the public has had a chance to see "
    "the revised plans at an exhibition in the old customs house on the corner of the quay.",
]

HARBOUR_FOLLOW_UP = [
    "Two days after the vote, the trawler owners met in the back room of the harbour inn and "
    "agreed to hire a lawyer to examine whether the board had consulted them as the law requires.",
    "Their spokesman, who has fished from the port for forty years, said the fleet was not "
    "against a barrier but could not survive a gate that traps boats outside on every low tide.",
    "The lawyer is expected to write to the board within a fortnight, and the owners have not "
    "ruled out asking a court to stop the contract until a wider gate has been properly studied.",
]

TWELVE_WORDS = "Ferry services to the northern islands will resume on Monday after repairs."
ELEVEN_WORDS = "Ferry services to the northern islands resume on Monday after repairs."


class MemoryIndex:
    """A warehouse held in a list: what `SignatureIndex` promises, without Parquet."""

    def __init__(self, rows: Sequence[StoredSignature] = ()) -> None:
        self.rows = list(rows)

    def latest(self, article_ids: Sequence[str]) -> dict[str, StoredSignature]:
        found: dict[str, StoredSignature] = {}
        for row in self.rows:
            if row.article_id in article_ids:
                best = found.get(row.article_id)
                if best is None or row.version > best.version:
                    found[row.article_id] = row
        return found

    def by_body_hash(self, body_hashes: Sequence[str]) -> dict[str, StoredSignature]:
        found: dict[str, StoredSignature] = {}
        for row in self.rows:
            if row.body_hash in body_hashes:
                found.setdefault(row.body_hash, row)
        return found

    def by_bands(self, bands: Sequence[tuple[int, int]], limit: int) -> list[StoredSignature]:
        wanted = set(bands)
        return [
            row
            for row in self.rows
            if len(row.minhash) and wanted & set(enumerate(band_hashes(row.values()).tolist()))
        ]


def stored(result_rows: Sequence[StoredSignature], *extra: StoredSignature) -> MemoryIndex:
    return MemoryIndex([*result_rows, *extra])


def crafted(like: npt.NDArray[np.uint32], equal: Sequence[int]) -> bytes:
    """A MinHash signature that agrees with `like` exactly at the positions `equal`."""
    values = like.copy() ^ np.uint32(1)
    values[list(equal)] = like[list(equal)]
    return values.astype("<u4").tobytes()


def stored_story(url: str, minhash: bytes, shingles: int, **kw: object) -> StoredSignature:
    aid = article_id(url)
    fields: dict = {"cluster_id": aid, **kw}
    return StoredSignature(
        article_id=aid,
        version=1,
        source_id=url.split("/")[2],
        body_hash=aid,
        shingles=shingles,
        minhash=minhash,
        **fields,
    )


# ------------------------------------------------------------- signatures and their parts


def test_signature_of_a_fixed_text_never_changes() -> None:
    # Stored signatures meet new ones in later runs and later releases, so the shingle hashing,
    # the MinHash permutations and the band hashes are frozen: these values were recorded once.
    sig = sign(article("https://a.example/x", [HARBOUR[0]]))
    assert (sig.body_hash, sig.words, sig.shingles) == ("da85d953999f4e0f0e5971f9eade12fa", 32, 28)
    assert sig.values()[:6].tolist() == [
        10543164, 32139279, 121448490, 116021523, 128801769, 43423146
    ]
    assert hashlib.sha256(sig.minhash).hexdigest()[:24] == "5954aa93fa33b3cb34508c97"
    assert band_hashes(sig.values())[:3].tolist() == [
        -8121536242804070275, -6130059001914550284, -6732824974164052312
    ]
    assert minhash(shingle_hashes(normalized_words(HARBOUR[0]))).dtype == np.uint32


def test_a_body_without_words_has_an_empty_signature() -> None:
    sig = sign(article("https://a.example/x", ["— … —"]))
    assert (sig.words, sig.shingles, sig.minhash, sig.body_hash) == (0, 0, b"", "")
    hashes = shingle_hashes([])
    assert hashes.shape == (0,)
    assert hashes.dtype == np.uint64
    assert sign(article("https://a.example/x", [TWELVE_WORDS])).words == 12


@pytest.mark.parametrize(
    ("j", "size_a", "size_b", "expected"),
    [
        (0.5, 10, 20, 1.0),  # |A ∩ B| = 0.5 * 30 / 1.5 = 10: all of the smaller set
        (0.25, 10, 30, 0.8),  # |A ∩ B| = 0.25 * 40 / 1.25 = 8 of 10
        (1.0, 1, 1, 1.0),
        (0.5, 0, 20, 0.0),
        (0.5, 20, 0, 0.0),
    ],
)
def test_containment_is_the_share_of_the_smaller_set_found_in_the_other(
    j: float, size_a: int, size_b: int, expected: float
) -> None:
    assert containment(j, size_a, size_b) == pytest.approx(expected)


def test_a_dateline_counts_only_within_the_first_200_characters() -> None:
    dateline = "(Reuters) -"  # 11 characters
    assert wire_service((), "x" * 189 + dateline + " The vote.") == "Reuters"  # ends at 200
    assert wire_service((), "x" * 190 + dateline + " The vote.") is None  # ends at 201


# ------------------------------------------------------------------ the near-duplicate rules


def test_a_trimmed_wire_copy_is_kept_with_its_story_by_containment_alone() -> None:
    origin = article("https://harbour.example/barrier", HARBOUR)
    copy = article(  # four of the twelve paragraphs, under a dateline
        "https://wire.example/barrier",
        ["LONDON (Reuters) - " + HARBOUR[2], *HARBOUR[3:6]],
        hours=2,
    )
    s_origin, s_copy = sign(origin), sign(copy)
    j = jaccard(s_origin.values(), s_copy.values())
    assert 0.15 <= j < 0.3  # too little of the long story for the Jaccard rule ...
    assert containment(j, s_copy.shingles, s_origin.shingles) >= 0.75  # ... but contained in it
    assert (band_hashes(s_origin.values()) == band_hashes(s_copy.values())).any()  # a candidate
    decision = dedupe([origin, copy], EmptyIndex()).decisions[1]
    assert (decision.duplicate_kind, decision.duplicate_of) == ("near", article_id(origin.url))


def test_a_copy_keeping_five_of_eight_paragraphs_is_near_by_jaccard_alone() -> None:
    first = article("https://harbour.example/barrier", HARBOUR[:8])
    second = article(
        "https://coast.example/barrier-row", [*HARBOUR[:5], *HARBOUR_FOLLOW_UP], hours=30
    )
    s_first, s_second = sign(first), sign(second)
    j = jaccard(s_first.values(), s_second.values())
    assert 0.35 <= j <= 0.45
    assert containment(j, s_first.shingles, s_second.shingles) < 0.75  # not by containment
    decision = dedupe([first, second], EmptyIndex()).decisions[1]
    assert (decision.duplicate_kind, decision.duplicate_of) == ("near", article_id(first.url))


def test_twelve_words_are_enough_for_a_content_duplicate_and_eleven_are_not() -> None:
    twelve = [
        article("https://s0.example/x", [TWELVE_WORDS]),
        article("https://s1.example/x", [TWELVE_WORDS], hours=1),
        article("https://s2.example/x", [TWELVE_WORDS.replace("repairs", "the storm")], hours=2),
    ]
    assert [d.duplicate_kind for d in dedupe(twelve, EmptyIndex()).decisions] == [
        None,
        "exact",
        "near",
    ]
    eleven = [
        article("https://t0.example/x", [ELEVEN_WORDS]),
        article("https://t1.example/x", [ELEVEN_WORDS], hours=1),
    ]
    assert [d.duplicate_kind for d in dedupe(eleven, EmptyIndex()).decisions] == [None, None]
    first = dedupe(twelve[:1], EmptyIndex())
    later = dedupe(twelve[1:2], MemoryIndex(first.signatures)).decisions[0]
    assert (later.duplicate_kind, later.cluster_id) == ("exact", first.decisions[0].cluster_id)


def test_a_short_body_never_becomes_the_origin_of_a_longer_story() -> None:
    short = article("https://a.example/x", [ELEVEN_WORDS])
    longer = article(
        "https://b.example/y",
        [ELEVEN_WORDS, "Passengers are advised to check the timetable before travelling."],
        hours=1,
    )
    assert [d.duplicate_kind for d in dedupe([short, longer], EmptyIndex()).decisions] == [
        None,
        None,
    ]


def test_an_article_that_bridges_two_stories_joins_the_one_it_is_most_similar_to() -> None:
    a, b = story(38), story(39)
    batch = [
        article("https://a.example/x", a),
        article("https://b.example/x", b, hours=1),
        article("https://c.example/x", [*a, *b[:6]], hours=2),  # all of a, most of b
    ]
    bridge = dedupe(batch, EmptyIndex()).decisions[2]
    assert (bridge.duplicate_kind, bridge.cluster_id) == ("near", article_id(batch[0].url))


@pytest.mark.parametrize("bands_of_the_weak_candidate", [(0, 1), (1,)])
def test_a_weak_candidate_in_a_shared_band_does_not_hide_the_next_one(
    bands_of_the_weak_candidate: tuple[int, ...],
) -> None:
    new = sign(article("https://n.example/x", story(40)))
    values = new.values()
    # weak: agrees with the new article in whole bands only (3 rows each), far below any rule;
    # strong: agrees in all of band 1 and in two rows of every other band, so it shares band 1
    # only, and 85 of the 126 values.
    weak = [row for band in bands_of_the_weak_candidate for row in range(3 * band, 3 * band + 3)]
    strong = [i for i in range(126) if i % 3 != 2 or i // 3 == 1]
    index = MemoryIndex(
        [
            stored_story("https://weak.example/x", crafted(values, weak), new.shingles),
            stored_story("https://strong.example/x", crafted(values, strong), new.shingles),
        ]
    )
    (decision,) = decide([new], index).decisions
    assert decision.duplicate_kind == "near"
    assert decision.cluster_id == article_id("https://strong.example/x")
    assert decision.similarity == 0.8057  # containment from Jaccard 85/126, equal sizes: 170/211


@pytest.mark.parametrize(
    ("config", "size_ratio"),
    [
        (DedupConfig(jaccard=0.5, containment=1.01), 1),  # Jaccard exactly at its threshold
        (DedupConfig(jaccard=0.9, jaccard_floor=0.5, containment=0.6), 1),  # at the floor
        (DedupConfig(jaccard=0.9, jaccard_floor=0.1, containment=1.0), 2),  # containment 1.0
    ],
)
def test_every_threshold_is_reached_by_an_estimate_equal_to_it(
    config: DedupConfig, size_ratio: int
) -> None:
    new = sign(article("https://n.example/x", story(41)))
    half = range(63)  # 63 of 126 values agree: a Jaccard estimate of exactly 0.5
    other = stored_story(
        "https://o.example/x", crafted(new.values(), half), new.shingles * size_ratio
    )
    (decision,) = decide([new], MemoryIndex([other]), config=config).decisions
    assert (decision.duplicate_kind, decision.cluster_id) == ("near", other.article_id)


# ----------------------------------------------------------------- against what is stored


def test_a_refetch_of_a_stored_article_with_the_same_body_adds_nothing() -> None:
    url = "https://a.example/x"
    first = dedupe([article(url, story(31))], EmptyIndex())
    again = dedupe([article(url, story(31))], MemoryIndex(first.signatures))
    (decision,) = again.decisions
    origin = first.decisions[0]
    assert (decision.version, decision.cluster_id, decision.duplicate_of) == (
        1,
        origin.cluster_id,
        origin.article_id,
    )
    assert decision.duplicate_kind == "canonical_url"
    assert again.signatures == ()


def test_a_grown_body_at_a_stored_url_is_the_next_version_of_the_origin() -> None:
    url = "https://a.example/x"
    paras = story(32)
    first = dedupe([article(url, paras)], EmptyIndex())
    grown = dedupe(
        [article(url, [*paras, *story(33, paragraphs=4)], hours=1)], MemoryIndex(first.signatures)
    )
    (decision,) = grown.decisions
    assert (decision.version, decision.cluster_id, decision.duplicate_kind) == (
        2,
        first.decisions[0].cluster_id,
        None,
    )
    assert decision.similarity == 1.0
    # 1 - Jaccard: 8 of 12 paragraphs are the old ones (containment would call it no change)
    assert decision.version_change is not None
    assert 0.2 < decision.version_change < 0.5
    assert [row.version for row in grown.signatures] == [2]


def test_version_change_is_one_minus_the_jaccard_estimate_to_four_decimals() -> None:
    new = sign(article("https://a.example/x", story(42)))
    two_thirds = [i for i in range(126) if i % 3 != 2]  # 84 of 126 agree
    previous = stored_story("https://a.example/x", crafted(new.values(), two_thirds), new.shingles)
    (decision,) = decide([new], MemoryIndex([previous])).decisions
    assert decision.version == 2
    assert decision.version_change == 0.3333  # 1 - 84/126 = 1/3


def test_a_new_version_without_words_is_a_complete_change() -> None:
    url = "https://a.example/x"
    first = dedupe([article(url, story(35))], EmptyIndex())
    emptied = dedupe([article(url, ["— —"], hours=1)], MemoryIndex(first.signatures))
    (decision,) = emptied.decisions
    assert (decision.version, decision.version_change) == (2, 1.0)


def test_an_exact_member_s_grown_version_is_no_longer_exact() -> None:
    paras = story(13)
    first = dedupe(
        [
            article("https://wire.example/s", paras),
            article("https://paper.example/s", paras, hours=1),
        ],
        EmptyIndex(),
    )
    assert first.decisions[1].duplicate_kind == "exact"
    grown = [*paras, "Update: the council will meet again on Friday to vote on the amended plan."]
    second = dedupe(
        [article("https://paper.example/s", grown, hours=1)], MemoryIndex(first.signatures)
    )
    (decision,) = second.decisions
    assert decision.body_hash != first.decisions[0].body_hash
    assert decision.duplicate_kind == "near"  # its body no longer equals the origin's


def test_a_member_s_new_version_stays_a_near_duplicate_of_its_origin() -> None:
    paras = story(34)
    first = dedupe(
        [
            article("https://wire.example/s", paras),
            article("https://paper.example/s", republished(paras, 1), hours=1),
        ],
        EmptyIndex(),
    )
    origin_id = first.decisions[0].article_id
    assert first.decisions[1].duplicate_kind == "near"
    second = dedupe(
        [article("https://paper.example/s", republished(paras, 2), hours=1)],
        MemoryIndex(first.signatures),
    )
    (decision,) = second.decisions
    assert (decision.version, decision.cluster_id, decision.duplicate_of) == (
        2,
        origin_id,
        origin_id,
    )
    assert decision.duplicate_kind == "near"


def test_similarity_is_measured_against_the_origin_even_when_only_a_member_matched() -> None:
    new = sign(article("https://c.example/x", story(36)))
    values = new.values()
    apart = [i for i in range(126) if i % 3 != 2]  # two rows of every band: no band in common
    origin = stored_story("https://a.example/x", crafted(values, apart), new.shingles)
    member = stored_story(
        "https://b.example/x",
        new.minhash,
        new.shingles,
        cluster_id=origin.article_id,
        duplicate_of=origin.article_id,
        duplicate_kind="near",
        similarity=0.9,
    )
    index = MemoryIndex([origin, member])
    assert index.by_bands(list(enumerate(band_hashes(values).tolist())), 50) == [member]
    (decision,) = decide([new], index).decisions
    assert (decision.duplicate_kind, decision.cluster_id, decision.duplicate_of) == (
        "near",
        origin.article_id,
        origin.article_id,
    )
    assert decision.similarity == 0.8  # Jaccard 84/126 = 2/3, equal sizes: containment 0.8

    gone = decide([new], MemoryIndex([member])).decisions[0]  # the origin is no longer stored
    assert (gone.duplicate_kind, gone.cluster_id, gone.similarity) == (
        "near",
        origin.article_id,
        0.0,
    )


# --------------------------------------------------------------- what a decision carries


def test_each_copy_of_one_url_reports_its_own_body_hash_and_wire_service() -> None:
    canonical = "https://one.example/2026/story"
    page = article(canonical, story(37))
    amp = article(
        "https://one.example/amp/2026/story",
        [*story(37), "Read more."],
        credit=("Reporting by Reuters",),
        canonical=canonical,
    )
    page_d, amp_d = dedupe([page, amp], EmptyIndex()).decisions
    assert amp_d.duplicate_kind == "canonical_url"
    assert page_d.body_hash == sign(page).body_hash
    assert amp_d.body_hash == sign(amp).body_hash != page_d.body_hash
    assert (page_d.wire_service, amp_d.wire_service) == (None, "Reuters")


def test_published_rows_carry_the_decision() -> None:
    paras = story(43)
    batch = [
        article("https://wire.example/s", paras),
        article("https://paper.example/s", republished(paras, 4), hours=3),
    ]
    result = dedupe(batch, EmptyIndex())
    origin, copy = result.decisions
    assert origin.similarity == 1.0
    assert 0.5 < copy.similarity < 1.0
    _, row = result.signatures
    assert row.published_at == T0 + timedelta(hours=3)
    assert (row.duplicate_of, row.duplicate_kind, row.similarity) == (
        origin.article_id,
        "near",
        copy.similarity,
    )


def test_the_debug_summary_counts_each_kind_of_decision(caplog: pytest.LogCaptureFixture) -> None:
    old = story(44)
    first = dedupe([article("https://old.example/s", old)], EmptyIndex())
    paras = story(45)
    batch = [
        article("https://old.example/s", [*old, *story(46, paragraphs=2)]),  # a new version
        article("https://a.example/s", paras, hours=1),  # a new story
        article("https://e.example/s", story(47), hours=1),  # another new story
        article("https://b.example/s", paras, hours=2),  # exact
        article("https://c.example/s", republished(paras, 1), hours=3),  # near
        article("https://d.example/s", republished(paras, 2), hours=4),  # near
        article(
            "https://a.example/s?utm_source=x", paras, hours=5, canonical="https://a.example/s"
        ),
    ]
    caplog.set_level(logging.DEBUG, logger="tasks.dedupe")
    dedupe(batch, MemoryIndex(first.signatures))
    (summary,) = [r.getMessage() for r in caplog.records if r.name == "tasks.dedupe"]
    assert summary == (
        "Decided 7 articles: 2 new stories, 1 new versions, 1 exact, 2 near, "
        "1 canonical_url; 1 stored candidates"
    )


# ------------------------------------------------------------------- the order of decision


@pytest.mark.parametrize("page_first", [True, False])
def test_an_article_takes_its_place_in_the_order_from_its_earliest_copy(page_first: bool) -> None:
    canonical = "https://a.example/story"
    paras = story(47)
    page = article(canonical, paras, hours=5)
    amp = article("https://a.example/amp/story", paras, hours=1, canonical=canonical)
    copy = article("https://b.example/story", republished(paras, 5), hours=3)
    batch = [page, amp, copy] if page_first else [amp, page, copy]
    decisions = dedupe(batch, EmptyIndex()).decisions
    assert decisions[2].cluster_id == article_id(canonical)


@pytest.mark.parametrize("early_first", [True, False])
def test_of_two_copies_away_from_the_canonical_url_the_earlier_published_is_stored(
    early_first: bool,
) -> None:
    canonical = "https://a.example/story"
    # (the later copy has the smaller body hash, so no other part of the order hides this one)
    early = article(
        "https://a.example/amp/story",
        [*story(48), "Morning edition."],
        hours=1,
        canonical=canonical,
    )
    late = article(
        "https://a.example/print/story",
        [*story(48), "Evening edition."],
        hours=2,
        canonical=canonical,
    )
    assert sign(late).body_hash < sign(early).body_hash
    result = dedupe([early, late] if early_first else [late, early], EmptyIndex())
    assert [row.body_hash for row in result.signatures] == [sign(early).body_hash]


def test_a_copy_at_an_unreadable_url_never_stands_for_the_canonical_page() -> None:
    canonical = "https://a.example/story"
    page = article(canonical, story(49), hours=2)
    odd = article("https://", [*story(49), "Extra."], hours=1, canonical=canonical)
    result = dedupe([odd, page], EmptyIndex())
    assert [row.body_hash for row in result.signatures] == [sign(page).body_hash]


def test_an_exact_member_whose_new_body_is_its_origin_s_first_one_stays_exact() -> None:
    first_body, second_body = story(41), story(42)
    wire, paper = "https://wire.example/s", "https://paper.example/s"
    one = dedupe([article(wire, first_body)], EmptyIndex())
    # the wire story is rewritten, and the paper prints the rewrite word for word
    two = dedupe(
        [article(wire, second_body), article(paper, second_body, hours=1)],
        MemoryIndex([*one.signatures]),
    )
    assert [d.duplicate_kind for d in two.decisions] == [None, "exact"]
    # the paper then swaps in the wire's first text: still the origin's words exactly
    three = dedupe(
        [article(paper, first_body, hours=1)],
        MemoryIndex([*one.signatures, *two.signatures]),
    )
    (decision,) = three.decisions
    assert (decision.version, decision.duplicate_of) == (2, one.decisions[0].article_id)
    assert decision.similarity == 1.0  # measured against the origin's first version
    assert decision.duplicate_kind == "exact"
