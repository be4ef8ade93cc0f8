"""A run's `source_health` reads the newest dates first and every date when a source needs
more: the same rows as the catalog's view either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from test_source_health import Run, clean, day, publish

from warehouse import query
from warehouse.lake import catalog_path

DATES = 11
WINDOW = 9  # the latest run and the seven before it fit, with a date to spare


def _catalog(data_dir: Path, names: list[str]) -> dict[str, tuple[Any, ...]]:
    with duckdb.connect(str(catalog_path(data_dir)), read_only=True) as con:
        rows = con.execute(
            f"SELECT {', '.join(names)} FROM source_health ORDER BY source_id"
        ).fetchall()
    return {row[0]: row for row in rows}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    for n in range(1, DATES + 1):
        runs = [clean("nightly")]
        runs.append(Run("quiet", articles=2, extracted=4) if n == 1 else Run("quiet", extracted=4))
        runs.append(clean("broken") if n == 1 else Run("broken", articles=1, failed=True))
        if n in (1, DATES):
            runs.append(clean("rare"))
        publish(tmp_path, day(n), runs)
    return tmp_path


def test_each_source_gets_the_catalogs_row_from_the_newest_dates_or_from_all(
    history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "HEALTH_DATES", WINDOW)
    asked: list[tuple[int, bool, Any]] = []
    real = query._health

    def spy(*args: Any, **kw: Any) -> Any:
        answer = real(*args, **kw)
        asked.append((len(args[3]), kw.get("complete", False), answer is not None))
        return answer

    monkeypatch.setattr(query, "_health", spy)
    names = ["source_id", "days_silent", "failures_in_a_row", "history_runs", "history_share",
             "last_article_run_date", "latest_run_date", "problem"]
    expected = _catalog(history, names)
    assert expected["quiet"][1] == DATES - 1  # silent since its first date's articles
    assert expected["broken"][2] == DATES - 1  # failing since the second date
    assert expected["rare"][3] == 1  # its one run before the latest, ten dates back

    for source in ("nightly", "quiet", "broken", "rare"):
        asked.clear()
        assert query.source_health(history, [source], names) == [expected[source]]
        if source == "nightly":  # the newest dates held all it needs
            assert asked == [(WINDOW, False, True)]
        else:  # its row needs an older date: asked again of all
            assert asked == [(WINDOW, False, False), (DATES, True, True)]
    assert query.source_health(history, sorted(expected), names) == [
        expected[s] for s in sorted(expected)
    ]
