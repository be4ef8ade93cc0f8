from datetime import date
from pathlib import Path

import pytest
from lakedata import file_size_limit, noise

from warehouse.lake import StorageError, staging_dir
from warehouse.publish import Publication
from warehouse.spill import Spill


def test_batches_come_back_in_order_and_can_be_read_twice(tmp_path: Path) -> None:
    spill: Spill[tuple[int, str]] = Spill(tmp_path / "s.pickle", tmp_path)
    spill.append([(1, "a"), (2, "b")])
    spill.append([])
    spill.append([(3, "ç")])
    assert spill.count == 3
    assert list(spill.batches()) == [[(1, "a"), (2, "b")], [], [(3, "ç")]]
    assert list(spill.batches()) == [[(1, "a"), (2, "b")], [], [(3, "ç")]]
    with pytest.raises(RuntimeError, match="closed for writing"):
        spill.append([(4, "d")])


def test_a_publications_spill_lives_in_staging_and_goes_with_it(tmp_path: Path) -> None:
    publication = Publication(tmp_path, date(2023, 10, 15), "ingest-1")
    spill = publication.spill("articles")
    spill.append(["x"])
    assert spill.path.is_relative_to(tmp_path / "staging")
    publication.commit()
    assert not spill.path.exists()
    assert not list((tmp_path / "lake").rglob("*.pickle"))
    other = Publication(tmp_path, date(2023, 10, 16), "ingest-1")
    with pytest.raises(ValueError, match="identifier"):
        other.spill("../escape")
    other.abort()


def test_a_spill_that_cannot_be_written_names_its_file_and_the_data_dir(tmp_path: Path) -> None:
    publication = Publication(tmp_path, date(2023, 10, 15), "ingest-1")
    spill = publication.spill("articles")
    with file_size_limit(100_000), pytest.raises(StorageError) as failure:
        spill.append([noise(200_000)])
    publication.abort()
    assert str(failure.value).startswith(f"cannot write {spill.path} in data dir {tmp_path}: ")
    assert list(staging_dir(tmp_path).iterdir()) == []
