"""Reading WARC files as a source: every page capture ends as one page or one rejection."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from servers import LoopbackServer, Reply
from warcs import Capture, article_html, record_bytes, write_warc

from tasks.archive import (
    ArchiveRules,
    Downloader,
    FileTally,
    decode_listing,
    file_day,
    file_name,
    files_of_day,
    first_record_day,
    listing_entries,
    local_files,
    read_archive,
    read_one,
)
from tasks.records import FetchedPage, Rejected

HTML = article_html("A story", ["One paragraph of the story."])
RULES = ArchiveRules(max_bytes=100_000)


def _read(
    path: Path, rules: ArchiveRules = RULES
) -> tuple[list[FetchedPage | Rejected], FileTally]:
    tally = FileTally()
    outcomes = list(read_archive(path, path.as_uri(), "src", rules, tally))
    return outcomes, tally


def _reasons(outcomes: list[FetchedPage | Rejected]) -> dict[str, str | None]:
    return {o.url: (o.reason if isinstance(o, Rejected) else None) for o in outcomes}


def test_each_page_capture_is_one_outcome_that_points_at_its_record(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    captures = [Capture(f"https://news.example/{n}", HTML) for n in range(3)]
    offsets = write_warc(path, captures)
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == [c.url for c in captures]
    assert [o.raw_record_id for o in outcomes] == [f"{path.as_uri()}#{n}" for n in offsets]
    assert all(isinstance(o, FetchedPage) and o.body == HTML for o in outcomes)
    assert tally.records == 3
    assert tally.corrupt == 0
    assert tally.problem is None
    again = read_one(path, path.as_uri(), offsets[1], 100_000)
    assert again.url == "https://news.example/1"
    assert again.body == HTML


def test_page_keeps_capture_time_status_headers_and_charset(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    body = "<html><body><p>Café crème</p></body></html>".encode("latin-1")
    write_warc(
        path,
        [
            Capture(
                "https://x.example/a",
                body,
                content_type="text/html; charset=iso-8859-1",
                date="2026-11-01T23:59:58Z",
            )
        ],
    )
    [page], _ = _read(path)
    assert isinstance(page, FetchedPage)
    assert page.fetched_at == datetime(2026, 11, 1, 23, 59, 58, tzinfo=UTC)
    assert page.status == 200
    assert page.encoding is not None
    assert body.decode(page.encoding) == "<html><body><p>Café crème</p></body></html>"
    assert ("Content-Type", "text/html; charset=iso-8859-1") in page.headers


def test_bad_records_get_a_reason_each(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    chunks = gzip.compress(HTML, mtime=0)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunks), chunks)
    write_warc(
        path,
        [
            Capture(
                "https://x.example/revisit",
                kind="revisit",
                warc_headers={
                    "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
                },
            ),
            Capture("https://x.example/truncated", HTML, warc_headers={"WARC-Truncated": "length"}),
            Capture("https://x.example/not-http", raw_block=b"just some bytes"),
            Capture("https://x.example/gone", HTML, status=404),
            Capture("https://x.example/moved", HTML, status=301),
            Capture("https://x.example/pdf", b"%PDF-1.7", content_type="application/pdf"),
            Capture("https://x.example/big", b"<p>" + b"x" * 200_000 + b"</p>"),
            Capture(
                "https://x.example/bad-gzip",
                b"not gzip at all",
                http_headers=(("Content-Encoding", "gzip"),),
            ),
            Capture(
                "https://x.example/chunked-gzip",
                chunked,
                http_headers=(("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")),
            ),
            Capture("https://x.example/resource", HTML, kind="resource", content_type="text/html"),
        ],
    )
    outcomes, tally = _read(path)
    assert _reasons(outcomes) == {
        "https://x.example/revisit": "warc_revisit",
        "https://x.example/truncated": "warc_truncated",
        "https://x.example/not-http": "not_http",
        "https://x.example/gone": "http_404",
        "https://x.example/moved": "http_3xx",
        "https://x.example/pdf": "non_html",
        "https://x.example/big": "too_large",
        "https://x.example/bad-gzip": "bad_encoding",
        "https://x.example/chunked-gzip": None,
        "https://x.example/resource": None,
    }
    decoded = {o.url: o for o in outcomes if isinstance(o, FetchedPage)}
    assert decoded["https://x.example/chunked-gzip"].body == HTML
    assert decoded["https://x.example/resource"].body == HTML
    assert all(o.stage == "archive" for o in outcomes if isinstance(o, Rejected))
    assert tally.corrupt == 0


def test_records_that_only_describe_captures_are_counted_not_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    write_warc(
        path,
        [
            Capture("", b"software: test", kind="warcinfo", content_type="application/warc-fields"),
            Capture(
                "https://x.example/a",
                b"GET /a HTTP/1.1\r\n\r\n",
                kind="request",
                content_type="application/http; msgtype=request",
            ),
            Capture("https://x.example/a", HTML),
            Capture(
                "https://x.example/a",
                b"fetchTimeMs: 12",
                kind="metadata",
                content_type="application/warc-fields",
            ),
        ],
    )
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/a"]
    assert tally.records == 4
    assert dict(tally.described) == {"warcinfo": 1, "request": 1, "metadata": 1}


@pytest.mark.parametrize("compress", [True, False])
def test_a_damaged_record_is_skipped_and_the_rest_of_the_file_read(
    tmp_path: Path, compress: bool
) -> None:
    path = tmp_path / ("a.warc.gz" if compress else "a.warc")
    captures = [Capture(f"https://x.example/{n}", HTML) for n in range(5)]
    offsets = write_warc(path, captures, compress=compress)
    data = bytearray(path.read_bytes())
    start = offsets[2] + (30 if compress else 0)  # inside the third gzip member, or its header
    data[start : start + 12] = b"\x00garbage\x00\xff\xfe\x00"
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == [captures[n].url for n in (0, 1, 3, 4)]
    assert tally.corrupt == 1
    assert tally.skipped_bytes == offsets[3] - offsets[2]


def test_a_file_cut_short_keeps_what_came_before_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    path.write_bytes(path.read_bytes()[: offsets[2] + 40])
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/1"]
    assert tally.corrupt == 1
    assert tally.problem is None


@pytest.mark.parametrize(
    "content", [b"<html>not an archive</html>" * 10, gzip.compress(b"hello\n" * 100)]
)
def test_a_file_that_is_not_a_warc_is_a_problem_of_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.warc.gz"
    path.write_bytes(content)
    outcomes, tally = _read(path)
    assert outcomes == []
    assert tally.problem is not None
    assert tally.problem.startswith("not a WARC file")


def test_filters_reject_with_the_filter_named(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    write_warc(
        path,
        [
            Capture("https://www.kept.example/world/1", HTML),
            Capture("https://kept.example/world/2", HTML),
            Capture("https://kept.example.evil.test/world/3", HTML),
            Capture("https://kept.example/sport/4", HTML),
            Capture("https://kept.example/world/5", HTML, date="2026-10-31T23:59:59Z"),
        ],
    )
    rules = ArchiveRules(
        max_bytes=100_000,
        publishers=("kept.example",),
        url_patterns=(r"/world/",),
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 11, 2, tzinfo=UTC),
    )
    outcomes, _ = _read(path, rules)
    kept = [o.url for o in outcomes if isinstance(o, FetchedPage)]
    details = {o.url: o.detail.split(":")[0] for o in outcomes if isinstance(o, Rejected)}
    assert kept == ["https://www.kept.example/world/1", "https://kept.example/world/2"]
    assert details == {
        "https://kept.example.evil.test/world/3": "publisher",
        "https://kept.example/sport/4": "url_pattern",
        "https://kept.example/world/5": "warc_date",
    }
    assert {o.reason for o in outcomes if isinstance(o, Rejected)} == {"filtered_out"}


def test_a_files_day_is_the_timestamp_in_its_name() -> None:
    assert file_day(
        "https://h/crawl-data/CC-NEWS/2026/11/CC-NEWS-20261101083015-00042.warc.gz"
    ) == date(2026, 11, 1)
    assert file_day("file:///d/crawl-20261231235959.warc") == date(2026, 12, 31)
    assert file_day("file:///d/mycrawl.warc.gz") is None
    assert file_day("file:///d/x-20261399000000.warc.gz") is None  # no 13th month


def test_an_undated_files_day_is_its_first_records(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    write_warc(path, [Capture("https://x.example/", HTML, date="2026-11-03T01:02:03+02:00")])
    with path.open("rb") as handle:
        assert first_record_day(handle) == date(2026, 11, 2)  # in UTC


def test_a_listing_names_files_from_the_hosts_root_unless_a_base_is_given() -> None:
    text = "# CC-NEWS\ncrawl-data/CC-NEWS/2026/11/CC-NEWS-20261101000000-00001.warc.gz\n\n"
    listing = "https://data.example/crawl-data/CC-NEWS/2026/11/warc.paths.gz"
    assert listing_entries(text, listing) == [
        "https://data.example/crawl-data/CC-NEWS/2026/11/CC-NEWS-20261101000000-00001.warc.gz"
    ]
    assert listing_entries(text, listing, "https://mirror.example/cc") == [
        "https://mirror.example/cc/crawl-data/CC-NEWS/2026/11/CC-NEWS-20261101000000-00001.warc.gz"
    ]
    with pytest.raises(ValueError, match=r"line 2.*not a \.warc"):
        listing_entries("a.warc.gz\nindex.html\n", listing)
    assert decode_listing(gzip.compress(text.encode()), "warc.paths.gz") == text
    with pytest.raises(ValueError, match="not valid gzip"):
        decode_listing(b"\x1f\x8bnot gzip", "warc.paths.gz")


def test_a_local_location_is_a_file_a_folder_or_a_glob(tmp_path: Path) -> None:
    for name in ("b.warc.gz", "a.warc", "notes.txt"):
        (tmp_path / name).write_bytes(record_bytes(Capture("https://x.example/", HTML)))
    uris = [(tmp_path / n).as_uri() for n in ("a.warc", "b.warc.gz")]
    assert local_files(str(tmp_path)) == uris
    assert local_files(str(tmp_path / "*.warc*")) == uris
    assert local_files(str(tmp_path / "a.warc")) == uris[:1]
    with pytest.raises(FileNotFoundError, match="no WARC file"):
        local_files(str(tmp_path / "missing.warc.gz"))
    with pytest.raises(FileNotFoundError, match="holds no"):
        local_files(str(tmp_path / "*.nothing"))


def _downloader(*servers: LoopbackServer) -> Downloader:
    allowed = frozenset(s.netloc for s in servers)
    return Downloader("newsflow-test", 10_000_000, allow_private=allowed)


def test_a_days_files_are_those_named_for_it_or_starting_on_it(tmp_path: Path) -> None:
    for name, day in (("CC-NEWS-20261101230000-00001.warc.gz", "2026-11-02T01:00:00Z"),
                      ("CC-NEWS-20261102000000-00002.warc.gz", "2026-11-01T23:00:00Z")):
        write_warc(tmp_path / name, [Capture("https://x.example/a", HTML, date=day)])
    late = Capture("https://x.example/c", HTML, date="2026-11-02T05:00:00Z")
    write_warc(tmp_path / "own.warc", [late], compress=False)  # fmt: skip
    day = files_of_day(str(tmp_path), None, date(2026, 11, 2), _downloader())
    assert [file_name(f) for f in day] == ["CC-NEWS-20261102000000-00002.warc.gz", "own.warc"]
    assert all(f.startswith("file:///") for f in day)


def test_a_local_listing_names_files_beside_it_as_file_urls(tmp_path: Path) -> None:
    (tmp_path / "cc").mkdir()
    name = "CC-NEWS-20261101000000-00001.warc.gz"
    write_warc(tmp_path / "cc" / name, [Capture("https://x.example/", HTML)])
    (tmp_path / "warc.paths").write_text("cc/CC-NEWS-20261101000000-00001.warc.gz\n")
    found = files_of_day(str(tmp_path / "warc.paths"), None, date(2026, 11, 1), _downloader())
    assert found == [(tmp_path / "cc" / name).as_uri()]
    elsewhere = files_of_day(str(tmp_path / "warc.paths"), str(tmp_path / "mirror"),
                             date(2026, 11, 1), _downloader())  # fmt: skip
    assert elsewhere == [(tmp_path / "mirror" / "cc" / name).as_uri()]


def test_a_remote_undated_files_day_comes_from_its_first_record(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    write_warc(path, [Capture("https://x.example/", HTML, date="2026-11-03T10:00:00Z")] * 50)
    with LoopbackServer({"/crawl.warc.gz": Reply(body=path.read_bytes())}) as server:
        url = server.url("/crawl.warc.gz")
        assert files_of_day(url, None, date(2026, 11, 3), _downloader(server)) == [url]
        assert files_of_day(url, None, date(2026, 11, 4), _downloader(server)) == []
        with pytest.raises(OSError, match="refused"):
            files_of_day(url, None, date(2026, 11, 3), _downloader())  # loopback not allowed


def test_files_served_with_content_encoding_gzip_keep_their_bytes_and_offsets(
    tmp_path: Path,
) -> None:
    path = tmp_path / "CC-NEWS-20261101000000-00001.warc.gz"
    write_warc(path, [Capture("https://x.example/", HTML)])
    listing = gzip.compress(b"crawl/CC-NEWS-20261101000000-00001.warc.gz\n")
    encoded = (("Content-Encoding", "gzip"),)  # as some servers label .gz files
    routes = {
        "/crawl/" + path.name: Reply(body=path.read_bytes(), headers=encoded),
        "/warc.paths.gz": Reply(body=listing, headers=encoded),
    }
    with LoopbackServer(routes) as server:
        downloader = _downloader(server)
        found = files_of_day(server.url("/warc.paths.gz"), None, date(2026, 11, 1), downloader)
        assert found == [server.url("/crawl/CC-NEWS-20261101000000-00001.warc.gz")]
        saved = downloader.save(found[0], tmp_path / "copy")
    assert saved.read_bytes() == path.read_bytes()
