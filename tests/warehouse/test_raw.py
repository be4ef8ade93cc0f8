"""The raw archive: WARC/1.1, one gzip member per record, published with the run."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lakedata import pages

from tasks.records import FetchedPage
from warehouse.lake import raw_partition, staging_dir
from warehouse.raw import (
    CorruptRawArchive,
    RawArchive,
    archives_of,
    iter_warc,
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
        final_url="http://b.test/y",
        status=404,
        content_type=None,
        body=b"\x00\xff\r\n\r\nWARC/1.1\r\nnot a header",
        fetched_at=datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC),
        headers=(("Content-Encoding", "gzip"), ("Set-Cookie", "id=1"), ("X-Thing", "kept")),
    )


def _final(archive: RawArchive, ids: list[str]) -> list[str]:
    return archive.resolve(pa.array(ids)).to_pylist()


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
    assert dict(back[-1].headers) == {"X-Thing": "kept"}  # framing and cookies left out


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
    records = list(iter_warc(path))
    assert [r.type for r in records] == ["response", "metadata"]
    assert records[1].headers["WARC-Concurrent-To"] == records[0].record_id
    assert records[0].block.startswith(b"HTTP/1.1 200 OK\r\n")
    assert int(records[0].headers["Content-Length"]) == len(records[0].block)


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
