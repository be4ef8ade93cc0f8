"""The raw archive: WARC/1.1, one gzip member per record, published with the run."""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import re
import time
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lakedata import file_size_limit, noise, pages
from warcio.archiveiterator import ArchiveIterator

from tasks.records import Discovered, FetchedPage
from warehouse.lake import StorageError, raw_partition, staging_dir
from warehouse.raw import (
    CorruptRawArchive,
    RawArchive,
    archive_name,
    archives_of,
    read_archives,
    read_pages,
    read_record,
    remove_unreferenced,
)

DAY = date(2026, 11, 27)
SCOPE = "ingest-1"


def _binary_page() -> FetchedPage:
    return FetchedPage(
        source_id="s",
        url="http://b.test/x",
        final_url="http://b.test/y: a colon and a space",
        status=404,
        content_type=None,
        body=b"\x00\xff\r\n\r\nWARC/1.1\r\nnot a header",
        fetched_at=datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC),
        headers=(
            ("Content-Encoding", "gzip"),
            ("Set-Cookie", "id=1"),
            ("X-Thing", "kept"),
            ("Link", "<http://b.test/y>; rel=canonical"),
        ),
    )


def _final(archive: RawArchive, ids: list[str]) -> list[str]:
    return archive.resolve(pa.array(ids)).to_pylist()


@dataclass(frozen=True)
class _Seen:
    """A record as warcio, an independent reader, sees it: no HTTP parsing, the whole block."""

    offset: int
    headers: dict[str, str]
    block: bytes

    @property
    def type(self) -> str:
        return self.headers["WARC-Type"]

    @property
    def record_id(self) -> str:
        return self.headers["WARC-Record-ID"]


def _seen(path: Path) -> list[_Seen]:
    seen = []
    with path.open("rb") as handle:
        records = ArchiveIterator(handle, no_record_parse=True)
        for record in records:
            block = record.raw_stream.read()
            headers = dict(record.rec_headers.headers)
            seen.append(_Seen(records.get_record_offset(), headers, block))
    return seen


def test_pages_read_back_as_written(tmp_path: Path) -> None:
    written = [*pages(DAY, "new"), _binary_page()]
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        ids = [archive.append(page) for page in written]
    path = archive.publish()

    assert path.parent == raw_partition(tmp_path, DAY)
    assert path.name.startswith(f"{SCOPE}.")
    assert path.name.endswith(".warc.gz")
    assert ids[0] == f"2026-11-27/{SCOPE}.pending.warc.gz#0"
    assert _final(archive, ids)[0] == f"2026-11-27/{path.name}#0"
    assert archive_name(_final(archive, ids)[0]) == archive.name
    back = list(read_archives(tmp_path, [archive.name]))
    assert [p.raw_record_id for p in back] == _final(archive, ids)
    for before, after in zip(written, back, strict=True):
        assert after.body == before.body
        assert (after.url, after.final_url, after.status) == (
            before.url,
            before.final_url,
            before.status,
        )
        assert after.source_id == before.source_id
        assert after.fetched_at == before.fetched_at
        assert after.discovered == before.discovered
        assert after.content_type == before.content_type
    assert back[0].headers == written[0].headers
    assert dict(back[-1].headers) == {  # framing and cookies left out
        "X-Thing": "kept",
        "Link": "<http://b.test/y>; rel=canonical",
    }


def test_one_record_is_read_by_its_id(tmp_path: Path) -> None:
    written = pages(DAY, "new")
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        ids = [archive.append(page) for page in written]
    archive.publish()
    final = _final(archive, ids)
    page = read_record(tmp_path, final[3])
    assert page.body == written[3].body
    assert page.discovered == written[3].discovered
    with pytest.raises(CorruptRawArchive):
        read_record(tmp_path, final[3].replace("#", "#1"))
    with pytest.raises(CorruptRawArchive):
        read_record(tmp_path, ids[3])  # a provisional id names no published archive


