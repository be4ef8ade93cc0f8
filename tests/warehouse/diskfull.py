"""Fill the disk under a publication and print, as JSON, what the data dir looks like after.

    unshare -Urm python diskfull.py MOUNT_DIR {raw|tables}

Runs inside a private mount namespace (so no privileges are needed): mounts a 3 MiB tmpfs at
MOUNT_DIR, publishes a small run into MOUNT_DIR/data, then a run that does not fit, with the
overflow in the raw archive (`raw`) or in the articles table (`tables`). Used by
tests/warehouse/test_diskfull.py (RELIABILITY row 27).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from lakedata import pages, publish_sample, tables

from warehouse.publish import Publication
from warehouse.raw import RawArchive

DAY = date(2026, 11, 27)
SCOPE = "ingest-3f2a9c1b"


def _noise(size: int) -> str:
    """Text that zstd and gzip cannot shrink much."""
    return base64.b64encode(os.urandom(size)).decode()


def _files(data_dir: Path) -> dict[str, str]:
    return {
        str(path.relative_to(data_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and "staging" not in path.parts
    }


def _overflow(data_dir: Path, where: str) -> None:
    publication = Publication(data_dir, DAY, SCOPE)
    try:
        with RawArchive(data_dir, DAY, SCOPE) as archive:
            for page in pages(DAY, "new"):
                body = page.body + (_noise(1_500_000).encode() if where == "raw" else b"")
                archive.append(replace(page, body=body))
            publication.add_raw(archive)
        for table, rows in tables(DAY, SCOPE, "new").items():
            if table == "articles" and where == "tables":
                big = [{**row, "body": _noise(1_500_000)} for row in rows.to_pylist()]
                publication.write(table, big)
            elif rows.num_rows:
                publication.write(table, rows)
        publication.commit()
    except BaseException:
        publication.abort()
        raise


def main(mount: str, where: str) -> int:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount], check=True)
    data_dir = Path(mount) / "data"
    publish_sample(data_dir, DAY, SCOPE, "old")
    before = _files(data_dir)
    error = None
    try:
        _overflow(data_dir, where)
    except Exception as caught:  # the test reads what was raised
        error = f"{type(caught).__name__}: {caught}"
    staging = data_dir / "staging"
    print(
        json.dumps(
            {
                "error": error,
                "unchanged": _files(data_dir) == before,
                "staging": sorted(p.name for p in staging.iterdir()) if staging.exists() else [],
                "data_dir": str(data_dir),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
