"""Where an object-store data dir points (`s3://bucket/prefix`), importing nothing heavy: the
settings check it (`warehouse.store` does the rest).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SCHEME = "s3://"


@dataclass(frozen=True, slots=True)
class StoreUrl:
    bucket: str
    prefix: str  # without slashes at either end; may be empty

    @property
    def root(self) -> str:
        """`bucket/prefix`, as fsspec names paths."""
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket

    def __str__(self) -> str:
        return SCHEME + self.root


def parse_url(url: str) -> StoreUrl:
    """`s3://bucket[/prefix]` -> its parts; ValueError for anything else."""
    if not url.startswith(SCHEME):
        raise ValueError(f"an object-store data dir starts with {SCHEME}, got {url!r}")
    bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ValueError(f"{url!r}: {bucket!r} is not an S3 bucket name")
    return StoreUrl(bucket, prefix.strip("/"))


def default_cache_dir(url: str) -> Path:
    """Where the working copy of `url` lives when `store_cache_dir` is not set."""
    parsed = parse_url(url)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "newsflow" / parsed.bucket / (parsed.prefix or "_")
