"""End to end: a CC-NEWS style listing of WARC files on loopback, read by a backfill date.

One day's files hold sample-site pages and every kind of bad record; a publisher filter
leaves one host out; a file named for the day is not a WARC at all; a file of the next day
must not be read. Every page capture of the day's files ends exactly once, as an article or
a rejection pointing at its record; a rerun reads nothing again; a run cut short after its
first file resumes with the rest and ends with the same rows as the uninterrupted run.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import pytest
from servers import LoopbackServer, Reply
from warcs import Capture, write_warc

from flows import archives
from flows.ingest import backfill_date, reprocess
from flows.pipeline import RunSummary
from flows.settings import SEEDS_DIR

DAY = date(2026, 11, 1)
PDF = "application/pdf"
PREFIX = "/crawl-data/CC-NEWS/2026/11/"
NAMES = [
    "CC-NEWS-20261101000000-00001.warc.gz",
    "CC-NEWS-20261101060000-00002.warc.gz",
    "CC-NEWS-20261101120000-00003.warc.gz",
    "CC-NEWS-20261101180000-00004.warc.gz",  # not a WARC
    "CC-NEWS-20261102000000-00005.warc.gz",  # the next day
]
PUBLISHERS = ["metro-ledger.example", "daily-courier.example", "lakeside-echo.example",
              "nordic-wire.example", "copycat.example"]  # fmt: skip


def _pages() -> list[tuple[str, bytes]]:
    """(URL, HTML) of sample-site story pages, as if each outlet were its own host."""
    site = SEEDS_DIR / "sample_site"
    pages = sorted(p for p in site.rglob("*.html") if p.name != "index.html")
    return [
        (f"https://{p.relative_to(site).parts[0]}.example/{p.relative_to(site).as_posix()}",
         p.read_bytes())
        for p in pages
    ]  # fmt: skip


@dataclass(frozen=True)
class Files:
    blobs: dict[str, bytes]  # file name -> bytes
    pages: dict[str, list[tuple[int, Capture]]]  # file name -> (offset, capture) of captures
    lost: tuple[str, int]  # the record damaged beyond reading: (file name, offset)
    copy_of: tuple[str, str]  # (syndicated copy URL, origin URL)


def build_files(tmp: Path) -> Files:
    pages = _pages()
    gz = gzip.compress(pages[12][1], mtime=0)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(gz), gz)
    copy_url = "https://copycat.example/wire/" + pages[0][0].rsplit("/", 1)[1]
    plans: dict[str, list[Capture]] = {
        NAMES[0]: [
            Capture("", b"software: test", kind="warcinfo", content_type="application/warc-fields"),
            *(Capture(url, html, date="2026-11-01T00:10:00Z") for url, html in pages[0:6]),
            Capture("https://blocked.example/story", pages[6][1]),
        ],
        NAMES[1]: [
            *(Capture(url, html, date="2026-11-01T06:10:00Z") for url, html in pages[6:12]),
            Capture(pages[1][0], kind="revisit"),
            Capture(pages[7][0], b"GET / HTTP/1.1\r\n\r\n", kind="request",
                    content_type="application/http; msgtype=request"),
            Capture(pages[7][0], b"fetchTimeMs: 3", kind="metadata",
                    content_type="application/warc-fields"),
            Capture(pages[13][0], pages[13][1][:500], warc_headers={"WARC-Truncated": "length"}),
            Capture("https://metro-ledger.example/gone", b"<p>gone</p>", status=404),
            Capture("https://metro-ledger.example/a.pdf", b"%PDF-1.7", content_type=PDF),
            Capture(pages[12][0], chunked, http_headers=(("Transfer-Encoding", "chunked"),
                                                         ("Content-Encoding", "gzip"))),
            Capture(pages[14][0], pages[14][1]),  # damaged below
            Capture(pages[15][0], pages[15][1]),
        ],
        NAMES[2]: [
            *(Capture(url, html, date="2026-11-01T12:10:00Z") for url, html in pages[16:20]),
            Capture(copy_url, pages[0][1], date="2026-11-01T12:30:00Z"),
        ],
        NAMES[4]: [Capture(url, html) for url, html in pages[20:22]],
    }  # fmt: skip
    blobs: dict[str, bytes] = {}
    captures: dict[str, list[tuple[int, Capture]]] = {}
    for name, plan in plans.items():
        path = tmp / name
        offsets = write_warc(path, plan)
        blobs[name] = path.read_bytes()
        captures[name] = [(o, c) for o, c in zip(offsets, plan, strict=True)]
    damaged = captures[NAMES[1]][-2][0]
    data = bytearray(blobs[NAMES[1]])
    data[damaged + 40 : damaged + 52] = b"\x00garbage\x00\xff\xfe\x00"
    blobs[NAMES[1]] = bytes(data)
    blobs[NAMES[3]] = b"<html>this listing entry is not an archive</html>"
    return Files(blobs, captures, (NAMES[1], damaged), (copy_url, pages[0][0]))


@dataclass(frozen=True)
class Served:
    server: LoopbackServer
    files: Files
    listing: str

    def url(self, name: str) -> str:
        return self.server.url(PREFIX + name)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    files = build_files(tmp_path_factory.mktemp("warcs"))
    with LoopbackServer() as server:
        for name, blob in files.blobs.items():
            server.route(PREFIX + name, Reply(body=blob, content_type="application/octet-stream"))
        listing = "".join(f"crawl-data/CC-NEWS/2026/11/{n}\n" for n in NAMES).encode()
        server.route(PREFIX + "warc.paths.gz", Reply(body=gzip.compress(listing),
                                                     content_type="application/gzip"))  # fmt: skip
        yield Served(server, files, server.url(PREFIX + "warc.paths.gz"))


def _run(served: Served, tmp: Path, mp: pytest.MonkeyPatch) -> RunSummary:
    sources = tmp / "sources.toml"
    if not sources.exists():
        sources.write_text(
            f'[[source]]\nid = "ccnews"\nkind = "warc"\nlocation = "{served.listing}"\n'
            f"publishers = {json.dumps(PUBLISHERS)}\n",
            encoding="utf-8",
        )
    mp.setenv("NEWSFLOW_DATA_DIR", str(tmp / "data"))
    mp.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([served.server.netloc]))
    summary = backfill_date(run_date=DAY, sources_file=str(sources))
    assert isinstance(summary, RunSummary)
    return summary


def sql(data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


@dataclass(frozen=True)
class Backfilled:
    summary: RunSummary
    again: RunSummary
    data_dir: Path
    hits_first: dict[str, int]
    hits_again: dict[str, int]


@pytest.fixture(scope="module")
def backfilled(
    served: Served, prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Backfilled:
    tmp = tmp_path_factory.mktemp("archive-run")
    with pytest.MonkeyPatch.context() as mp:
        summary = _run(served, tmp, mp)
        first = {n: served.server.hits(PREFIX + n) for n in NAMES}
        again = _run(served, tmp, mp)
        second = {n: served.server.hits(PREFIX + n) - first[n] for n in NAMES}
    return Backfilled(summary, again, tmp / "data", first, second)


def _outcomes(data_dir: Path) -> list[tuple[str, str, str]]:
    """(raw_record_id, url, what became of it) of every article version and rejection."""
    return sql(
        data_dir,
        "SELECT raw_record_id, url, coalesce(duplicate_kind, 'article') FROM article_versions"
        " UNION ALL SELECT raw_record_id, url, reason FROM rejected ORDER BY ALL",
    )


def test_every_page_capture_of_the_day_ends_once_pointing_at_its_record(
    served: Served, backfilled: Backfilled
) -> None:
    files = served.files
    expected = sorted(
        f"{served.url(name)}#{offset}"
        for name in NAMES[:3]
        for offset, capture in files.pages[name]
        if capture.kind in ("response", "revisit") and (name, offset) != files.lost
    )
    outcomes = _outcomes(backfilled.data_dir)
    assert sorted(rid for rid, _, _ in outcomes) == expected
    reasons = {url: what for _, url, what in outcomes}
    assert reasons["https://blocked.example/story"] == "filtered_out"
    assert reasons["https://metro-ledger.example/gone"] == "http_404"
    assert reasons["https://metro-ledger.example/a.pdf"] == "non_html"
    assert sorted(what for what in reasons.values() if what.startswith("warc_")) == [
        "warc_revisit",
        "warc_truncated",
    ]


def test_the_syndicated_copy_is_a_duplicate_of_its_origin(
    backfilled: Backfilled, served: Served
) -> None:
    copy, origin = served.files.copy_of
    rows = sql(
        backfilled.data_dir,
        "SELECT d.url, o.url FROM duplicates AS d"
        " JOIN articles AS o ON o.article_id = d.duplicate_of",
    )
    assert rows == [(copy, origin)]


def test_each_file_of_the_day_has_its_checkpoint_and_the_next_days_is_not_read(
    served: Served, backfilled: Backfilled
) -> None:
    rows = sql(
        backfilled.data_dir,
        "SELECT location, records, corrupt, skipped_bytes > 0, problem, described"
        " FROM archive_files ORDER BY location",
    )
    assert [r[0] for r in rows] == [served.url(n) for n in NAMES[:4]]
    by_name = {r[0].rsplit("/", 1)[1]: r[1:] for r in rows}
    assert by_name[NAMES[0]][:4] == (8, 0, False, None)
    assert json.loads(by_name[NAMES[0]][4]) == {"warcinfo": 1}
    assert by_name[NAMES[1]][1:4] == (1, True, None)
    assert json.loads(by_name[NAMES[1]][4]) == {"metadata": 1, "request": 1}
    assert by_name[NAMES[3]][0] == 0
    assert by_name[NAMES[3]][3].startswith("not a WARC file")
    assert backfilled.hits_first[NAMES[4]] == 0
    assert list((backfilled.data_dir / "downloads").iterdir()) == []  # removed once read
    assert backfilled.summary.status == "completed_with_failures"
    assert any(NAMES[3] in failure for failure in backfilled.summary.failures)


def test_the_part_of_a_file_that_is_not_a_warc_is_recorded_as_failed(
    backfilled: Backfilled,
) -> None:
    parts = sql(
        backfilled.data_dir,
        "SELECT a.location, r.status, s.failed, s.problem FROM archive_files AS a"
        " JOIN runs AS r USING (run_id) JOIN source_runs AS s USING (run_id) ORDER BY a.location",
    )
    by_name = {location.rsplit("/", 1)[1]: rest for location, *rest in parts}
    status, failed, problem = by_name[NAMES[3]]
    assert (status, failed) == ("failed", True)
    assert "not a WARC file" in problem
    assert {tuple(by_name[n][:2]) for n in NAMES[:3]} == {("completed", False)}


def test_a_rerun_of_the_date_reads_no_file_again_and_keeps_the_rows(
    served: Served, backfilled: Backfilled
) -> None:
    assert set(backfilled.hits_again.values()) == {0}
    assert backfilled.again.rows_written.get("articles", 0) == 0


def test_a_run_cut_short_resumes_with_the_rest_and_ends_with_the_same_rows(
    served: Served,
    backfilled: Backfilled,
    prefect_harness: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("archive-resume")
    second = PREFIX + NAMES[1]
    with pytest.MonkeyPatch.context() as mp:
        served.server.route(second, Reply(status=503, body=b"try later"))
        try:
            cut = _run(served, tmp, mp)
        finally:
            served.server.route(
                second,
                Reply(body=served.files.blobs[NAMES[1]], content_type="application/octet-stream"),
            )
        hits = {n: served.server.hits(PREFIX + n) for n in NAMES}
        resumed = _run(served, tmp, mp)
    assert any(NAMES[1] in failure for failure in cut.failures)
    read_once = sql(tmp / "data", "SELECT location FROM archive_files ORDER BY location")
    assert [loc for (loc,) in read_once] == [served.url(n) for n in NAMES[:4]]
    assert served.server.hits(PREFIX + NAMES[0]) == hits[NAMES[0]]  # not read again
    assert resumed.status == backfilled.summary.status
    columns = "url, article_id, version, duplicate_of, duplicate_kind, cluster_id"
    assert sql(tmp / "data", f"SELECT {columns} FROM article_versions ORDER BY ALL") == sql(
        backfilled.data_dir, f"SELECT {columns} FROM article_versions ORDER BY ALL"
    )
    assert _outcomes(tmp / "data") == _outcomes(backfilled.data_dir)


def test_a_reprocess_reads_every_file_again_and_gives_the_same_rows(
    served: Served,
    backfilled: Backfilled,
    prefect_harness: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Its own warehouse: a copy of the backfilled one, so the other tests keep theirs.
    tmp = tmp_path_factory.mktemp("archive-reprocess")
    shutil.copytree(backfilled.data_dir, tmp / "data")
    shutil.copy(backfilled.data_dir.parent / "sources.toml", tmp / "sources.toml")
    before = {n: served.server.hits(PREFIX + n) for n in NAMES}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSFLOW_DATA_DIR", str(tmp / "data"))
        mp.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([served.server.netloc]))
        summary = reprocess(run_date=DAY, sources_file=str(tmp / "sources.toml"))
    assert isinstance(summary, RunSummary)
    assert [served.server.hits(PREFIX + n) - before[n] for n in NAMES[:4]] == [1, 1, 1, 1]
    # The first file is read again after the later ones are published: it still decides
    # without them, so the origin stays the origin.
    columns = "url, article_id, version, duplicate_of, duplicate_kind, cluster_id"
    assert sql(tmp / "data", f"SELECT {columns} FROM article_versions ORDER BY ALL") == sql(
        backfilled.data_dir, f"SELECT {columns} FROM article_versions ORDER BY ALL"
    )
    assert _outcomes(tmp / "data") == _outcomes(backfilled.data_dir)


LOCAL = '[[source]]\nid = "local"\nkind = "warc"\nlocation = "warcs"\n'


def _local_archive(tmp: Path, blob: bytes, name: str = NAMES[2], sources: str = LOCAL) -> Path:
    """A `warcs/` folder holding one WARC file, and a sources file naming the folder."""
    (tmp / "warcs").mkdir()
    (tmp / "warcs" / name).write_bytes(blob)
    path = tmp / "sources.toml"
    path.write_text(sources, encoding="utf-8")
    return path


@contextmanager
def _without_enrichment(tmp: Path) -> Iterator[None]:
    """Runs into `tmp/data` with NEWSFLOW_ENRICH=false."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSFLOW_DATA_DIR", str(tmp / "data"))
        mp.setenv("NEWSFLOW_ENRICH", "false")
        yield


