"""What the lake already holds for deduplication: `dedup_signatures` queried through DuckDB.

`ParquetSignatureIndex` implements `tasks.dedupe.SignatureIndex` over the published Parquet
files `<lake>/dedup_signatures/run_date=*/*.parquet`. Every lookup sends its keys (band hashes,
body hashes, article ids) to DuckDB as a registered Arrow table and joins it with the files,
so only matching rows come back to Python; nothing is cached between calls, so a lookup always
sees the lake as it is on disk.

`signatures_table` turns the rows that `tasks.dedupe.decide` asks to publish into an Arrow
table with the `DEDUP_SIGNATURES` schema: one document row (band -1) per article version and
one row per LSH band.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from tasks.dedupe import BANDS, DOCUMENT_BAND, NUM_PERM, StoredSignature, band_hashes
from warehouse.lake import published_in
from warehouse.schema import DEDUP_SIGNATURES

logger = logging.getLogger(__name__)

TABLE = "dedup_signatures"
# Fixed SQL; the file list, the document band and the limit are bound as parameters and the
# lookup keys arrive as the registered Arrow table `keys`.
_LATEST_SQL = """
    SELECT s.article_id, s.version, s.cluster_id, s.source_id, s.body_hash, s.shingles, s.minhash,
        s.published_at, s.duplicate_of, s.duplicate_kind, s.similarity
    FROM read_parquet($files, union_by_name = true) AS s
    SEMI JOIN keys AS k ON s.article_id = k.article_id
    WHERE s.band = $doc_band
    QUALIFY row_number() OVER (PARTITION BY s.article_id ORDER BY s.version DESC) = 1
"""
_BY_BODY_HASH_SQL = """
    SELECT s.article_id, s.version, s.cluster_id, s.source_id, s.body_hash, s.shingles, s.minhash,
        s.published_at, s.duplicate_of, s.duplicate_kind, s.similarity
    FROM read_parquet($files, union_by_name = true) AS s
    SEMI JOIN keys AS k ON s.body_hash = k.body_hash
    WHERE s.band = $doc_band
    QUALIFY row_number() OVER (
        PARTITION BY s.body_hash ORDER BY s.published_at NULLS LAST, s.article_id, s.version
    ) = 1
"""
_BY_BANDS_SQL = """
    WITH hits AS (
        SELECT s.article_id, s.version
        FROM read_parquet($files, union_by_name = true) AS s
        JOIN keys AS k ON s.band = k.band AND s.band_hash = k.band_hash
        WHERE s.band >= 0
        QUALIFY row_number() OVER (
            PARTITION BY s.band, s.band_hash ORDER BY s.article_id, s.version
        ) <= $limit
    )
    SELECT s.article_id, s.version, s.cluster_id, s.source_id, s.body_hash, s.shingles, s.minhash,
        s.published_at, s.duplicate_of, s.duplicate_kind, s.similarity
    FROM read_parquet($files, union_by_name = true) AS s
    SEMI JOIN hits AS h ON s.article_id = h.article_id AND s.version = h.version
    WHERE s.band = $doc_band
    ORDER BY s.article_id, s.version