def test_archive_is_standard_gzip_and_warc(tmp_path: Path) -> None:
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(pages(DAY, "old")[0])
    path = archive.publish()
    text = gzip.decompress(path.read_bytes())
    assert text.startswith(b"WARC/1.1\r\nWARC-Type: response\r\n")
    records = _seen(path)
    assert [r.type for r in records] == ["response", "metadata"]
    assert records[1].headers["WARC-Concurrent-To"] == records[0].record_id
    assert records[0].record_id != records[1].record_id
    assert records[0].headers["Content-Type"] == "application/http;msgtype=response"
    assert records[1].headers["Content-Type"] == "application/json"
    assert records[0].block.startswith(b"HTTP/1.1 200 OK\r\n")
    body = pages(DAY, "old")[0].body
    assert records[0].block.endswith(b"\r\n\r\n" + body)
    payload_digest = records[0].headers["WARC-Payload-Digest"]
    sha1 = hashlib.sha1(body, usedforsecurity=False).digest()
    assert payload_digest == "sha1:" + base64.b32encode(sha1).decode()
    for record in records:
        assert int(record.headers["Content-Length"]) == len(record.block)
        algorithm, _, digest = record.headers["WARC-Block-Digest"].partition(":")
        assert base64.b32decode(digest) == hashlib.new(algorithm, record.block).digest()
        member = path.read_bytes()[record.offset :]
        inflater = zlib.decompressobj(wbits=31)  # one gzip member for exactly one record
        assert inflater.decompress(member).endswith(record.block + b"\r\n\r\n")
        assert inflater.eof


def test_record_ids_differ_between_archives_of_other_scopes(tmp_path: Path) -> None:
    ids = []
    for scope in (SCOPE, SCOPE + "-b"):
        with RawArchive(tmp_path, DAY, scope) as archive:
            archive.append(pages(DAY, "new")[0])
        ids.append([r.record_id for r in _seen(archive.publish())])
    assert not set(ids[0]) & set(ids[1])


def test_an_unknown_status_gets_an_empty_reason_phrase(tmp_path: Path) -> None:
    page = replace(pages(DAY, "new")[0], status=599)
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(page)
    records = _seen(archive.publish())
    assert records[0].block.startswith(b"HTTP/1.1 599 \r\n")  # RFC 9112: SP, empty phrase
    (back,) = read_archives(tmp_path, [archive.name])
    assert back.status == 599


def test_warc_dates_are_utc_whatever_the_local_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        when = datetime(2026, 11, 27, 6, 2, 3, 4, tzinfo=timezone(timedelta(hours=2)))
        with RawArchive(tmp_path, DAY, SCOPE) as archive:
            archive.append(replace(pages(DAY, "new")[0], fetched_at=when))
        records = _seen(archive.publish())
        (back,) = read_archives(tmp_path, [archive.name])
    finally:
        monkeypatch.undo()
        time.tzset()
    assert records[0].headers["WARC-Date"] == "2026-11-27T04:02:03.000004Z"
    assert back.fetched_at == when


def test_the_content_type_is_kept_once_whether_or_not_a_header_said_it(tmp_path: Path) -> None:
    new = pages(DAY, "new")
    written = [
        replace(new[0], headers=(("X-Thing", "a"),)),  # the fetch knew it, no header said it
        replace(new[1], headers=(("content-type", "text/html; charset=utf-8"),)),
    ]
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        for page in written:
            archive.append(page)
    archive.publish()
    back = list(read_archives(tmp_path, [archive.name]))
    assert [p.content_type for p in back] == [p.content_type for p in written]
    assert [[k.lower() for k, _ in p.headers].count("content-type") for p in back] == [1, 1]


def test_header_values_cannot_break_the_record(tmp_path: Path) -> None:
    page = replace(
        pages(DAY, "new")[0],
        headers=(("X-Note", "one\r\nX-Injected: yes\rtwo\nthree"), ("X-Title", "Zürich € 日本")),
    )
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(page)
    archive.publish()
    (back,) = read_archives(tmp_path, [archive.name])
    assert dict(back.headers) == {
        "X-Note": "one  X-Injected: yes two three",  # line breaks become spaces
        "X-Title": "Zürich ? ??",  # HTTP header bytes are Latin-1: other characters are lost
        "Content-Type": page.content_type,
    }


def test_everything_discovery_said_is_kept(tmp_path: Path) -> None:
    when = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    found = Discovered(
        url="http://a.test/x",
        source_id="outlet-a",
        found_in="http://a.test/news-sitemap.xml",
        title="A title",
        published_at=when,
        modified_at=when + timedelta(hours=1),
        authors=("Ann", "Bo"),
        found_by="news_sitemap",
        language="de",
        keywords=("wahl", "bund"),
        publication="Der Kurier",
        categories=("Politik", "Wahl 2025"),
    )
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(replace(pages(DAY, "new")[0], discovered=found))
    archive.publish()
    (back,) = read_archives(tmp_path, [archive.name])
    assert back.discovered == found