def test_a_local_folder_source_without_enrichment_stores_articles_only(
    served: Served, prefect_harness: None, tmp_path: Path
) -> None:
    sources = _local_archive(tmp_path, served.files.blobs[NAMES[2]])
    folder = tmp_path / "warcs"
    (folder / "notes.txt").write_text("not an archive", encoding="utf-8")
    with _without_enrichment(tmp_path):
        summary = backfill_date(run_date=DAY, sources_file=str(sources))
    assert isinstance(summary, RunSummary)
    assert summary.status == "completed"
    rows = sql(tmp_path / "data", "SELECT raw_record_id FROM article_versions ORDER BY ALL")
    expected = [(f"{(folder / NAMES[2]).as_uri()}#{o}",) for o, _ in served.files.pages[NAMES[2]]]
    assert rows == sorted(expected)
    assert sql(tmp_path / "data", "SELECT count(*) FROM mentions") == [(0,)]


def test_a_page_cap_reads_that_many_pages_and_a_run_without_it_reads_the_file_again(
    served: Served, prefect_harness: None, tmp_path: Path
) -> None:
    sources = _local_archive(tmp_path, served.files.blobs[NAMES[2]])
    count = "SELECT count(*) FILTER (WHERE reason = 'over_cap'), count(*) FROM rejected"
    with _without_enrichment(tmp_path):
        backfill_date(run_date=DAY, sources_file=str(sources), max_articles=2)
        capped = sql(tmp_path / "data", "SELECT count(*) FROM article_versions")
        over = sql(tmp_path / "data", count)
        backfill_date(run_date=DAY, sources_file=str(sources))
    assert capped == [(2,)]
    assert over == [(3, 3)]
    assert sql(tmp_path / "data", "SELECT count(*) FROM article_versions") == [(5,)]
    assert sql(tmp_path / "data", count) == [(0, 0)]


