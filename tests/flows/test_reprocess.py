"""Reprocessing a date gives the rows the live run gave (RELIABILITY row 28).

A loopback outlet with a sitemap: one story whose charset only its HTTP header names
(windows-1252, which detection alone reads wrongly), one plain UTF-8 story, and a story whose
sitemap `lastmod` moves after the first run while its body stays the same (an `unchanged`
re-fetch). Each date is then reprocessed from its raw archive and compared with what its live
run published.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from flowenv import environment
from servers import LoopbackServer, Reply, robots

from flows.ingest import nightly_ingest, reprocess
from warehouse.lake import catalog_path

FIRST, SECOND = date(2023, 10, 18), date(2023, 10, 19)
CAFE = (
    "Zoë’s café on the quay — “naïve” and proud, its owner says — charges €5 for a "
    "coffee that, Señor Müller insists, tastes of déjà vu. "
)
PLAIN = "The council voted on Tuesday to keep the ferry running through the winter months. "


def _page(title: str, sentence: str) -> str:
    paragraphs = "".join(f"<p>{sentence * 3}Paragraph {i} adds more.</p>" for i in range(8))
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{paragraphs}</article></body></html>"
    )


def _sitemap(base: str, lastmod: dict[str, str]) -> bytes:
    urls = "".join(
        f"<url><loc>{base}{path}</loc><lastmod>{stamp}</lastmod></url>"
        for path, stamp in lastmod.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


@pytest.fixture
def outlet() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.route("/robots.txt", robots("User-agent: *\nAllow: /\n"))
        server.route(
            "/news/cafe",
            Reply(
                body=_page("Cafe on the quay", CAFE).encode("cp1252"),
                content_type="text/html; charset=windows-1252",
            ),
        )
        server.route("/news/ferry", Reply(body=_page("Ferry stays", PLAIN).encode()))
        server.route("/news/harbour", Reply(body=_page("Harbour works", PLAIN * 2).encode()))
        yield server


def _announce(server: LoopbackServer, harbour_changed_at: datetime) -> None:
    stamps = {
        "/news/cafe": "2023-10-17T08:00:00+00:00",
        "/news/ferry": "2023-10-17T09:00:00+00:00",
        "/news/harbour": harbour_changed_at.isoformat(timespec="seconds"),
    }
    body = _sitemap(server.url("").rstrip("/"), stamps)
    server.route("/sitemap.xml", Reply(body=body, content_type="application/xml"))


@pytest.fixture
def warehouse(
    tmp_path: Path, outlet: LoopbackServer, prefect_harness: None
) -> Iterator[tuple[Path, str]]:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nid = "quay-news"\nkind = "sitemap"\n'
        f'location = "{outlet.url("/sitemap.xml")}"\n',
        encoding="utf-8",
    )
    settings = {
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_ALLOW_PRIVATE_HOSTS": json.dumps([outlet.netloc]),
        "NEWSFLOW_PER_HOST_DELAY_S": "0.01",
    }
    with environment(settings):
        yield tmp_path / "data", str(sources)


def _rows(data_dir: Path, day: date) -> dict[str, list[Any]]:
    con = duckdb.connect(str(catalog_path(data_dir)), read_only=True)
    try:
        return {
            "articles": con.execute(
                "SELECT url, article_id, version, body, title, duplicate_kind, raw_record_id "
                "FROM stg_articles WHERE run_date = ? ORDER BY url",
                [day],
            ).fetchall(),
            "rejected": con.execute(
                "SELECT url, stage, reason, raw_record_id FROM stg_rejected "
                "WHERE run_date = ? ORDER BY url, stage",
                [day],
            ).fetchall(),
            "ends": con.execute(
                "SELECT url, count(*) FROM (SELECT url FROM stg_articles WHERE run_date = $1 "
                "UNION ALL SELECT url FROM stg_rejected WHERE run_date = $1) GROUP BY url "
                "ORDER BY url",
                [day],
            ).fetchall(),
        }
    finally:
        con.close()


def test_reprocess_gives_the_live_runs_rows(
    outlet: LoopbackServer, warehouse: tuple[Path, str]
) -> None:
    data_dir, sources = warehouse
    _announce(outlet, datetime(2023, 10, 17, 10, tzinfo=UTC))
    assert nightly_ingest(run_date=FIRST, sources_file=sources).status == "completed"
    # The sitemap now says the harbour story changed after we fetched it; its body did not.
    _announce(outlet, datetime.now(UTC) + timedelta(minutes=5))
    second = nightly_ingest(run_date=SECOND, sources_file=sources)
    assert second.per_source[0].rejected == {"already_seen": 2, "unchanged": 1}
    live = {day: _rows(data_dir, day) for day in (FIRST, SECOND)}

    cafe_body = next(row[3] for row in live[FIRST]["articles"] if row[0].endswith("/cafe"))
    assert "Zoë’s café on the quay — “naïve” and proud" in cafe_body

    for day in (SECOND, FIRST):
        summary = reprocess(run_date=day, sources_file=sources)
        assert summary.status == "completed"
        assert _rows(data_dir, day) == live[day], day
        assert all(count == 1 for _url, count in _rows(data_dir, day)["ends"])
    assert outlet.hits("/news/cafe") == 1  # reprocessing fetched nothing
