"""The closed set of reason codes a URL can end with, outside the `articles` table.

Fetch reasons (`tasks.fetch.REASONS`) are shared by `fetch_log` and `rejected`; the frontier
and extraction add their own. The data checks hold both tables to this set.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from tasks.fetch import REASONS as FETCH_REASONS

FRONTIER_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "duplicate_url": "the URL was already listed in this run (by this or another source)",
        "already_seen": "the URL is already in the warehouse as an article",
        "over_cap": "beyond the source's or the run's max_articles",
        "outside_window": "a backfill date's run left it to the run of the date it carries",
    }
)

EXTRACT_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "not_article": "not an article; detail says which kind (index_page, video_only, "
        "javascript_shell, error_page, empty_body)",
        "paywall": "only a teaser is readable: the story is behind a paywall",
        "parse_error": "the bytes hold no HTML document",
    }
)

DEDUPE_REASONS: Mapping[str, str] = MappingProxyType(
    {"unchanged": "fetched again because its feed said it changed, but the body is the same"}
)

ALL_REASONS: Mapping[str, str] = MappingProxyType(
    {**FETCH_REASONS, **FRONTIER_REASONS, **EXTRACT_REASONS, **DEDUPE_REASONS}
)