def test_a_language_filter_rejects_the_articles_of_other_languages(
    served: Served, prefect_harness: None, tmp_path: Path
) -> None:
    filtered = LOCAL + 'languages = ["de", "fr"]\n'
    sources = _local_archive(tmp_path, served.files.blobs[NAMES[2]], sources=filtered)
    with _without_enrichment(tmp_path):
        backfill_date(run_date=DAY, sources_file=str(sources))
    assert sql(tmp_path / "data", "SELECT count(*) FROM article_versions") == [(0,)]
    rows = sql(tmp_path / "data", "SELECT stage, reason, detail FROM rejected")
    assert len(rows) == 5
    assert {r[:2] for r in rows} == {("extract", "filtered_out")}
    assert all(r[2].startswith("language: en is not one of") for r in rows)


def test_a_run_with_live_and_archive_sources_reports_both(
    served: Served, prefect_harness: None, tmp_path: Path
) -> None:
    day = date(2023, 10, 16)  # a date of the sample site's feeds
    live = (SEEDS_DIR / "sources.toml").read_text(encoding="utf-8")
    sources = _local_archive(
        tmp_path,
        served.files.blobs[NAMES[2]],
        name="CC-NEWS-20231016120000-00003.warc.gz",
        sources=live + "\n" + LOCAL,
    )
    with _without_enrichment(tmp_path):
        summary = backfill_date(run_date=day, sources_file=str(sources))
    assert isinstance(summary, RunSummary)
    stored = dict(
        sql(tmp_path / "data", "SELECT source_id, count(*) FROM article_versions GROUP BY 1")
    )
    counts = {c.source_id: c.new + c.duplicate for c in summary.per_source}
    assert stored["local"] == 5
    assert len(stored) > 1  # the live sources stored articles too
    assert {k: v for k, v in counts.items() if v} == stored
    assert summary.rows_written["articles"] == sum(stored.values())
    assert summary.status == "completed"


