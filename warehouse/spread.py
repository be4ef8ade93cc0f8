"""`story_spread` kept at publication, so a query of a few weeks of stories reads a few row
groups of one file instead of aggregating every stored article.

```
<data_dir>/index/story_spread/spread.parquet   the view's rows, sorted by first_published_at
<data_dir>/index/story_spread/holds.json       {"summary": its identity, "lake": a digest}
```
The summary holds exactly the rows of the aggregation `warehouse.views.story_spread_sql` over
the `articles` and `superseded` lake files (through the `stg_` views, so over the current
monthly copies where there are some), in row groups of `GROUP_ROWS`: a filter on
`first_published_at` skips the groups whose statistics say they cannot hold a match.

What it holds for is a digest of the daily files of those two tables (their paths under the
data dir and `warehouse.verified.identity`), recorded in the file's key-value metadata
(`DIGEST_KEY`). Copies are not part of it: a copy is current only while its name's digest
matches the daily files of its months (`warehouse.compact`), so it says what they say, and a
compaction changes no answer. `holds.json` may record a later digest for the same file (named
by its identity): a publication that adds no row to the aggregation (its articles and decisions
are empty and the files it replaced were empty too, such as a nothing-new night) only records
that the summary still holds for the lake it leaves, without reading anything; every other
publication computes the summary again, whole (`refresh`), right after its renames.

The catalog (`warehouse.catalog.catalog_statements`) defines `story_spread` as a read of the
file while `holds` says it is the aggregation of the lake as listed when the catalog is built,
and as the aggregation otherwise (no summary, an unreadable one, one left behind by a run killed
between its renames and its summary, a lake changed otherwise than by a publication: a working
copy's update, a quarantined file). The choice is part of the statements, so it switches with a
rebuild. Until then a catalog that reads the file answers as before the run's renames, as the
tables a killed run did not rename do: the next publication (a rerun of the date) repairs both.
The file is only ever replaced (`os.replace`), so a session that reads it by its path sees the
new one on its next query.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse import compact, verified
from warehouse.atomic import replace_text
from warehouse.lake import Identity, Listing, fsync_path, list_lake, make_dirs

logger = logging.getLogger(__name__)

READ = ("articles", "superseded")  # the lake tables the aggregation reads
DIGEST_KEY = b"newsflow.lake_digest"
# Small enough that a week of a year's stories is a few groups of a hundred; large enough that
# the footer of a year stays a few kilobytes.
GROUP_ROWS = 2048


class SpreadError(RuntimeError):
    """The summary did not read back as written; it was not published."""


def spread_dir(data_dir: Path) -> Path:
    return verified.index_dir(data_dir) / "story_spread"


def summary_path(data_dir: Path) -> Path:
    return spread_dir(data_dir) / "spread.parquet"


def record_path(data_dir: Path) -> Path:
    return spread_dir(data_dir) / "holds.json"


def lake_digest(listing: Listing, before: Mapping[str, Identity | None] | None = None) -> str:
    """The digest of the daily files of `READ` as `listing` has them; with `before`, as they
    were before a publication changed the files it names (None: the file was not there)."""
    entries = {k: v for t in READ for k, v in listing.files(t).items()}
    for key, identity in (before or {}).items():
        if identity is None:
            entries.pop(key, None)
        else:
            entries[key] = identity
    lines = "\n".join(f"{k}:{','.join(map(str, v))}" for k, v in sorted(entries.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def recorded(data_dir: Path) -> str | None:
    """The lake digest the summary holds for (`holds.json`'s while it names the file as it is,
    else the file's own); None when there is no readable summary."""
    path = summary_path(data_dir)
    try:
        now = verified.identity(path)
        own = (pq.read_metadata(path).metadata or {}).get(DIGEST_KEY)
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as error:
        logger.warning("Ignored the unreadable story_spread summary %s: %s", path, error)
        return None
    try:
        record = json.loads(record_path(data_dir).read_text(encoding="ascii"))
        if tuple(record["summary"]) == now:
            return str(record["lake"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no record of a later lake for this file: what the file says
    return own.decode("ascii") if own else None


def holds(data_dir: Path, listing: Listing) -> bool:
    """Whether the summary is the aggregation of the lake as `listing` has it."""
    return recorded(data_dir) == lake_digest(listing)


def refresh(
    data_dir: Path, listing: Listing, unchanged: Mapping[str, Identity | None] | None = None
) -> None:
    """Bring the summary up to the lake as `listing` (taken after the publication's renames)
    has it. `unchanged`: the publication's own files of `READ` with their identities before it
    (None: new), given when it adds no row to the aggregation; the summary is then only
    recorded as holding still, if it held before. A cache: a failure is logged, and the catalog
    reads the aggregation until a later publication writes the summary."""
    data_dir = Path(data_dir).absolute()
    try:
        with verified.locked(spread_dir(data_dir)):
            now = lake_digest(listing)
            said = recorded(data_dir)
            if said == now:
                return
            if unchanged is not None and said == lake_digest(listing, unchanged):
                _write_record(data_dir, summary_path(data_dir), now)
                return
            _rewrite(data_dir, listing, now)
    except (OSError, duckdb.Error, pa.ArrowException, SpreadError) as error:
        logger.warning("Could not update the story_spread summary of %s: %s", data_dir, error)


def _rewrite(data_dir: Path, listing: Listing, digest: str) -> None:
    """Compute the summary whole and publish it: a temporary file, fsynced, read back, renamed
    (skipped when the lake changed while it was read: the publication that changed it writes
    its own)."""
    rows = _aggregate(data_dir, listing)
    if lake_digest(list_lake(data_dir, READ, since=listing)) != digest:
        logger.info("The lake changed while story_spread was summarised; left to the next run")
        return
    folder = spread_dir(data_dir)
    make_dirs(folder)
    for stray in folder.glob(".*.tmp"):  # left by a writer that died; we hold the lock
        stray.unlink(missing_ok=True)
    target = summary_path(data_dir)
    temp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        metadata = {**(rows.schema.metadata or {}), DIGEST_KEY: digest.encode("ascii")}
        pq.write_table(
            rows.replace_schema_metadata(metadata),
            temp,
            compression="zstd",
            row_group_size=GROUP_ROWS,
        )
        fsync_path(temp)
        back = pq.read_metadata(temp)
        said = (back.metadata or {}).get(DIGEST_KEY)
        if back.num_rows != rows.num_rows or said != metadata[DIGEST_KEY]:
            raise SpreadError(f"{temp} holds {back.num_rows} rows, {rows.num_rows} were written")
        os.replace(temp, target)
        fsync_path(folder)
    finally:
        temp.unlink(missing_ok=True)
    _write_record(data_dir, target, digest)


def _aggregate(data_dir: Path, listing: Listing) -> pa.Table:
    """The view's rows by its own SQL over the `stg_` views of `READ`, sorted by
    `first_published_at`."""
    # The catalog decides between this module's file and the aggregation: imported here.
    from warehouse.catalog import quote_ident, staging_view_sql
    from warehouse.views import analytic_views, story_spread_sql

    months = {t: compact.months(data_dir, t, listing) for t in READ}
    record = verified.load(data_dir)
    views = dict(analytic_views())
    con = duckdb.connect()
    try:
        for table in READ:
            select = staging_view_sql(data_dir, table, None, record, months)
            con.execute(f"CREATE VIEW {quote_ident('stg_' + table)} AS {select}")
        for name in ("superseded_versions", "article_versions"):
            con.execute(f"CREATE VIEW {quote_ident(name)} AS {views[name]}")
        return con.sql(
            f"SELECT * FROM ({story_spread_sql()}) "  # noqa: S608 (our own SQL)
            "ORDER BY first_published_at NULLS LAST, cluster_id"
        ).to_arrow_table()
    finally:
        con.close()


def _write_record(data_dir: Path, summary: Path, digest: str) -> None:
    """Record that `summary`, as it is now, holds for the lake of `digest` (atomically)."""
    text = json.dumps({"summary": list(verified.identity(summary)), "lake": digest})
    replace_text(record_path(data_dir), text, durable=True)
