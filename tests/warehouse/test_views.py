"""The analytic views answer one row per thing they name, whatever URL variants a story has."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tasks.records import Article, DedupDecision, FetchLogEntry, Mention, Quote, Rejected
from warehouse.convert import article_rows, keyword_rows, to_table
from warehouse.lake import catalog_path
from warehouse.publish import Publication

DAY = date(2026, 11, 27)
T0 = datetime(2026, 11, 27, 6, tzinfo=UTC)
STORY = "https://daily.test/world/summit"


def _article(url: str, body: str, minutes: int = 0) -> Article:
    return Article(
        source_id="daily",
        url=url,
        final_url=url,
        canonical_url=STORY if url.startswith(STORY) else url,
        title=f"Title of {url}",
        body=body,
        fetched_at=T0 + timedelta(minutes=minutes),
        published_at=T0 - timedelta(hours=1) + timedelta(minutes=minutes),
    )


def _decision(article_id: str, duplicate_of: str | None, kind: str | None) -> DedupDecision:
    return DedupDecision(
        article_id=article_id,
        version=1,
        cluster_id=duplicate_of or article_id,
        duplicate_of=duplicate_of,
        duplicate_kind=kind,
        similarity=1.0 if duplicate_of is None else 0.9,
        body_hash=f"h-{article_id}",
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """One story fetched under its own URL and two tracking/AMP variants, and a wire copy."""
    story = _article(STORY, "The summit opened.")
    tracking = _article(STORY + "?utm_source=x", "The summit opened.", 1)
    amp = _article(STORY + "/amp", "The summit opened.", 2)
    wire = _article("https://metro.test/summit-copy", "The summit opened today.", 3)
    decisions = [
        _decision("story", None, None),
        _decision("story", "story", "canonical_url"),
        _decision("story", "story", "canonical_url"),
        _decision("wire", "story", "near"),
    ]
    with Publication(tmp_path, DAY, "ingest-1") as publication:
        publication.write(
            "articles", article_rows([story, tracking, amp, wire], decisions, "ingest-1@d")
        )
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    yield con
    con.close()


def test_duplicates_has_one_row_per_copy_url(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT url, duplicate_kind, original_url FROM duplicates ORDER BY url"
    ).fetchall()
    assert rows == [
        ("https://daily.test/world/summit/amp", "canonical_url", STORY),
        ("https://daily.test/world/summit?utm_source=x", "canonical_url", STORY),
        ("https://metro.test/summit-copy", "near", STORY),
    ]


def test_a_copy_is_never_listed_as_its_own_original(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    same = warehouse.execute("SELECT count(*) FROM duplicates WHERE url = original_url")
    assert same.fetchone() == (0,)


def test_articles_has_only_the_story_itself(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert warehouse.execute("SELECT url FROM articles").fetchall() == [(STORY,)]


def test_a_cluster_counts_each_member_url_once(warehouse: duckdb.DuckDBPyConnection) -> None:
    row = warehouse.execute(
        "SELECT origin_url, members, duplicates, sources FROM clusters"
    ).fetchall()
    assert row == [(STORY, 4, 3, 1)]


# ---------------------------------------------------------------- two nights of one warehouse
#
# Night 1 (2026-11-27): daily stores story A (version 1); metro stores B, a wire copy of A.
# Night 2 (2026-11-28): daily stores A again with a changed body (version 2) and a tracking-URL
# copy of A; metro stores B again (a better similarity) and a new story C. A source that only
# had URLs rejected, and one that only fetched robots.txt, have rows in no article table.

NIGHT_1 = date(2026, 11, 27)
NIGHT_2 = date(2026, 11, 28)
SCOPE = "ingest-1"
A_URL = "https://daily.test/a"
A_TRACKING = "https://daily.test/a?utm_source=x"
B_URL = "https://metro.test/b"
C_URL = "https://metro.test/c"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _story(source: str, url: str, title: str, body: str, fetched: datetime) -> Article:
    return Article(
        source_id=source,
        url=url,
        final_url=url,
        canonical_url=A_URL if url.startswith(A_URL) else url,
        title=title,
        body=body,
        fetched_at=fetched,
        published_at=_at(NIGHT_1, 5) if url.startswith(A_URL) else fetched - timedelta(hours=1),
        credit_lines=("(Reuters)",) if source == "metro" and url == B_URL else (),
        keyword_entries=((title, "article_tag", None), (body.split()[0], "computed", 0.125)),
    )


def _placed(
    article_id: str,
    version: int,
    cluster: str,
    duplicate_of: str | None = None,
    kind: str | None = None,
    similarity: float = 1.0,
    wire: str | None = None,
) -> DedupDecision:
    return DedupDecision(
        article_id=article_id,
        version=version,
        cluster_id=cluster,
        duplicate_of=duplicate_of,
        duplicate_kind=kind,
        similarity=similarity,
        body_hash=f"{article_id}-{version}-{similarity}",
        wire_service=wire,
    )


def _night(
    data_dir: Path,
    day: date,
    stored: list[tuple[Article, DedupDecision]],
    mentions: list[Mention],
    quotes: list[Quote],
    fetches: list[FetchLogEntry],
    rejected: list[Rejected],
    scope: str = SCOPE,
) -> None:
    run_id = f"{scope}@{day.isoformat()}"
    source_of = {d.article_id: a.source_id for a, d in stored}
    with Publication(data_dir, day, scope) as publication:
        publication.write(
            "articles",
            article_rows([a for a, _ in stored], [d for _, d in stored], run_id),
        )
        publication.write(
            "mentions", to_table("mentions", mentions, run_id=run_id, source_of=source_of)
        )
        publication.write("quotes", to_table("quotes", quotes, run_id=run_id, source_of=source_of))
        publication.write("keywords", keyword_rows(stored, run_id))
        publication.write("fetch_log", to_table("fetch_log", fetches, run_id=run_id))
        publication.write("rejected", to_table("rejected", rejected, run_id=run_id))
        run = {
            "run_id": run_id,
            "flow": "nightly-ingest",
            "scope": scope,
            "started_at": _at(day, 5),
            "finished_at": _at(day, 7),
            "status": "completed",
        }
        publication.write("runs", to_table("runs", [run]))
        signatures = [
            {
                "run_id": run_id,
                "source_id": a.source_id,
                "article_id": d.article_id,
                "version": d.version,
                "band": 0,
                "band_hash": n,
            }
            for n, (a, d) in enumerate(stored)
        ]
        publication.write("dedup_signatures", to_table("dedup_signatures", signatures))


def _quote(article_id: str, body: str, text: str, speaker: str) -> Quote:
    start = body.index(text) - 1  # the offsets include the quotation marks
    return Quote(article_id, text, speaker, start, start + len(text) + 2, cue="said")


def _fetch(source: str, url: str, when: datetime, purpose: str = "article") -> FetchLogEntry:
    return FetchLogEntry(source, url, url, 200, "ok", 1, 100, 5, when, purpose=purpose)


@pytest.fixture
def two_nights(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    a1 = "Ann Lee opened the summit. “We begin,” she said."
    a2 = "Ann Lee and Bo Kim opened the summit. “Talks start now,” Kim said."
    c1 = "Cy Park presented the budget."
    _night(
        tmp_path,
        NIGHT_1,
        [
            (_story("daily", A_URL, "Summit opens", a1, _at(NIGHT_1, 6)), _placed("A", 1, "A")),
            (
                _story("metro", B_URL, "Summit (wire)", a1, _at(NIGHT_1, 6, 5)),
                _placed("B", 1, "A", "A", "near", 0.5, "Reuters"),
            ),
        ],
        [Mention("A", "Ann Lee", "PERSON", 0, 7)],
        [_quote("A", a1, "We begin,", "Ann Lee")],
        [
            _fetch("daily", "https://daily.test/feed", _at(NIGHT_1, 5, 59), "feed"),
            _fetch("daily", A_URL, _at(NIGHT_1, 6)),
            _fetch("metro", B_URL, _at(NIGHT_1, 6, 5)),
        ],
        [
            Rejected("daily", "https://daily.test/about", "extract", "not_article"),
            Rejected("quiet", "https://quiet.test/x", "fetch", "http_404"),
            Rejected("quiet", "https://quiet.test/y", "fetch", "http_404"),
        ],
    )
    _night(
        tmp_path,
        NIGHT_2,
        [
            (
                _story("daily", A_URL, "Summit opens, talks begin", a2, _at(NIGHT_2, 6)),
                _placed("A", 2, "A"),
            ),
            (
                _story("daily", A_TRACKING, "Summit opens, talks begin", a2, _at(NIGHT_2, 6, 1)),
                _placed("A", 1, "A", "A", "canonical_url"),
            ),
            (
                _story("metro", B_URL, "Summit (wire)", a2, _at(NIGHT_2, 6, 5)),
                _placed("B", 1, "A", "A", "near", 0.75, "Reuters"),
            ),
            (
                _story("metro", C_URL, "Budget day", c1, _at(NIGHT_2, 6, 10)),
                _placed("C", 1, "C"),
            ),
        ],
        [
            Mention("A", "Ann Lee", "PERSON", 0, 7),
            Mention("A", "Bo Kim", "PERSON", 12, 18),
            Mention("C", "Cy Park", "PERSON", 0, 7),
        ],
        [_quote("A", a2, "Talks start now,", "Bo Kim")],
        [
            _fetch("daily", A_URL, _at(NIGHT_2, 6)),
            _fetch("daily", A_TRACKING, _at(NIGHT_2, 6, 1)),
            _fetch("metro", B_URL, _at(NIGHT_2, 6, 5)),
            _fetch("metro", C_URL, _at(NIGHT_2, 6, 10)),
            _fetch("robots-only", "https://robots.test/robots.txt", _at(NIGHT_2, 5), "robots"),
        ],
        [Rejected("quiet", "https://quiet.test/z", "fetch", "http_404")],
    )
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


def test_the_version_stored_last_is_the_latest(two_nights: duckdb.DuckDBPyConnection) -> None:
    rows = _rows(
        two_nights,
        "SELECT url, version, run_date, is_latest FROM article_versions "
        "WHERE article_id = 'A' ORDER BY url, version",
    )
    assert rows == [
        (A_URL, 1, NIGHT_1, False),
        (A_URL, 2, NIGHT_2, True),
        (A_TRACKING, 1, NIGHT_2, True),  # the copy has a history of its own
    ]


def test_a_copy_stored_again_counts_once_as_its_later_storage(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        two_nights,
        "SELECT run_date, similarity, is_latest FROM article_versions "
        "WHERE article_id = 'B' ORDER BY run_date",
    )
    assert rows == [(NIGHT_1, 0.5, False), (NIGHT_2, 0.75, True)]


def test_articles_are_the_latest_version_of_each_story(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(two_nights, "SELECT article_id, version, title, url FROM articles ORDER BY 1")
    assert rows == [
        ("A", 2, "Summit opens, talks begin", A_URL),
        ("C", 1, "Budget day", C_URL),
    ]


def test_a_story_fetched_under_another_url_the_next_night_is_one_article(
    tmp_path: Path,
) -> None:
    for day, url, version in ((NIGHT_1, A_TRACKING, 1), (NIGHT_2, A_URL, 2)):
        story = _story("daily", url, f"Version {version}", "The summit opened.", _at(day, 6))
        _night(tmp_path, day, [(story, _placed("A", version, "A"))], [], [], [], [])
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    try:
        assert _rows(con, "SELECT url, version FROM articles") == [(A_URL, 2)]
    finally:
        con.close()


def test_articles_leave_out_the_duplicate_bookkeeping(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    columns = {row[0] for row in _rows(two_nights, "DESCRIBE articles")}
    assert {"article_id", "version", "cluster_id", "similarity", "run_date"} <= columns
    assert not {"is_latest", "duplicate_of", "duplicate_kind"} & columns


def test_a_copy_stands_beside_its_originals_latest_version(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        two_nights,
        "SELECT url, duplicate_of, duplicate_kind, similarity, original_url, original_title, "
        "original_source_id, source_id, run_date FROM duplicates ORDER BY url",
    )
    assert rows == [
        (
            A_TRACKING,
            "A",
            "canonical_url",
            1.0,
            A_URL,
            "Summit opens, talks begin",
            "daily",
            "daily",
            NIGHT_2,
        ),
        (B_URL, "A", "near", 0.75, A_URL, "Summit opens, talks begin", "daily", "metro", NIGHT_2),
    ]


def test_a_cluster_names_its_story_as_origin_and_counts_its_latest_members(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        two_nights,
        "SELECT cluster_id, origin_id, origin_url, origin_source_id, first_published_at, "
        "wire_service, members, duplicates, sources, min_similarity, article_ids "
        "FROM clusters ORDER BY cluster_id",
    )
    assert rows == [
        # B says it was published at 05:05 on night 2, after A (05:00 on night 1).
        ("A", "A", A_URL, "daily", _at(NIGHT_1, 5), "Reuters", 3, 2, 2, 0.75, ["A", "A", "B"]),
        ("C", "C", C_URL, "metro", _at(NIGHT_2, 5, 10), None, 1, 0, 1, 1.0, ["C"]),
    ]


def test_mentions_and_quotes_are_those_of_the_latest_version(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    mentions = _rows(
        two_nights, "SELECT article_id, text, run_date FROM mentions ORDER BY article_id, text"
    )
    assert mentions == [
        ("A", "Ann Lee", NIGHT_2),
        ("A", "Bo Kim", NIGHT_2),
        ("C", "Cy Park", NIGHT_2),
    ]
    quotes = _rows(two_nights, "SELECT article_id, text, speaker FROM quotes")
    assert quotes == [("A", "Talks start now,", "Bo Kim")]


def test_keywords_are_those_of_the_latest_version_of_each_story(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        two_nights,
        "SELECT article_id, source_id, keyword, normalised, source, score, run_date "
        "FROM keywords ORDER BY article_id, source",
    )
    assert rows == [
        ("A", "daily", "Summit opens, talks begin", "summit opens, talks begin", "article_tag",
         None, NIGHT_2),
        ("A", "daily", "Ann", "ann", "computed", 0.125, NIGHT_2),
        ("C", "metro", "Budget day", "budget day", "article_tag", None, NIGHT_2),
        ("C", "metro", "Cy", "cy", "computed", 0.125, NIGHT_2),
    ]  # fmt: skip


def test_source_stats_count_each_source_once_per_story(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        two_nights,
        "SELECT source_id, articles, duplicates, rejected, fetches, last_fetched_at "
        "FROM source_stats ORDER BY source_id",
    )
    assert rows == [
        ("daily", 1, 1, 1, 4, _at(NIGHT_2, 6, 1)),
        ("metro", 1, 1, 0, 3, _at(NIGHT_2, 6, 10)),
        ("quiet", 0, 0, 3, 0, None),
        ("robots-only", 0, 0, 0, 1, _at(NIGHT_2, 5)),
    ]


def test_the_plain_views_show_every_stored_row(two_nights: duckdb.DuckDBPyConnection) -> None:
    counts = {
        view: _rows(two_nights, f"SELECT count(*) FROM {view}")[0][0]
        for view in ("fetch_log", "rejected", "runs", "dedup_signatures")
    }
    assert counts == {"fetch_log": 8, "rejected": 4, "runs": 2, "dedup_signatures": 6}


def test_the_catalog_offers_the_views_the_readme_names(
    two_nights: duckdb.DuckDBPyConnection,
) -> None:
    names = {row[0] for row in _rows(two_nights, "SELECT view_name FROM duckdb_views()")}
    assert {
        "articles",
        "duplicates",
        "article_versions",
        "clusters",
        "mentions",
        "quotes",
        "keywords",
        "fetch_log",
        "rejected",
        "runs",
        "source_stats",
        "dedup_signatures",
        "catalog_info",
    } <= names


# ---------------------------------------------------------------- a syndicated story
#
# Night 1: daily stores story W, metro a Reuters copy; a backfill run of the same date stores
# W again (same body, so the same version) with a new headline, fetched three hours later.
# Night 2: weekly stores a Reuters copy that claims an earlier publication than W, herald an
# AP-credited copy and a copy of a story that was never stored. Weekly fetched nothing itself
# (its rows came from a reprocess) and rejected nothing.

W_URL = "https://daily.test/w"


def _copy(
    source: str,
    url: str,
    of: str,
    published: datetime,
    fetched: datetime,
    similarity: float,
    wire: str | None,
) -> tuple[Article, DedupDecision]:
    article = Article(
        source_id=source,
        url=url,
        final_url=url,
        canonical_url=url,
        title=f"Copy at {url}",
        body="A storm hit the coast.",
        fetched_at=fetched,
        published_at=published,
    )
    article_id = url.rsplit("/", 1)[1].upper()
    return article, _placed(article_id, 1, of, of, "near", similarity, wire)


def _w(title: str, fetched: datetime) -> tuple[Article, DedupDecision]:
    article = Article(
        source_id="daily",
        url=W_URL,
        final_url=W_URL,
        canonical_url=W_URL,
        title=title,
        body="Ann Lee said a storm hit the coast. Bo Kim agreed.",
        fetched_at=fetched,
        published_at=_at(NIGHT_1, 5),
    )
    return article, _placed("W", 1, "W")


@pytest.fixture
def syndicated(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    body = "Ann Lee said a storm hit the coast. Bo Kim agreed."
    x1 = _copy(
        "metro",
        "https://metro.test/x1",
        "W",
        _at(NIGHT_1, 5, 30),
        _at(NIGHT_1, 6, 5),
        0.875,
        "Reuters",
    )
    _night(
        tmp_path,
        NIGHT_1,
        [_w("Storm hits", _at(NIGHT_1, 6)), x1],
        [Mention("W", "Ann Lee", "PERSON", 0, 7)],
        [Quote("W", "a storm hit", "Ann Lee", 13, 24, kind="partial")],
        [_fetch("daily", W_URL, _at(NIGHT_1, 6)), _fetch("metro", x1[0].url, _at(NIGHT_1, 6, 5))],
        [],
    )
    _night(
        tmp_path,
        NIGHT_1,
        [_w("Storm hits, updated headline", _at(NIGHT_1, 9))],
        [Mention("W", "Bo Kim", "PERSON", body.index("Bo Kim"), body.index("Bo Kim") + 6)],
        [Quote("W", "a storm hit the coast", "Ann Lee", 13, 34, kind="partial")],
        [_fetch("daily", W_URL, _at(NIGHT_1, 9))],
        [],
        scope="backfill-1",
    )
    herald = "https://herald.test"
    _night(
        tmp_path,
        NIGHT_2,
        [
            _copy(
                "weekly",
                "https://weekly.test/x2",
                "W",
                _at(NIGHT_1, 4),
                _at(NIGHT_2, 6),
                0.75,
                "Reuters",
            ),
            _copy("herald", f"{herald}/x3", "W", _at(NIGHT_1, 6), _at(NIGHT_2, 6, 5), 0.625, "AP"),
            _copy("herald", f"{herald}/y", "GONE", _at(NIGHT_2, 5), _at(NIGHT_2, 6, 6), 1.0, None),
        ],
        [],
        [],
        [_fetch("herald", f"{herald}/x3", _at(NIGHT_2, 6, 5))],
        [],
    )
    con = duckdb.connect(str(catalog_path(tmp_path)), read_only=True)
    yield con
    con.close()


def test_of_one_version_stored_twice_on_a_date_the_later_fetch_counts(
    syndicated: duckdb.DuckDBPyConnection,
) -> None:
    assert _rows(syndicated, "SELECT title, run_id FROM articles") == [
        ("Storm hits, updated headline", "backfill-1@2026-11-27")
    ]


def test_mentions_and_quotes_follow_the_run_whose_version_counts(
    syndicated: duckdb.DuckDBPyConnection,
) -> None:
    assert _rows(syndicated, "SELECT text, run_id FROM mentions") == [
        ("Bo Kim", "backfill-1@2026-11-27")
    ]
    assert _rows(syndicated, "SELECT text, speaker FROM quotes") == [
        ("a storm hit the coast", "Ann Lee")
    ]


def test_a_later_copy_that_claims_an_earlier_time_does_not_become_the_origin(
    syndicated: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        syndicated,
        "SELECT origin_id, origin_url, origin_source_id, first_published_at, wire_service, "
        "members, duplicates, sources, min_similarity, article_ids "
        "FROM clusters WHERE cluster_id = 'W'",
    )
    # Two of the three copies credit Reuters, one AP.
    assert rows == [
        ("W", W_URL, "daily", _at(NIGHT_1, 4), "Reuters", 4, 3, 4, 0.625, ["W", "X1", "X2", "X3"])
    ]


def test_each_copy_is_listed_with_its_own_run_and_its_original_if_stored(
    syndicated: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        syndicated,
        "SELECT article_id, run_date, original_url, original_title FROM duplicates ORDER BY 1",
    )
    assert rows == [
        ("X1", NIGHT_1, W_URL, "Storm hits, updated headline"),
        ("X2", NIGHT_2, W_URL, "Storm hits, updated headline"),
        ("X3", NIGHT_2, W_URL, "Storm hits, updated headline"),
        ("Y", NIGHT_2, None, None),  # its story was never stored
    ]


def test_a_source_known_only_by_its_articles_has_stats(
    syndicated: duckdb.DuckDBPyConnection,
) -> None:
    rows = _rows(
        syndicated,
        "SELECT source_id, articles, duplicates, rejected, fetches, last_fetched_at "
        "FROM source_stats ORDER BY source_id",
    )
    assert rows == [
        ("daily", 1, 0, 0, 2, _at(NIGHT_1, 9)),
        ("herald", 0, 2, 0, 1, _at(NIGHT_2, 6, 5)),
        ("metro", 0, 1, 0, 1, _at(NIGHT_1, 6, 5)),
        ("weekly", 0, 1, 0, 0, None),
    ]
