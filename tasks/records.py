"""The frozen records that pass between stages.

One record per stage boundary. Field names match the columns of the table each record
lands in (`warehouse/schema.py`); `tests/warehouse/test_schema.py` holds them together.
Times are timezone-aware `datetime`s in UTC unless a field says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from tasks.reasons import ReasonCode, Stage

SourceKind = Literal["feed", "sitemap", "urls", "section", "site", "warc"]
# What named a discovered URL, and so where its metadata (title, dates ...) came from.
FoundBy = Literal["feed", "sitemap", "news_sitemap", "list", "section"]
# Where a keyword of an article came from (`tasks.keywords`): the publisher's places, or
# `computed` for key phrases of its text.
KeywordSource = Literal[
    "news_sitemap",
    "meta_keywords",
    "news_keywords",
    "article_tag",
    "jsonld_keywords",
    "jsonld_about",
    "feed_category",
    "computed",
]
# (keyword as written, where from, score): what extraction finds, before the article has an id.
KeywordEntry = tuple[str, KeywordSource, float | None]
DEFAULT_MAX_PAGES = 5  # pages of a section (its first page and the next ones) read per run
# Source health (`source_health` view): a source with no stored article for this many days is
# silent; one whose share of not_article pages and short bodies rises by this much over its
# own recent history has drifted (e.g. a template change broke extraction).
DEFAULT_SILENT_AFTER_DAYS = 3
DEFAULT_DRIFT_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Selectors:
    """Per-source CSS selectors that take precedence over the generic extractor."""

    body: str | None = None
    title: str | None = None
    authors: str | None = None
    published: str | None = None
    drop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """One entry of a sources file (`seeds/sources.toml`).

    `location` is the feed or sitemap (`feed`, `sitemap`), the section page (`section`) or
    the home page (`site`). `links`, `next` and `max_pages` say how a section page, or a
    home page read as one, is read (`tasks.sections`): the links to take (a CSS selector,
    narrowing the generic choice), the link to the next page, and how many pages at most.
    `silent_after_days` and `drift_share` are the source's health thresholds (`flows.health`).

    A `warc` source reads archived captures (`tasks.archive`): `location` is a file, folder,
    glob, WARC URL or paths listing (`base_url` resolves a listing's paths); `publishers`,
    `url_patterns`, `warc_since`/`warc_until` and `languages` filter what it keeps.
    """

    id: str
    kind: SourceKind
    location: str | None = None
    urls: tuple[str, ...] = ()
    name: str = ""
    enabled: bool = True
    max_articles: int | None = None
    language: str | None = None
    crawl_delay: float | None = None
    selectors: Selectors = field(default_factory=Selectors)
    links: str | None = None
    next: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES
    timezone: str | None = None  # IANA zone of the publisher's local times ("Europe/Berlin")
    silent_after_days: int = DEFAULT_SILENT_AFTER_DAYS
    drift_share: float = DEFAULT_DRIFT_SHARE
    base_url: str | None = None
    publishers: tuple[str, ...] = ()
    url_patterns: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    warc_since: datetime | None = None
    warc_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunContext:
    """Who is running and for which logical date; passed down, never read from a clock."""

    run_id: str
    run_date: date
    started_at: datetime
    scope: str  # deterministic name of this run's files within a run_date partition


@dataclass(frozen=True, slots=True)
class Discovered:
    """A URL found by discovery, with what the feed or sitemap said about it.

    `found_by` says what kind of document that was, so that extraction can name where a
    title or date it falls back on came from (`news_sitemap` for a Google News sitemap).
    `language`, `keywords` and `publication` are a Google News sitemap's `news:language`,
    `news:keywords` and `news:publication/name`; `categories` a feed item's `<category>`s.
    """

    url: str
    source_id: str
    found_in: str  # the feed, sitemap, section page or list that named the URL
    title: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    authors: tuple[str, ...] = ()
    found_by: FoundBy = "feed"
    language: str | None = None
    keywords: tuple[str, ...] = ()
    publication: str | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchLogEntry:
    """One fetch attempt sequence for one URL: a `fetch_log` row."""

    source_id: str
    url: str
    final_url: str | None
    status: int | None
    reason: ReasonCode  # closed set: tasks.reasons (`FETCH_LOG_REASONS`)
    attempts: int
    bytes: int
    elapsed_ms: int
    fetched_at: datetime
    content_type: str | None = None
    purpose: str = "article"  # article | feed | sitemap | section | site | robots
    raw_record_id: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A page whose body was downloaded successfully and is HTML."""

    source_id: str
    url: str
    final_url: str
    status: int
    content_type: str | None
    body: bytes
    fetched_at: datetime
    raw_record_id: str | None = None
    discovered: Discovered | None = None
    encoding: str | None = None  # charset the fetcher detected for `body` (tasks.fetch)
    headers: tuple[tuple[str, str], ...] = ()  # response headers, for the raw archive


@dataclass(frozen=True, slots=True)
class Rejected:
    """A URL that did not become an article, with a machine-readable reason."""

    source_id: str
    url: str
    stage: Stage
    reason: ReasonCode  # closed set: tasks.reasons (`REJECTED_REASONS`)
    detail: str = ""
    raw_record_id: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """What extraction and cleaning make of one page.

    `provenance` maps a field name to the method that produced it (``jsonld``, ``meta``,
    ``time_element``, ``url``, ``feed``, ``selector``, ``generic`` ...).

    `authors` are people only. `credited_organisations` are the other names a page credits as
    its author, as the page writes them: wire services ("dpa", "AFP"), desks ("Redaktion
    hessenschau.de", "Staff") and the outlet crediting itself ("BBC News").

    `keyword_entries` are the rows of the `keywords` table (`tasks.keywords`), not an
    `articles` column: the publisher's keywords with where each was read, and the key phrases
    computed from the text, scored.
    """

    source_id: str
    url: str
    final_url: str
    canonical_url: str
    title: str | None
    body: str  # paragraphs joined by a blank line
    fetched_at: datetime
    authors: tuple[str, ...] = ()
    credited_organisations: tuple[str, ...] = ()
    published_at: datetime | None = None
    published_source: str | None = None
    modified_at: datetime | None = None
    modified_source: str | None = None
    lead: str | None = None
    highlights: tuple[str, ...] = ()
    section: str | None = None
    keywords: tuple[str, ...] = ()  # news:keywords of the news sitemap that listed it
    language: str | None = None
    site_name: str | None = None
    image_url: str | None = None
    credit_lines: tuple[str, ...] = ()
    paywalled: bool = False
    page_kind: str = "article"
    provenance: tuple[tuple[str, str], ...] = ()
    raw_record_id: str | None = None
    keyword_entries: tuple[KeywordEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class DedupDecision:
    """Where one article stands among the stories already known."""

    article_id: str
    version: int  # 1 for a new article; the stored latest + 1 when its body changed
    cluster_id: str  # article_id of the cluster's origin; stable as members arrive
    duplicate_of: str | None  # None: the article is the representative of its story
    duplicate_kind: str | None  # canonical_url | exact | near
    similarity: float  # to the cluster's origin, 1.0 for the origin itself
    body_hash: str
    version_change: float | None = None  # 1 - Jaccard(previous version, this one), new versions
    wire_service: str | None = None  # named in a credit line or dateline, e.g. "Reuters"


@dataclass(frozen=True, slots=True)
class Mention:
    """A named entity in an article body: a `mentions` row."""

    article_id: str
    text: str
    label: str
    start_char: int  # character offsets into the field's text
    end_char: int
    field: str = "body"  # title | lead | highlights | body
    item: int = 0  # which highlight, for field "highlights"
    entity_id: str | None = None  # the entity it names (`tasks.entities`), across the warehouse
    entity_name: str | None = None  # that entity's name as the article gives it in full
    title: str | None = None  # a title or role written before the name ("Gov.", "President")


@dataclass(frozen=True, slots=True)
class Quote:
    """A direct quotation with its speaker, where one is named: a `quotes` row."""

    article_id: str
    text: str
    speaker: str | None
    start_char: int
    end_char: int
    cue: str | None = None  # the attribution verb, e.g. "said"
    method: str = "rule"  # how the speaker was found: cue_after, cue_before, according_to ...
    kind: str = "direct"  # direct | partial (quotations); title | slogan | scare (not quotes)
    speaker_entity_id: str | None = None  # the entity of the speaker (`tasks.entities`)


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What enrichment (`tasks.enrich`) found in a batch of articles, in a deterministic order."""

    mentions: tuple[Mention, ...]
    quotes: tuple[Quote, ...]


@dataclass(frozen=True, slots=True)
class Keyword:
    """A keyword of an article: a `keywords` row.

    `keyword` is as the publisher (or the text) writes it; `normalised` is what to group by
    (`tasks.keywords.normalise`). `score` is YAKE's for computed key phrases (lower is more
    relevant), None for the publisher's own.
    """

    article_id: str
    keyword: str
    normalised: str
    source: KeywordSource
    score: float | None = None