def test_a_page_larger_than_a_read_chunk_reads_back(tmp_path: Path) -> None:
    new = pages(DAY, "new")
    written = [replace(p, body=noise(200_000, seed=i).encode()) for i, p in enumerate(new)]
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        ids = [archive.append(page) for page in written]
    archive.publish()
    assert [p.body for p in read_archives(tmp_path, [archive.name])] == [p.body for p in written]
    assert read_record(tmp_path, _final(archive, ids)[-1]).body == written[-1].body


def test_ids_are_made_final_only_once_the_archive_is_closed(tmp_path: Path) -> None:
    other = "2026-11-26/ingest-0.0123456789abcdef.warc.gz#42"
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        pending = archive.append(pages(DAY, "new")[0])
        with pytest.raises(RuntimeError, match="still open"):
            archive.resolve(pa.array([other, pending]))
        assert archive.resolve(pa.array([other, None])).to_pylist() == [other, None]
        with pytest.raises(RuntimeError, match="not closed yet"):
            _ = archive.final_path
    assert _final(archive, [other, pending, None]) == [other, f"{archive.name}#0", None]


def test_a_staged_archive_that_lost_records_is_not_published(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path, DAY, SCOPE)
    for page in pages(DAY, "new")[:3]:
        archive.append(page)
    archive.close()
    members = _members(archive.staged_path)
    archive.staged_path.write_bytes(b"".join(members[:4]))  # a write the disk dropped
    with pytest.raises(CorruptRawArchive, match="wrote 3 pages, read back 4 records"):
        archive.publish()
    archive.discard()
    assert archives_of(tmp_path, DAY, SCOPE) == []
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_publishing_calls_the_step_hook_just_before_the_archive_appears(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(pages(DAY, "new")[0])
    path = archive.publish(lambda step: seen.append((step, archive.final_path.exists())))
    assert seen == [("rename:raw", False)]
    assert path.exists()


def test_a_full_disk_names_the_staged_archive(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path, DAY, SCOPE)
    big = replace(pages(DAY, "new")[0], body=noise(100_000).encode())
    with file_size_limit(1000), pytest.raises(StorageError) as failure:
        archive.append(big)
    message = str(failure.value)
    assert message.startswith(f"cannot write {archive.staged_path} in data dir {tmp_path}: ")
    archive.discard()
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_discarding_on_a_full_disk_still_cleans_up(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path, DAY, SCOPE)
    archive.append(pages(DAY, "new")[0])  # still in the write buffer
    with file_size_limit(0):
        archive.discard()  # the last flush fails: the file goes anyway
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_a_full_disk_at_close_names_the_staged_archive_and_discard_still_cleans_up(
    tmp_path: Path,
) -> None:
    archive = RawArchive(tmp_path, DAY, SCOPE)
    archive.append(pages(DAY, "new")[0])  # still in the write buffer
    with file_size_limit(0), pytest.raises(StorageError) as failure:
        archive.close()
    message = str(failure.value)
    assert message.startswith(f"cannot write {archive.staged_path} in data dir {tmp_path}: ")
    archive.discard()
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_same_pages_give_the_same_bytes(tmp_path: Path) -> None:
    paths = []
    for name in ("a", "b"):
        with RawArchive(tmp_path / name, DAY, SCOPE) as archive:
            for page in pages(DAY, "new"):
                archive.append(page)
        paths.append(archive.publish())
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_truncated_archive_is_reported(tmp_path: Path) -> None:
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        for page in pages(DAY, "new"):
            archive.append(page)
    path = archive.publish()
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CorruptRawArchive, match="truncated"):
        list(read_pages(path))


def _members(path: Path) -> list[bytes]:
    """The gzip members of an archive, one per record."""
    data = path.read_bytes()
    offsets = [r.offset for r in _seen(path)] + [len(data)]
    return [data[a:b] for a, b in itertools.pairwise(offsets)]


