"""Decide which discovered URLs to fetch: one entry per URL, caps per source, seen URLs out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from tasks.reasons import STAGE_FRONTIER, ReasonCode
from tasks.records import Discovered, Rejected
from tasks.urls import normalize_url

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Frontier:
    to_fetch: tuple[Discovered, ...]
    rejected: tuple[Rejected, ...]


def plan_frontier(
    discovered: Iterable[Discovered],
    *,
    seen: frozenset[str],
    caps: Mapping[str, int | None],
    max_articles: int | None = None,
    window: tuple[datetime, datetime] | None = None,
    refresh: frozenset[str] = frozenset(),
) -> Frontier:
    """Keep each URL once, drop what the warehouse holds, then apply the caps.

    `seen` holds normalised URLs already published as articles; those in `refresh` (their feed
    or sitemap says they changed since we fetched them) are fetched again. `caps` maps a
    source id to its `max_articles`; `max_articles` caps the whole run. With a `window`, items
    whose feed date (published, else modified) falls outside it are left for the run of their
    own date (backfills); undated items are kept by the first date that sees them.
    Every URL dropped here becomes a `Rejected` row with a reason.
    """
    to_fetch: list[Discovered] = []
    rejected: list[Rejected] = []
    first_seen: set[str] = set()
    per_source: Counter[str] = Counter()
    for item in discovered:
        key = item.url
        when = item.published_at or item.modified_at
        if window is not None and when is not None and not window[0] <= when < window[1]:
            rejected.append(_reject(item, "outside_window", f"dated {when.date().isoformat()}"))
            continue
        if key in first_seen:
            rejected.append(_reject(item, "duplicate_url", "listed more than once"))
            continue
        first_seen.add(key)
        normal = normalize_url(item.url)
        if normal in seen and normal not in refresh:
            rejected.append(_reject(item, "already_seen", "already in the warehouse"))
            continue
        cap = caps.get(item.source_id)
        if cap is not None and per_source[item.source_id] >= cap:
            rejected.append(_reject(item, "over_cap", f"source max_articles={cap}"))
            continue
        if max_articles is not None and len(to_fetch) >= max_articles:
            rejected.append(_reject(item, "over_cap", f"run max_articles={max_articles}"))
            continue
        per_source[item.source_id] += 1
        to_fetch.append(item)
    return Frontier(to_fetch=tuple(to_fetch), rejected=tuple(rejected))


def _reject(item: Discovered, reason: ReasonCode, detail: str) -> Rejected:
    return Rejected(
        source_id=item.source_id, url=item.url, stage=STAGE_FRONTIER, reason=reason, detail=detail
    )


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