def test_a_folder_of_the_days_files_is_read_each_file_ahead_with_the_rows_of_one_at_a_time(
    served: Served,
    backfilled: Backfilled,
    prefect_harness: None,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A local file's first batch extracts while the part before it publishes; a remote file
    (the listing's) is downloaded in its own turn, so the backfilled run read none ahead."""
    folder = tmp_path / "warcs"
    folder.mkdir()
    for name in NAMES:
        (folder / name).write_bytes(served.files.blobs[name])
    sources = tmp_path / "sources.toml"
    sources.write_text(LOCAL + f"publishers = {json.dumps(PUBLISHERS)}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.INFO, "prefect.flow_runs"):
        mp.setenv("NEWSFLOW_DATA_DIR", str(tmp_path / "data"))
        summary = backfill_date(run_date=DAY, sources_file=str(sources))
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Started")]
    assert started == [
        f"Started reading {(folder / following).as_uri()} while {(folder / name).as_uri()}"
        " is deduplicated and published"
        for name, following in pairwise(NAMES[:4])
    ]
    assert isinstance(summary, RunSummary)
    assert summary.status == backfilled.summary.status

    def by_file(data_dir: Path) -> list[tuple[str, str, str]]:
        return sorted((rid.rsplit("/", 1)[1], u, what) for rid, u, what in _outcomes(data_dir))

    assert by_file(tmp_path / "data") == by_file(backfilled.data_dir)
    files = "SELECT location, records, pages, rejected, corrupt, problem FROM archive_files"
    assert [(loc.rsplit("/", 1)[1], *rest) for loc, *rest in sql(tmp_path / "data", files)] == [
        (loc.rsplit("/", 1)[1], *rest) for loc, *rest in sql(backfilled.data_dir, files)
    ]
    duplicates = "SELECT url, duplicate_kind FROM article_versions WHERE duplicate_of IS NOT NULL"
    assert sql(tmp_path / "data", duplicates) == sql(backfilled.data_dir, duplicates)


def test_an_error_reading_the_next_file_ahead_leaves_the_part_before_it_published(
    served: Served, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next file's error surfaces in its own turn, as without reading ahead: the part
    before it is published first, so a rerun resumes after it."""
    folder = tmp_path / "warcs"
    folder.mkdir()
    for name in NAMES[:2]:
        (folder / name).write_bytes(served.files.blobs[name])
    sources = tmp_path / "sources.toml"
    sources.write_text(LOCAL, encoding="utf-8")
    read = archives.archive.read_archive

    def failing_on_the_second(path: Path, *args: Any) -> Iterator[Any]:
        if path.name == NAMES[1]:
            raise RuntimeError("a reader bug")
        yield from read(path, *args)

    monkeypatch.setattr(archives.archive, "read_archive", failing_on_the_second)
    with _without_enrichment(tmp_path), pytest.raises(Exception, match="a reader bug"):
        backfill_date(run_date=DAY, sources_file=str(sources))
    published = sql(tmp_path / "data", "SELECT location FROM archive_files")
    assert published == [((folder / NAMES[0]).as_uri(),)]
