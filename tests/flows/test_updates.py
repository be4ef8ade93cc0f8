"""A story that changes after publication becomes a new version, not a new article."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from flowenv import environment

from flows.ingest import nightly_ingest
from flows.settings import SEEDS_DIR

PAGE = "2023/10/17/reindeer-herders-use-drones-to-map-lichen-loss.html"
ADDED = "An earlier version of this story gave the wrong number of herding districts."


@pytest.fixture
def site(tmp_path: Path, prefect_harness: None) -> Iterator[Path]:
    """A private copy of the sample site, so the test can change a story, and its own warehouse."""
    copy = tmp_path / "sample_site"
    shutil.copytree(SEEDS_DIR / "sample_site", copy)
    settings = {
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_SAMPLE_SITE_DIR": str(copy),
        "NEWSFLOW_PER_HOST_DELAY_S": "0.05",
    }
    with environment(settings):
        yield copy


def announce_change(site: Path) -> None:
    """Move the page's sitemap lastmod after every fetch so far, as a publisher would."""
    sitemap = site / "nordic-wire" / "sitemap.xml"
    stamp = (datetime.now(UTC) + timedelta(minutes=5)).isoformat(timespec="seconds")
    text = sitemap.read_text(encoding="utf-8")
    pattern = re.escape(PAGE) + r"</loc>\s*<lastmod>[^<]+</lastmod>"
    text, count = re.subn(pattern, f"{PAGE}</loc>\n    <lastmod>{stamp}</lastmod>", text)
    assert count == 1
    sitemap.write_text(text, encoding="utf-8")


def versions(site: Path) -> list[tuple[int, bool, bool, float | None]]:
    catalog = Path(os.environ["NEWSFLOW_DATA_DIR"]) / "newsflow.duckdb"
    with duckdb.connect(str(catalog), read_only=True) as con:
        return con.execute(
            "SELECT version, is_latest, contains(body, ?), version_change FROM article_versions"
            " WHERE url LIKE ? ORDER BY version",
            [ADDED, f"%{PAGE}"],
        ).fetchall()


def test_changed_story_becomes_a_new_version_and_an_unchanged_one_is_not_stored_again(
    site: Path,
) -> None:
    first = nightly_ingest(run_date=date(2023, 10, 18))
    assert first.status == "completed"
    assert versions(site) == [(1, True, False, None)]

    page = site / "nordic-wire" / PAGE
    html = page.read_text(encoding="utf-8")
    at = html.index("</p>", html.index('class="nw-story__text"')) + len("</p>")
    page.write_text(html[:at] + f"\n      <p>{ADDED}</p>" + html[at:], encoding="utf-8")
    announce_change(site)
    second = nightly_ingest(run_date=date(2023, 10, 19))
    assert second.status == "completed"
    rows = versions(site)
    assert [(v, latest, added) for v, latest, added, _ in rows] == [
        (1, False, False),
        (2, True, True),
    ]
    change = rows[1][3]
    assert change is not None
    assert 0 < change < 0.5
    nordic = next(c for c in second.per_source if c.source_id == "nordic-wire")
    assert nordic.rejected.get("already_seen", 0) >= 10  # the others were not fetched again

    announce_change(site)  # announced again, but the body is the same
    third = nightly_ingest(run_date=date(2023, 10, 20))
    assert len(versions(site)) == 2
    nordic = next(c for c in third.per_source if c.source_id == "nordic-wire")
    assert nordic.rejected.get("unchanged") == 1
