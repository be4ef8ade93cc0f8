"""Files replaced whole: each is written under a temporary name beside its target and renamed
over it, so a reader sees the old file or the new one, never a part of either."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's entry to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_text(target: Path, text: str, *, durable: bool) -> None:
    """Replace `target` by a file holding `text` (UTF-8) with one `os.replace`.

    `durable`: the file is flushed to disk before the rename and its folder after it, so the
    new content survives a power cut; a cache whose loss only costs work does without.
    Raises `OSError` as the file system does; the temporary file is removed either way.
    """
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, target)
        if durable:
            fsync_path(target.parent)
    finally:
        temp.unlink(missing_ok=True)
