"""The frontier: each URL once, warehouse URLs out, caps, backfill windows; every drop a row."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

from tasks.frontier import Frontier, chunks, plan_frontier
from tasks.records import Discovered

DAY = datetime(2023, 10, 15, tzinfo=UTC)
WINDOW = (DAY, DAY + timedelta(days=1))


def item(path: str, source: str = "a", published_at: datetime | None = None) -> Discovered:
    return Discovered(
        url=f"https://{source}.example{path}",
        source_id=source,
        found_in=f"https://{source}.example/feed.xml",
        published_at=published_at,
    )


def plan(items: list[Discovered], **options: object) -> Frontier:
    options.setdefault("seen", frozenset())
    options.setdefault("caps", {})
    return plan_frontier(items, **options)  # type: ignore[arg-type]


def urls(items: tuple[Discovered, ...]) -> list[str]:
    return [i.url for i in items]


def reasons(frontier: Frontier) -> dict[str, str]:
    return {r.url: r.reason for r in frontier.rejected}


def accounted_for(items: list[Discovered], frontier: Frontier) -> Counter[str]:
    """How often each discovered URL ends up either to be fetched or rejected."""
    return Counter(urls(frontier.to_fetch)) + Counter(r.url for r in frontier.rejected)


def test_every_url_is_kept_once_in_discovery_order() -> None:
    items = [item("/1"), item("/2"), item("/3", source="b")]
    frontier = plan(items)
    assert frontier.to_fetch == tuple(items)
    assert frontier.rejected == ()


def test_second_listing_of_a_url_is_rejected_as_duplicate_url() -> None:
    first, again = item("/story"), item("/story")
    frontier = plan([first, item("/other"), again])
    assert urls(frontier.to_fetch) == [first.url, "https://a.example/other"]
    assert [(r.url, r.stage, r.reason) for r in frontier.rejected] == [
        (first.url, "frontier", "duplicate_url")
    ]


def test_url_listed_by_two_sources_is_fetched_for_the_first_and_rejected_for_the_second() -> None:
    first = item("/shared")
    second = Discovered(url=first.url, source_id="b", found_in="https://b.example/sitemap.xml")
    frontier = plan([first, second])
    assert [i.source_id for i in frontier.to_fetch] == ["a"]
    assert [(r.source_id, r.reason) for r in frontier.rejected] == [("b", "duplicate_url")]


def test_url_already_in_the_warehouse_is_rejected_as_already_seen() -> None:
    old, new = item("/old"), item("/new")
    frontier = plan([old, new], seen=frozenset({old.url}))
    assert urls(frontier.to_fetch) == [new.url]
    assert reasons(frontier) == {old.url: "already_seen"}


def test_seen_urls_are_matched_in_their_normal_spelling() -> None:
    """`seen` holds normalised URLs: a tracking-parameter spelling of a stored URL is seen."""
    tracked = Discovered(
        url="https://A.example/old?utm_source=rss",
        source_id="a",
        found_in="https://a.example/feed.xml",
    )
    frontier = plan([tracked], seen=frozenset({"https://a.example/old"}))
    assert frontier.to_fetch == ()
    assert reasons(frontier) == {tracked.url: "already_seen"}


def test_seen_url_whose_feed_says_it_changed_is_fetched_again() -> None:
    changed, unchanged = item("/changed"), item("/unchanged")
    frontier = plan(
        [changed, unchanged],
        seen=frozenset({changed.url, unchanged.url}),
        refresh=frozenset({changed.url}),
    )
    assert urls(frontier.to_fetch) == [changed.url]
    assert reasons(frontier) == {unchanged.url: "already_seen"}


def test_per_source_cap_rejects_the_rest_of_that_source_only() -> None:
    items = [item(f"/{n}") for n in range(4)] + [item(f"/{n}", source="b") for n in range(3)]
    frontier = plan(items, caps={"a": 2, "b": None})
    assert urls(frontier.to_fetch) == [
        "https://a.example/0",
        "https://a.example/1",
        "https://b.example/0",
        "https://b.example/1",
        "https://b.example/2",
    ]
    assert reasons(frontier) == {
        "https://a.example/2": "over_cap",
        "https://a.example/3": "over_cap",
    }
    assert all("source max_articles=2" in r.detail for r in frontier.rejected)


def test_run_cap_limits_the_whole_run_across_sources() -> None:
    items = [item("/1"), item("/1", source="b"), item("/2"), item("/2", source="b")]
    frontier = plan(items, max_articles=3)
    assert urls(frontier.to_fetch) == urls(tuple(items[:3]))
    assert reasons(frontier) == {items[3].url: "over_cap"}
    assert "run max_articles=3" in frontier.rejected[0].detail


def test_rejected_urls_do_not_count_against_the_caps() -> None:
    """Duplicates and seen URLs leave room for the next new URL of the source."""
    items = [item("/seen"), item("/1"), item("/1"), item("/2"), item("/3")]
    frontier = plan(
        items, seen=frozenset({"https://a.example/seen"}), caps={"a": 2}, max_articles=5
    )
    assert urls(frontier.to_fetch) == ["https://a.example/1", "https://a.example/2"]
    assert sorted(reasons(frontier).items()) == [
        ("https://a.example/1", "duplicate_url"),
        ("https://a.example/3", "over_cap"),
        ("https://a.example/seen", "already_seen"),
    ]


def test_window_keeps_items_dated_inside_it_and_undated_items() -> None:
    inside = item("/inside", published_at=DAY + timedelta(hours=23, minutes=59))
    at_start = item("/start", published_at=DAY)
    undated = item("/undated")
    frontier = plan([inside, at_start, undated], window=WINDOW)
    assert urls(frontier.to_fetch) == [inside.url, at_start.url, undated.url]


def test_window_leaves_items_dated_outside_it_unfetched() -> None:
    before = item("/before", published_at=DAY - timedelta(seconds=1))
    at_end = item("/end", published_at=WINDOW[1])
    inside = item("/inside", published_at=DAY + timedelta(hours=6))
    frontier = plan([before, at_end, inside], window=WINDOW)
    assert urls(frontier.to_fetch) == [inside.url]


def test_window_falls_back_to_the_modified_date() -> None:
    modified_before = Discovered(
        url="https://a.example/old",
        source_id="a",
        found_in="https://a.example/sitemap.xml",
        modified_at=DAY - timedelta(days=1),
    )
    modified_inside = Discovered(
        url="https://a.example/new",
        source_id="a",
        found_in="https://a.example/sitemap.xml",
        modified_at=DAY + timedelta(hours=1),
    )
    frontier = plan([modified_before, modified_inside], window=WINDOW)
    assert urls(frontier.to_fetch) == [modified_inside.url]


def test_window_compares_instants_not_wall_clock_times() -> None:
    """An item at 01:00+02:00 on the 16th is 23:00 UTC on the 15th: inside the UTC window."""
    late = datetime(2023, 10, 16, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    shifted = item("/late", published_at=late)
    frontier = plan([shifted], window=WINDOW)
    assert urls(frontier.to_fetch) == [shifted.url]


def test_items_outside_the_window_do_not_use_up_the_caps() -> None:
    items = [item("/old", published_at=DAY - timedelta(days=3)), item("/1"), item("/2")]
    frontier = plan(items, caps={"a": 2}, window=WINDOW)
    assert urls(frontier.to_fetch) == ["https://a.example/1", "https://a.example/2"]


def test_every_url_kept_or_rejected_exactly_once_without_a_window() -> None:
    items = [
        item("/1"),
        item("/1"),
        item("/1", source="b"),
        item("/seen"),
        item("/2"),
        item("/3"),
        item("/4", source="b"),
        item("/5", source="b"),
    ]
    frontier = plan(
        items, seen=frozenset({"https://a.example/seen"}), caps={"a": 2}, max_articles=3
    )
    assert len(frontier.to_fetch) + len(frontier.rejected) == len(items)
    assert accounted_for(items, frontier) == Counter(i.url for i in items)
    assert {r.stage for r in frontier.rejected} == {"frontier"}
    assert {r.reason for r in frontier.rejected} <= {
        "duplicate_url",
        "already_seen",
        "over_cap",
        "outside_window",
    }


def test_every_url_dropped_by_the_window_is_a_rejected_row() -> None:
    items = [item("/old", published_at=DAY - timedelta(days=2)), item("/today")]
    frontier = plan(items, window=WINDOW)
    assert len(frontier.to_fetch) + len(frontier.rejected) == len(items)
    assert [r.url for r in frontier.rejected] == ["https://a.example/old"]


def test_chunks_cover_the_frontier_in_order_without_overlap() -> None:
    items = [item(f"/{n}") for n in range(7)]
    parts = list(chunks(items, 3))
    assert [len(p) for p in parts] == [3, 3, 1]
    assert [i for part in parts for i in part] == items
