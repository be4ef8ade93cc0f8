"""Which files a `warc` source names, which captures its filters keep, and remote reading."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers import LoopbackServer, Reply, Request
from warcs import Capture, article_html, write_warc

from tasks.archive import (
    ArchiveRules,
    Downloader,
    file_name,
    is_remote,
    listed_files,
    listing_entries,
    sort_key,
)

HTML = article_html("A story", ["One paragraph of the story."])
WARC = "CC-NEWS-20261101000000-00001.warc.gz"


# ---------------------------------------------------------------- filters


def test_a_publisher_matches_its_host_written_with_a_trailing_dot() -> None:
    rules = ArchiveRules(max_bytes=1, publishers=("kept.example",))
    assert rules.refusal("https://www.kept.example./a", None) is None
    assert rules.refusal("https://KEPT.example/a", None) is None


def test_filter_refusals_name_the_filter_and_what_failed_it() -> None:
    rules = ArchiveRules(max_bytes=1, publishers=("kept.example",))
    assert rules.refusal("urn:uuid:1234", None) == (
        "publisher: no host is not one of the source's publishers"
    )
    assert rules.refusal("https://other.example/a", None) == (
        "publisher: other.example is not one of the source's publishers"
    )
    patterns = ArchiveRules(max_bytes=1, url_patterns=("/world/",))
    assert patterns.refusal("https://x.example/sport/1", None) == (
        "url_pattern: the URL matches none of the source's patterns"
    )


def test_the_date_window_includes_its_start_and_excludes_its_end() -> None:
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    rules = ArchiveRules(max_bytes=1, since=since, until=until)
    assert rules.refusal("https://x.example/a", since) is None
    assert rules.refusal("https://x.example/a", until) == (
        "warc_date: captured 2026-11-02T00:00:00+00:00, outside the source's window"
    )


# ---------------------------------------------------------------- which files


def test_http_and_https_locations_are_remote_and_files_are_not() -> None:
    assert is_remote("https://data.example/a.warc.gz")
    assert is_remote("http://data.example/a.warc.gz")
    assert not is_remote("file:///data/a.warc.gz")
    assert not is_remote("/data/a.warc.gz")


def test_listing_entries_resolve_under_the_base_even_with_a_leading_slash() -> None:
    text = f"/crawl/{WARC}\n/XL/{WARC}\n"
    assert listing_entries(text, "warc.paths", "https://mirror.example/cc/") == [
        f"https://mirror.example/cc/crawl/{WARC}",
        f"https://mirror.example/cc/XL/{WARC}",
    ]


def test_a_listing_without_base_resolves_at_its_hosts_root_or_beside_a_local_file() -> None:
    text = f"crawl/{WARC}\n"
    assert listing_entries(text, "http://data.example/a/b/warc.paths") == [
        f"http://data.example/crawl/{WARC}"
    ]
    assert listing_entries(text, "file:///data/cc/warc.paths") == [f"file:///data/cc/crawl/{WARC}"]


def test_a_local_listing_with_a_remote_base_names_remote_files(tmp_path: Path) -> None:
    listing = tmp_path / "warc.paths"
    listing.write_text(f"crawl/{WARC}\n")
    downloader = Downloader("newsflow-test", 1_000)
    assert listed_files(str(listing), "https://mirror.example/cc", downloader) == [
        f"https://mirror.example/cc/crawl/{WARC}"
    ]


def test_a_listing_that_is_not_utf8_is_refused_naming_the_listing(tmp_path: Path) -> None:
    listing = tmp_path / "warc.paths"
    listing.write_bytes(b"caf\xe9.warc.gz\n")
    with pytest.raises(ValueError, match=rf"^paths listing {listing} is not UTF-8 text: "):
        listed_files(str(listing), None, Downloader("newsflow-test", 1_000))


def test_a_bare_file_name_is_its_own_name() -> None:
    assert file_name(WARC) == WARC
    assert file_name("https://h/a%20b/c%20d.warc") == "c d.warc"


def test_files_are_read_in_name_order_then_by_place() -> None:
    files = [
        "https://a.example/CC-NEWS-2.warc.gz",
        "https://c.example/x/CC-NEWS-1.warc.gz",
        "https://b.example/CC-NEWS-1.warc.gz",
    ]
    assert sort_key(files) == [
        "https://b.example/CC-NEWS-1.warc.gz",
        "https://c.example/x/CC-NEWS-1.warc.gz",
        "https://a.example/CC-NEWS-2.warc.gz",
    ]


# ---------------------------------------------------------------- remote files


def _downloader(server: LoopbackServer, max_bytes: int = 10_000_000) -> Downloader:
    return Downloader("newsflow-test", max_bytes, allow_private=frozenset({server.netloc}))


def test_a_remote_listing_is_read_decoded_up_to_the_cap(tmp_path: Path) -> None:
    text = f"crawl/{WARC}\n".encode()
    routes = {
        "/gz.paths": Reply(body=gzip.compress(text), headers=(("Content-Encoding", "gzip"),)),
        "/exact.paths": Reply(body=b"x" * 100),
        "/over.paths": Reply(body=b"x" * 101),
    }
    with LoopbackServer(routes) as server:
        assert _downloader(server).fetch(server.url("/gz.paths")) == text
        assert _downloader(server, 100).fetch(server.url("/exact.paths")) == b"x" * 100
        with pytest.raises(ValueError, match=r"over\.paths is larger than 100 bytes$"):
            _downloader(server, 100).fetch(server.url("/over.paths"))


def test_a_download_may_be_exactly_the_cap_and_no_larger(tmp_path: Path) -> None:
    chunk = b"y" * (1 << 19)  # half a read: the 3 MiB file comes in several reads
    routes = {"/exact": Reply(body=b"x" * 100), "/big": Reply(body=chunk, repeat=6)}
    with LoopbackServer(routes) as server:
        saved = _downloader(server, 100).save(server.url("/exact"), tmp_path / "exact")
        assert saved.read_bytes() == b"x" * 100
        with pytest.raises(ValueError, match=r"/big is larger than 2000000 bytes$"):
            _downloader(server, 2_000_000).save(server.url("/big"), tmp_path / "big")
        with pytest.raises(ValueError, match="larger than 100 bytes"):
            _downloader(server, 100).save(server.url("/big"), tmp_path / "big")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exact"]  # no .partial left behind


def _ranged(data: bytes, seen: list[str]) -> Callable[[Request], Reply]:
    def reply(request: Request) -> Reply:
        wanted = request.headers.get("range", "")
        seen.append(wanted)
        start = int(wanted.removeprefix("bytes=").removesuffix("-") or 0)
        if not wanted:
            return Reply(body=data, content_type="application/warc")
        return Reply(status=206, body=data[start:], content_type="application/warc")

    return reply


def test_a_remote_record_is_read_by_asking_for_its_byte_range(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    seen: list[str] = []
    with LoopbackServer({"/a.warc.gz": _ranged(path.read_bytes(), seen)}) as server:
        url = server.url("/a.warc.gz")
        page = _downloader(server).record_at(url, offsets[1])
        first = _downloader(server).record_at(url, 0)
    assert (page.url, page.body) == ("https://x.example/1", HTML)
    assert page.raw_record_id == f"{url}#{offsets[1]}"
    assert first.url == "https://x.example/0"
    assert seen == [f"bytes={offsets[1]}-", ""]


def test_a_server_that_ignores_the_range_has_the_bytes_before_the_record_skipped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(4)])
    data = path.read_bytes()
    with LoopbackServer({"/a.warc.gz": Reply(body=data, content_type=None)}) as server:
        url = server.url("/a.warc.gz")
        page = _downloader(server).record_at(url, offsets[3])
        assert (page.url, page.raw_record_id) == ("https://x.example/3", f"{url}#{offsets[3]}")
        with pytest.raises(ValueError, match=r"^the file is shorter than the record's offset$"):
            _downloader(server).record_at(url, len(data) + 10)
    with (
        LoopbackServer({"/a.warc.gz": Reply(status=404)}) as server,
        pytest.raises(OSError, match="answered 404"),
    ):
        _downloader(server).record_at(server.url("/a.warc.gz"), offsets[1])
