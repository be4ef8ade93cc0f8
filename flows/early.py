"""Enrichment started before deduplication has decided: the CPU stages overlap the fetching.

Deduplication decides once every article of the run is in (`tasks.dedupe.decide` orders
them by publication time), but enrichment is most of a run's CPU and the worker processes
sit idle while pages are fetched. So as each batch is cleaned and signed, its articles that
look new go to the workers at once: no earlier article of the run, nor one before it in the
batch, shares its canonical URL or any of its MinHash band hashes (the LSH candidates that
near-duplicate detection verifies; an exact copy shares them all). Bodies too short to be
content duplicates (`min_shingles`) have no bands and look new unless their URL was seen.
Sharing a band is not being a copy, so this holds back more than the copies: what is held
back is enriched after the decision if it is a story after all.

The decision stays the only word on what is published: `EarlyEnrichment.take(stories)`
returns the early results of the decided stories only, matched on article id and body hash.
An article enriched early that the decision makes a copy (its origin came in a later batch,
or from the warehouse) is the cost of this guess; `wasted` counts them and the run logs it.
At most `in_flight` early batches wait or run at once: past that the run's articles stay
spilled on disk and are enriched after the decision, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from prefect.futures import PrefectFuture

from flows.stages import enrich_task
from tasks.dedupe import Signature, band_hashes
from tasks.frontier import chunks
from tasks.records import Article, Enrichment


@dataclass(slots=True)
class EarlyEnrichment:
    """The enrichment batches submitted while the run still fetches, and what they cover."""

    pool: Executor
    model: str
    batch: int  # articles per enrichment batch
    in_flight: int  # early batches submitted and not done, at most
    min_shingles: int
    seen_bands: set[tuple[int, int]] = field(default_factory=set)
    seen_urls: set[str] = field(default_factory=set)
    # Each early batch: its future and the (article id, body hash) of its articles.
    submitted: list[tuple[PrefectFuture[Enrichment], dict[str, str]]] = field(
        default_factory=list
    )
    wasted: int = 0  # articles enriched early that the decision did not make stories

    def offer(self, articles: Sequence[Article], signatures: Sequence[Signature]) -> None:
        """Submit the articles of a cleaned batch that look new; remember all of them."""
        fresh: list[tuple[str, Article]] = []
        hashes: dict[str, str] = {}
        for article, sig in zip(articles, signatures, strict=True):
            bands: set[tuple[int, int]] = set()
            if sig.shingles >= self.min_shingles:
                bands = set(enumerate(band_hashes(sig.values()).tolist()))
            known = sig.canonical_url in self.seen_urls or not self.seen_bands.isdisjoint(bands)
            self.seen_urls.add(sig.canonical_url)
            self.seen_bands |= bands
            if not known:
                fresh.append((sig.article_id, article))
                hashes[sig.article_id] = sig.body_hash
        for chunk in chunks(fresh, self.batch):
            if sum(not future.state.is_final() for future, _ in self.submitted) >= self.in_flight:
                break  # the workers are busy: the rest is enriched after the decision
            future = enrich_task.submit(chunk, self.model, self.pool)
            self.submitted.append((future, {aid: hashes[aid] for aid, _ in chunk}))

    def take(self, stories: Mapping[str, str]) -> tuple[list[tuple[Enrichment, int]], set[str]]:
        """The early results narrowed to the decided `stories` (article id -> body hash),
        each with its number of stories, and the ids of those stories; waits for the early
        batches still running. Call once."""
        results: list[tuple[Enrichment, int]] = []
        taken: set[str] = set()
        covered = 0
        for future, batch in self.submitted:
            found = future.result()
            ids = {aid for aid, body in batch.items() if stories.get(aid) == body}
            narrowed = Enrichment(
                mentions=tuple(m for m in found.mentions if m.article_id in ids),
                quotes=tuple(q for q in found.quotes if q.article_id in ids),
            )
            results.append((narrowed, len(ids)))
            taken |= ids
            covered += len(batch)
        self.wasted = covered - len(taken)
        self.submitted = []
        return results, taken