"""


class ParquetSignatureIndex:
    """`SignatureIndex` over the Parquet lake, through an in-memory DuckDB connection.

    `exclude` names this run (`run_date`, `scope`): the index sees the warehouse as that run
    does (`warehouse.lake.published_files`): not its own previous attempt, nor later dates.
    """

    def __init__(
        self,
        lake: Path,
        *,
        exclude: tuple[date, str] | None = None,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.lake = Path(lake).absolute()
        self.exclude = exclude
        self._con = duckdb.connect(":memory:")
        if threads is not None:
            self._con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            self._con.execute("SET memory_limit = ?", [memory_limit])

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ParquetSignatureIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def files(self) -> list[Path]:
        """The published signature files this index reads, sorted; staging names excluded."""
        return published_in(self.lake / TABLE, self.exclude)

    def latest(self, article_ids: Sequence[str]) -> dict[str, StoredSignature]:
        if not article_ids:
            return {}
        keys = pa.table({"article_id": pa.array(article_ids, pa.string())})
        return {row.article_id: row for row in self._query(_LATEST_SQL, keys)}

    def by_body_hash(self, body_hashes: Sequence[str]) -> dict[str, StoredSignature]:
        if not body_hashes:
            return {}
        keys = pa.table({"body_hash": pa.array(body_hashes, pa.string())})
        return {row.body_hash: row for row in self._query(_BY_BODY_HASH_SQL, keys)}

    def by_bands(self, bands: Sequence[tuple[int, int]], limit: int) -> list[StoredSignature]:
        if not bands:
            return []
        keys = pa.table(
            {
                "band": pa.array([b for b, _ in bands], pa.int16()),
                "band_hash": pa.array([h for _, h in bands], pa.int64()),
            }
        )
        return self._query(_BY_BANDS_SQL, keys, limit=limit)

    def _query(self, sql: str, keys: pa.Table, **params: object) -> list[StoredSignature]:
        files = [str(p) for p in self.files()]
        if not files:
            return []
        self._con.register("keys", keys)
        try:
            result = self._con.sql(
                sql, params={"files": files, "doc_band": DOCUMENT_BAND, **params}
            ).to_arrow_table()
        finally:
            self._con.unregister("keys")
        logger.debug(
            "Looked up %d keys in %d signature files: %d rows",
            keys.num_rows,
            len(files),
            result.num_rows,
        )
        return _stored(result)


def _stored(table: pa.Table) -> list[StoredSignature]:
    columns: dict[str, list[Any]] = {
        name: table.column(name).to_pylist() for name in table.schema.names
    }
    out = []
    for i in range(table.num_rows):
        out.append(
            StoredSignature(
                article_id=columns["article_id"][i],
                version=columns["version"][i],
                cluster_id=columns["cluster_id"][i] or columns["article_id"][i],
                source_id=columns["source_id"][i],
                body_hash=columns["body_hash"][i] or "",
                shingles=columns["shingles"][i] or 0,
                minhash=columns["minhash"][i] or b"",
                published_at=columns["published_at"][i],
                duplicate_of=columns["duplicate_of"][i],
                duplicate_kind=columns["duplicate_kind"][i],
                similarity=1.0 if columns["similarity"][i] is None else columns["similarity"][i],
            )
        )
    return out


def signatures_table(rows: Sequence[StoredSignature], *, run_id: str) -> pa.Table:
    """The `dedup_signatures` rows for these article versions (schema `DEDUP_SIGNATURES`).

    Document rows first, then band rows, each ordered by (article_id, version), so a file's
    row groups compress the repeated article ids and group the document rows together.
    """
    docs = sorted(rows, key=lambda r: (r.article_id, r.version))
    banded = [r for r in docs if r.shingles > 0 and len(r.minhash) == 4 * NUM_PERM]
    n_docs, n_bands = len(docs), len(banded) * BANDS
    if banded:
        matrix = np.frombuffer(b"".join(r.minhash for r in banded), dtype="<u4")
        hashes = band_hashes(matrix.reshape(len(banded), NUM_PERM)).reshape(-1)
    else:
        hashes = np.empty(0, dtype=np.int64)

    def doc_then_null(values: list[Any], type_: pa.DataType) -> pa.Array:
        return pa.concat_arrays([pa.array(values, type_), pa.nulls(n_bands, type_)])

    columns = {
        "run_id": pa.array([run_id] * (n_docs + n_bands), pa.string()),
        "source_id": pa.array(
            [r.source_id for r in docs] + [r.source_id for r in banded for _ in range(BANDS)],
            pa.string(),
        ),
        "article_id": pa.array(
            [r.article_id for r in docs] + [r.article_id for r in banded for _ in range(BANDS)],
            pa.string(),
        ),
        "version": pa.array(
            [r.version for r in docs] + [r.version for r in banded for _ in range(BANDS)],
            pa.int32(),
        ),
        "band": pa.array(
            np.concatenate(
                [
                    np.full(n_docs, DOCUMENT_BAND, dtype=np.int16),
                    np.tile(np.arange(BANDS, dtype=np.int16), len(banded)),
                ]
            )
        ),
        "band_hash": pa.array(np.concatenate([np.zeros(n_docs, dtype=np.int64), hashes])),
        "cluster_id": doc_then_null([r.cluster_id for r in docs], pa.string()),
        "body_hash": doc_then_null([r.body_hash for r in docs], pa.string()),
        "shingles": doc_then_null([r.shingles for r in docs], pa.int32()),
        "minhash": doc_then_null([r.minhash for r in docs], pa.binary()),
        "published_at": doc_then_null(
            [r.published_at for r in docs], DEDUP_SIGNATURES.field("published_at").type
        ),
        "duplicate_of": doc_then_null([r.duplicate_of for r in docs], pa.string()),
        "duplicate_kind": doc_then_null([r.duplicate_kind for r in docs], pa.string()),
        "similarity": doc_then_null([r.similarity for r in docs], pa.float32()),
    }
    return pa.table(columns, schema=DEDUP_SIGNATURES)
