"""The one schema: every warehouse table as a pyarrow schema.

Parquet files, DuckDB views and the records in `tasks/records.py` are all checked against
these declarations (`tests/warehouse/test_schema.py`). Every table carries `run_id` and
`run_date` (the hive partition key, written into the path, not into the file).
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")
STRINGS = pa.list_(pa.string())

LINEAGE = [
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("source_id", pa.string(), nullable=False),
]

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("flow", pa.string(), nullable=False),
        pa.field("scope", pa.string(), nullable=False),
        pa.field("started_at", UTC_TS, nullable=False),
        pa.field("finished_at", UTC_TS, nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("parameters", pa.string()),  # JSON
        pa.field("sources", STRINGS),
        pa.field("discovered", pa.int64()),
        pa.field("fetched", pa.int64()),
        pa.field("articles", pa.int64()),
        pa.field("duplicates", pa.int64()),
        pa.field("rejected", pa.int64()),
        pa.field("newsflow_version", pa.string()),
    ]
)

FETCH_LOG = pa.schema(
    [
        *LINEAGE,
        pa.field("url", pa.string(), nullable=False),
        pa.field("final_url", pa.string()),
        pa.field("status", pa.int32()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("elapsed_ms", pa.int64(), nullable=False),
        pa.field("fetched_at", UTC_TS, nullable=False),
        pa.field("content_type", pa.string()),
        pa.field("purpose", pa.string(), nullable=False),
        pa.field("raw_record_id", pa.string()),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
    ]
)

REJECTED = pa.schema(
    [
        *LINEAGE,
        pa.field("url", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("raw_record_id", pa.string()),
    ]
)

ARTICLES = pa.schema(
    [
        *LINEAGE,
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("final_url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("authors", STRINGS),  # people
        pa.field("credited_organisations", STRINGS),  # wire services, desks, the outlet
        pa.field("published_at", UTC_TS),
        pa.field("published_source", pa.string()),
        pa.field("modified_at", UTC_TS),
        pa.field("modified_source", pa.string()),
        pa.field("lead", pa.string()),
        pa.field("highlights", STRINGS),
        pa.field("body", pa.string(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("section", pa.string()),
        pa.field("keywords", STRINGS),  # news:keywords of the Google News sitemap that listed it
        pa.field("language", pa.string()),
        pa.field("site_name", pa.string()),
        pa.field("image_url", pa.string()),
        pa.field("credit_lines", STRINGS),
        pa.field("paywalled", pa.bool_(), nullable=False),
        pa.field("page_kind", pa.string(), nullable=False),
        pa.field("provenance", pa.map_(pa.string(), pa.string())),
        pa.field("fetched_at", UTC_TS, nullable=False),
        pa.field("raw_record_id", pa.string()),
        pa.field("body_hash", pa.string(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("duplicate_kind", pa.string()),
        pa.field("similarity", pa.float32(), nullable=False),
        pa.field("version_change", pa.float32()),  # 1 - Jaccard to the previous version
        pa.field("wire_service", pa.string()),  # named in a credit line or dateline
        pa.field("enrichment", pa.string()),  # full | no_model | copy (tasks.language)
    ]
)

MENTIONS = pa.schema(
    [
        *LINEAGE,
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("field", pa.string(), nullable=False),  # title | lead | highlights | body
        pa.field("item", pa.int16(), nullable=False),  # index into highlights, else 0
        pa.field("entity_id", pa.string()),  # tasks.entities.entity_id(label, entity_name)
        pa.field("entity_name", pa.string()),
        pa.field("title", pa.string()),  # "Gov.", "President": written before the name
    ]
)

QUOTES = pa.schema(
    [
        *LINEAGE,
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("speaker", pa.string()),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("cue", pa.string()),
        pa.field("method", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # direct partial / title slogan scare
        pa.field("speaker_entity_id", pa.string()),  # mentions.entity_id of the speaker
    ]
)

# What each run saw of each entity, per source (`tasks.entities.tally_entities`): the
# `entities` view adds these up, so no run reads the history to keep it current.
ENTITY_RUNS = pa.schema(
    [
        *LINEAGE,
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("entity_name", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("aliases", pa.list_(pa.string()), nullable=False),
        pa.field("articles", pa.int32(), nullable=False),
        pa.field("mentions", pa.int32(), nullable=False),
    ]
)

KEYWORDS = pa.schema(
    [
        *LINEAGE,
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("keyword", pa.string(), nullable=False),  # as the publisher or the text writes it
        pa.field("normalised", pa.string(), nullable=False),  # tasks.keywords.normalise
        # news_sitemap | meta_keywords | news_keywords | article_tag | jsonld_keywords
        # | jsonld_about | feed_category | computed (tasks.records.KeywordSource)
        pa.field("source", pa.string(), nullable=False),
        pa.field("score", pa.float64()),  # computed: YAKE's, lower is more relevant; else null
    ]
)

# One document row per article version (band = -1) carrying what verification needs, and one
# row per LSH band (band >= 0) carrying only the band hash; see `warehouse/dedup_index.py`.
DEDUP_SIGNATURES = pa.schema(
    [
        *LINEAGE,
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("band", pa.int16(), nullable=False),
        pa.field("band_hash", pa.int64(), nullable=False),  # 0 on document rows
        # Document rows only (null on band rows):
        pa.field("cluster_id", pa.string()),
        pa.field("body_hash", pa.string()),
        pa.field("shingles", pa.int32()),
        pa.field("minhash", pa.binary()),  # NUM_PERM little-endian uint32
        pa.field("published_at", UTC_TS),
        pa.field("duplicate_of", pa.string()),
        pa.field("duplicate_kind", pa.string()),
        pa.field("similarity", pa.float32()),
    ]
)

# One row per source per run: what the run did with the source, and the health thresholds in
# force for it, so that the `source_health` view needs nothing but the warehouse (see
# `flows/health.py` for how each count is made).
SOURCE_RUNS = pa.schema(
    [
        *LINEAGE,
        pa.field("finished_at", UTC_TS, nullable=False),
        pa.field("discovered", pa.int64(), nullable=False),
        pa.field("fetched", pa.int64(), nullable=False),
        pa.field("articles", pa.int64(), nullable=False),  # new stories stored
        pa.field("duplicates", pa.int64(), nullable=False),
        pa.field("rejected", pa.int64(), nullable=False),
        pa.field("extracted", pa.int64(), nullable=False),  # pages that reached extraction
        pa.field("not_article", pa.int64(), nullable=False),
        pa.field("short_bodies", pa.int64(), nullable=False),
        pa.field("failed", pa.bool_(), nullable=False),
        pa.field("problem", pa.string()),  # why it failed, "; "-joined
        pa.field("silent_after_days", pa.int32(), nullable=False),
        pa.field("drift_share", pa.float64(), nullable=False),
    ]
)

# Decisions about which stored article rows are no longer their line's latest version, made by
# the publication that changes the line (`warehouse.superseded`). `run_id` and `source_id` are
# those of the row decided about; the row's own date is `row_run_date` (the file's `run_date`
# is the deciding run's). `copy_url` is the URL of a duplicate (versioned per URL), else null.
SUPERSEDED = pa.schema(
    [
        *LINEAGE,
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("copy_url", pa.string()),
        pa.field("url", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("row_run_date", pa.date32(), nullable=False),
        pa.field("superseded", pa.bool_(), nullable=False),
        pa.field("decision", pa.int64(), nullable=False),
    ]
)

# One row per WARC file an archive source read (`flows.archives`), published with the rows the
# file gave: what it held and what was lost (the resume checkpoint is the part's `runs` row).
ARCHIVE_FILES = pa.schema(
    [
        *LINEAGE,
        pa.field("location", pa.string(), nullable=False),  # file:// or http(s) URL
        pa.field("file_day", pa.date32()),  # the day its name (or first record) carries
        pa.field("settings_digest", pa.string(), nullable=False),  # what reading depended on
        pa.field("records", pa.int64(), nullable=False),  # records read, of any type
        pa.field("pages", pa.int64(), nullable=False),  # captures that reached extraction
        pa.field("rejected", pa.int64(), nullable=False),  # captures rejected before it
        pa.field("described", pa.string(), nullable=False),  # JSON: other record types, counts
        pa.field("corrupt", pa.int64(), nullable=False),  # stretches skipped as unreadable
        pa.field("skipped_bytes", pa.int64(), nullable=False),
        pa.field("problem", pa.string()),  # why the file gave nothing (not a WARC ...)
        pa.field("finished_at", UTC_TS, nullable=False),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "runs": RUNS,
    "fetch_log": FETCH_LOG,
    "rejected": REJECTED,
    "articles": ARTICLES,
    "mentions": MENTIONS,
    "quotes": QUOTES,
    "entity_runs": ENTITY_RUNS,
    "keywords": KEYWORDS,
    "dedup_signatures": DEDUP_SIGNATURES,
    "source_runs": SOURCE_RUNS,
    "superseded": SUPERSEDED,
    "archive_files": ARCHIVE_FILES,
}
