"""Files replaced whole (`warehouse.atomic`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.atomic import replace_text


@pytest.mark.parametrize("durable", [True, False])
def test_replace_text_swaps_the_content_and_leaves_no_temporary_file(
    tmp_path: Path, durable: bool
) -> None:
    target = tmp_path / "record.json"
    target.write_text("old", encoding="utf-8")
    replace_text(target, "new: é", durable=durable)
    assert target.read_text(encoding="utf-8") == "new: é"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_replace_text_that_cannot_rename_raises_and_removes_its_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "taken"
    (target / "inside").mkdir(parents=True)  # a folder that is not empty: no rename over it
    with pytest.raises(IsADirectoryError):
        replace_text(target, "text", durable=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert [p.name for p in target.iterdir()] == ["inside"]
