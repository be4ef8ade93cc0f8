"""Raw archives as other WARC tools see them: `warcio check`, fastwarc's and warcio's readers."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import fastwarc.warc
import pytest
import warcio.archiveiterator
from lakedata import noise, pages

from tasks.records import FetchedPage
from warehouse.raw import RawArchive, read_archives, read_record

DAY = date(2026, 11, 27)
SCOPE = "ingest-1"
WARCIO = Path(sys.executable).parent / "warcio"


def _varied_pages() -> list[FetchedPage]:
    new = pages(DAY, "new")  # five pages
    return [
        new[0],
        replace(new[1], body="Café – naïve".encode("cp1252"), encoding="cp1252"),
        replace(new[2], body="東京の記事".encode("shift_jis"), encoding="shift_jis"),
        replace(new[3], status=599, body=b""),  # an unknown status, an empty body
        replace(new[4], body=noise(300_000, seed=6).encode()),  # larger than any read buffer
        FetchedPage(
            source_id="s",
            url="http://b.test/x",
            final_url="http://b.test/y?q=a%20b&at=:",
            status=404,
            content_type=None,
            body=b"\x00\xff\r\n\r\nWARC/1.1\r\nnot a header",
            fetched_at=datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC),
            headers=(("X-Note", "one\r\ntwo"), ("X-Title", "Zürich € 日本"), ("Set-Cookie", "a")),
        ),
    ]


@pytest.fixture(name="archive")
def _archive(tmp_path: Path) -> tuple[Path, list[FetchedPage]]:
    written = _varied_pages()
    with RawArchive(tmp_path, DAY, SCOPE) as archive:
        for page in written:
            archive.append(page)
    return archive.publish(), written


def test_warcio_check_finds_every_digest_good(archive: tuple[Path, list[FetchedPage]]) -> None:
    path, written = archive
    checked = subprocess.run(
        [str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stderr == ""
    assert "fail" not in checked.stdout
    assert checked.stdout.count("digest pass") == 2 * len(written)  # every record has digests


def test_fastwarc_reads_every_record_with_good_digests(
    archive: tuple[Path, list[FetchedPage]],
) -> None:
    path, written = archive
    kinds = []
    for record in fastwarc.warc.ArchiveIterator(str(path), parse_http=False):
        kinds.append(str(record.record_type))
        assert record.verify_block_digest()
    assert kinds == ["response", "metadata"] * len(written)

    responses = fastwarc.warc.ArchiveIterator(
        str(path), record_types=fastwarc.warc.WarcRecordType.response
    )
    for page, record in zip(written, responses, strict=True):
        assert record.http_headers.status_code == page.status
        assert record.headers["WARC-Target-URI"] == page.final_url
        assert record.verify_payload_digest()
    responses = fastwarc.warc.ArchiveIterator(
        str(path), record_types=fastwarc.warc.WarcRecordType.response
    )
    assert [r.reader.read() for r in responses] == [p.body for p in written]


def test_warcio_reads_every_record_and_its_payload(
    archive: tuple[Path, list[FetchedPage]],
) -> None:
    path, written = archive
    seen = []
    with path.open("rb") as handle:
        for record in warcio.archiveiterator.ArchiveIterator(handle):
            payload = record.content_stream().read()
            status = record.http_headers.get_statuscode() if record.http_headers else None
            seen.append((record.rec_type, record.rec_headers, status, payload))
    assert [kind for kind, *_ in seen] == ["response", "metadata"] * len(written)
    responses, metadata = seen[0::2], seen[1::2]
    assert [payload for *_, payload in responses] == [p.body for p in written]
    assert [status for _, _, status, _ in responses] == [str(p.status) for p in written]
    for (_, response, *_), (_, meta, *_) in zip(responses, metadata, strict=True):
        assert meta.get_header("WARC-Concurrent-To") == response.get_header("WARC-Record-ID")
    described = [json.loads(payload) for *_, payload in metadata]
    assert [(d["source_id"], d["url"]) for d in described] == [
        (p.source_id, p.url) for p in written
    ]


def test_a_body_is_kept_as_received_with_the_charset_the_run_decoded_it_with(
    archive: tuple[Path, list[FetchedPage]],
) -> None:
    path, written = archive
    with path.open("rb") as handle:
        records = warcio.archiveiterator.ArchiveIterator(handle)
        payloads = [record.content_stream().read() for record in records]
    described = [json.loads(payload) for payload in payloads[1::2]]
    stored = {
        meta["url"]: (body, meta["encoding"])
        for body, meta in zip(payloads[0::2], described, strict=True)
    }
    assert stored[written[1].url] == ("Café – naïve".encode("cp1252"), "cp1252")
    assert stored[written[2].url] == ("東京の記事".encode("shift_jis"), "shift_jis")

    data_dir = path.parents[2]
    name = f"{DAY.isoformat()}/{path.name}"
    back = list(read_archives(data_dir, [name]))
    for page in back[1:3]:
        assert page.encoding is not None
        assert read_record(data_dir, page.raw_record_id) == page
    assert back[1].body.decode(back[1].encoding or "") == "Café – naïve"
    assert back[2].body.decode(back[2].encoding or "") == "東京の記事"