def _handmade(data_dir: Path, data: bytes) -> Path:
    path = raw_partition(data_dir, DAY) / "handmade.warc.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_records_without_their_partner_are_read_as_far_as_they_go(tmp_path: Path) -> None:
    written = pages(DAY, "new")[:3]
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        for page in written:
            archive.append(page)
    r0, m0, r1, m1, r2, m2 = _members(archive.publish())
    # pages 0 and 2 get their metadata records out of place: neither is taken for theirs
    path = _handmade(tmp_path, r0 + m2 + r1 + m1 + m0 + r2)

    back = list(read_pages(path))
    assert [p.final_url for p in back] == [p.final_url for p in written]
    assert [p.body for p in back] == [p.body for p in written]
    # without its metadata a page is known by the URL that answered, and nothing else
    assert [p.url for p in back] == [written[0].final_url, written[1].url, written[2].final_url]
    assert [p.source_id for p in back] == ["", written[1].source_id, ""]
    assert [p.discovered for p in back] == [None, written[1].discovered, None]
    for page in back:
        assert read_record(tmp_path, page.raw_record_id) == page


def _warc(*blocks: bytes) -> bytes:
    """Handmade records, one gzip member each."""
    return b"".join(gzip.compress(block, mtime=0) for block in blocks)


def test_damaged_records_say_what_is_wrong_and_where(tmp_path: Path) -> None:
    # a record that ends right after its block is complete: the block is Content-Length bytes
    good = b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n"
    response = b"WARC/1.1\r\nWARC-Type: response\r\nContent-Type: application/http;msgtype=response"
    cases = {  # None: what the WARC library says is wrong
        b"HTTP/1.1 200 OK\r\n\r\nhello": None,
        b"WARC/1.1 and no end of the header": None,
        b"WARC/1.1\r\nWARC-Type: resource\r\n\r\nabc": "no Content-Length",
        b"WARC/1.1\r\nContent-Length: 9\r\n\r\nabc": "block shorter than Content-Length",
        response + b"\r\nContent-Length: 9\r\n\r\nnot HTTP!\r\n\r\n": "not an HTTP response",
    }
    for block, problem in cases.items():
        path = _handmade(tmp_path, _warc(good, block))
        where = re.escape(f"{path}#{len(_warc(good))}: ")
        with pytest.raises(CorruptRawArchive, match=f"^{where}{re.escape(problem or '')}"):
            list(read_pages(path))
    assert list(read_pages(_handmade(tmp_path, _warc(good)))) == []  # not a page: skipped
    http = b"HTTP/1.1 200 OK\r\n\r\nhi"
    latin = response + b"\r\nWARC-Date: 2026-11-27T00:00:00Z\r\n"
    latin += b"WARC-Target-URI: http://b.test/caf\xe9\r\nContent-Length: %d\r\n\r\n" % len(http)
    (page,) = read_pages(_handmade(tmp_path, _warc(latin + http + b"\r\n\r\n")))
    assert page.final_url == "http://b.test/caf\ufffd"  # not UTF-8: read all the same
    assert page.body == b"hi"


def test_a_damaged_gzip_member_is_reported_with_its_offset(tmp_path: Path) -> None:
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        for page in pages(DAY, "new")[:2]:
            archive.append(page)
    path = archive.publish()
    intact = _members(path)
    for index in range(len(intact)):
        members = list(intact)
        damaged = bytearray(members[index])
        damaged[-8] ^= 0xFF  # the member's CRC
        members[index] = bytes(damaged)
        path.write_bytes(b"".join(members))
        offset = len(b"".join(members[:index]))
        where = re.escape(f"{path}#{offset}: damaged gzip member")
        with pytest.raises(CorruptRawArchive, match=f"^{where} "):
            list(read_pages(path))


def test_an_archive_cut_anywhere_but_between_records_is_reported(tmp_path: Path) -> None:
    written = pages(DAY, "new")[:2]
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        for page in written:
            archive.append(page)
    path = archive.publish()
    data = path.read_bytes()
    starts = [0, *itertools.accumulate(len(m) for m in _members(path))]
    for end in range(1, len(data)):
        path.write_bytes(data[:end])
        if end in starts:  # whole records lost: the file is a shorter, sound archive
            back = [p.body for p in read_pages(path)]
            assert back == [p.body for p in written][: len(back)]
        else:
            cut = max(start for start in starts if start < end)
            where = re.escape(f"{path}#{cut}: truncated gzip member")
            with pytest.raises(CorruptRawArchive, match=f"^{where}$"):
                list(read_pages(path))


