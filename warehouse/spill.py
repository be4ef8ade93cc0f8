"""Batches of a run's own records parked on disk until a later stage reads them back.

A run's articles must wait for deduplication, which decides over the whole run at once (so
that its decisions do not depend on batch order). Parking them here, in the publication's
staging area, keeps the run's memory to one batch whatever the number of articles. The file
goes away with the staging area when the run commits or aborts; it is never published.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

from warehouse.lake import writing

T = TypeVar("T")


class Spill(Generic[T]):
    """Append batches, then read them back in the same order (once or many times)."""

    def __init__(self, path: Path, data_dir: Path) -> None:
        self.path = path
        self.data_dir = data_dir
        self._handle: BinaryIO | None = path.open("wb")
        self.count = 0

    def append(self, batch: Sequence[T]) -> None:
        if self._handle is None:
            raise RuntimeError(f"spill {self.path} is closed for writing")
        with writing(self.path, self.data_dir):
            pickle.dump(list(batch), self._handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += len(batch)

    def batches(self) -> Iterator[list[T]]:
        """The batches in the order they were appended; closes the file for writing."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            with writing(self.path, self.data_dir):
                handle.close()
        with self.path.open("rb") as handle:
            while True:
                try:
                    batch: list[T] = pickle.load(handle)  # noqa: S301  our own file, this run
                except EOFError:
                    return
                yield batch