def test_reading_what_is_not_there_says_so(tmp_path: Path) -> None:
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(pages(DAY, "new")[0])
    path = archive.publish()
    metadata = _seen(path)[1]
    with pytest.raises(CorruptRawArchive, match="is missing"):
        list(read_archives(tmp_path, [f"2026-11-27/{SCOPE}.0123456789abcdef.warc.gz"]))
    with pytest.raises(CorruptRawArchive, match="is not a response record"):
        read_record(tmp_path, f"{archive.name}#{metadata.offset}")
    with pytest.raises(CorruptRawArchive, match="no raw record"):
        read_record(tmp_path, f"{archive.name}#first")
    for name in (
        "2026-11-27/a/b.warc.gz",
        "2026-11-27/../b.warc.gz",
        "2026-11-27/.b.warc.gz",
        "/b.warc.gz",
        "2026-11-27/",
        "2026-11-27",
    ):
        with pytest.raises(CorruptRawArchive, match="not a raw archive name"):
            list(read_archives(tmp_path, [name]))


def _archive_then_fail(data_dir: Path) -> None:
    with RawArchive(data_dir, DAY, SCOPE) as archive:
        archive.append(pages(DAY, "new")[0])
        assert archives_of(data_dir, DAY, SCOPE) == []
        raise RuntimeError("fetch failed")


def test_archive_is_invisible_until_published_and_gone_when_discarded(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="fetch failed"):
        _archive_then_fail(tmp_path)
    assert archives_of(tmp_path, DAY, SCOPE) == []
    assert list(staging_dir(tmp_path).iterdir()) == []


def test_a_rerun_archive_sits_beside_the_old_one_until_it_is_unreferenced(
    tmp_path: Path,
) -> None:
    names = []
    for variant in ("old", "new"):
        with RawArchive(tmp_path, DAY, SCOPE) as archive:
            for page in pages(DAY, variant):
                archive.append(page)
        archive.publish()
        names.append(archive.name)
    assert names[0] != names[1]
    assert len(archives_of(tmp_path, DAY, SCOPE)) == 2
    removed = remove_unreferenced(tmp_path, DAY, SCOPE, [names[1]])
    assert [p.name for p in removed] == [names[0].split("/")[1]]
    assert [p.name for p in archives_of(tmp_path, DAY, SCOPE)] == [names[1].split("/")[1]]
    assert [p.body for p in read_archives(tmp_path, [names[1]])] == [
        p.body for p in pages(DAY, "new")
    ]


def test_other_scopes_archives_are_never_pruned(tmp_path: Path) -> None:
    for scope in (SCOPE, SCOPE + "-b", SCOPE + ".b"):
        with RawArchive(tmp_path, DAY, scope) as archive:
            archive.append(pages(DAY, "new")[0])
        archive.publish()
    remove_unreferenced(tmp_path, DAY, SCOPE, [])
    assert archives_of(tmp_path, DAY, SCOPE) == []
    assert len(list(raw_partition(tmp_path, DAY).iterdir())) == 2


def test_the_charset_the_run_decoded_with_is_kept(tmp_path: Path) -> None:
    page = replace(pages(DAY, "new")[0], encoding="cp1252", body="Café".encode("cp1252"))
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        archive.append(page)
    archive.publish()
    (back,) = read_archives(tmp_path, [archive.name])
    assert back.encoding == "cp1252"


def test_appending_after_close_is_an_error(tmp_path: Path) -> None:
    archive = RawArchive(tmp_path, DAY, SCOPE)
    archive.close()
    with pytest.raises(RuntimeError, match="closed"):
        archive.append(pages(DAY, "new")[0])
    archive.discard()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=st.lists(st.binary(max_size=3000), min_size=1, max_size=5),
    status=st.integers(min_value=100, max_value=599),
    path=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)
def test_any_body_and_status_round_trip(
    tmp_path_factory: pytest.TempPathFactory, bodies: list[bytes], status: int, path: str
) -> None:
    data_dir = tmp_path_factory.mktemp("raw")
    written = [
        FetchedPage(
            source_id="s",
            url=f"http://b.test/{path}?n={n}",
            final_url=f"http://b.test/{path}",
            status=status,
            content_type="text/html",
            body=body,
            fetched_at=datetime(2026, 11, 27, tzinfo=UTC),
        )
        for n, body in enumerate(bodies)
    ]
    with RawArchive(data_dir, DAY, SCOPE) as archive:
        ids = [archive.append(page) for page in written]
    archive.publish()
    back = list(read_archives(data_dir, [archive.name]))
    assert [(p.url, p.final_url, p.status, p.body) for p in back] == [
        (p.url, p.final_url, p.status, p.body) for p in written
    ]
    assert read_record(data_dir, _final(archive, ids)[-1]).body == bodies[-1]
