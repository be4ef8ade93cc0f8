"""What each WARC record becomes, field by field, and how damaged stretches are skipped."""

from __future__ import annotations

import gzip
import logging
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcs import Capture, article_html, record_bytes, write_warc

from tasks.archive import ArchiveRules, FileTally, read_archive, read_one
from tasks.records import FetchedPage, Rejected

HTML = article_html("A story", ["One paragraph of the story."])
GARBAGE = b"\x00garbage\x00\xff\xfe\x00"


RULES = ArchiveRules(max_bytes=100_000)


def _read(
    path: Path, rules: ArchiveRules = RULES
) -> tuple[list[FetchedPage | Rejected], FileTally]:
    tally = FileTally()
    return list(read_archive(path, path.as_uri(), "src", rules, tally)), tally


def _one(capture: Capture, tmp_path: Path, max_bytes: int = 100_000) -> FetchedPage | Rejected:
    path = tmp_path / "one.warc.gz"
    write_warc(path, [capture])
    [outcome], _ = _read(path, ArchiveRules(max_bytes=max_bytes))
    return outcome


def _rejection(capture: Capture, tmp_path: Path, max_bytes: int = 100_000) -> tuple[str, str]:
    outcome = _one(capture, tmp_path, max_bytes)
    assert isinstance(outcome, Rejected)
    return outcome.reason, outcome.detail


def _damage(data: bytearray, at: int) -> None:
    data[at : at + len(GARBAGE)] = GARBAGE


# ---------------------------------------------------------------- pages and rejections


def test_outcomes_name_their_source_and_their_record(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(
        path,
        [Capture("https://x.example/kept", HTML), Capture("https://x.example/gone", status=404)],
    )
    [page, gone], _ = _read(path)
    assert isinstance(page, FetchedPage)
    assert (page.source_id, page.url, page.final_url) == (
        "src",
        "https://x.example/kept",
        "https://x.example/kept",
    )
    assert page.content_type == "text/html; charset=utf-8"
    assert page.raw_record_id == f"{path.as_uri()}#{offsets[0]}"
    assert isinstance(gone, Rejected)
    assert (gone.source_id, gone.url, gone.raw_record_id) == (
        "src",
        "https://x.example/gone",
        f"{path.as_uri()}#{offsets[1]}",
    )
    assert gone.detail == "archived answer 404"


def test_a_target_uri_in_angle_brackets_is_unwrapped(tmp_path: Path) -> None:
    page = _one(Capture("<https://x.example/story-X>", HTML), tmp_path)
    assert page.url == "https://x.example/story-X"


def test_a_page_record_without_a_target_uri_is_a_corrupt_record(tmp_path: Path) -> None:
    assert _rejection(Capture("", HTML), tmp_path) == (
        "corrupt_record",
        "response record without WARC-Target-URI",
    )


def test_rejections_say_what_was_wrong_with_the_capture(tmp_path: Path) -> None:
    profile = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    revisit = Capture("https://x.example/r", kind="revisit", warc_headers={"WARC-Profile": profile})
    assert _rejection(revisit, tmp_path) == (
        "warc_revisit",
        f"a revisit record ({profile}): no payload of its own",
    )
    bare_revisit = Capture("https://x.example/r", kind="revisit")
    assert _rejection(bare_revisit, tmp_path)[1] == (
        "a revisit record (no profile): no payload of its own"
    )
    truncated = Capture("https://x.example/t", HTML, warc_headers={"WARC-Truncated": "length"})
    assert _rejection(truncated, tmp_path) == (
        "warc_truncated",
        "the capture was cut short (length)",
    )
    pdf = Capture("https://x.example/p", b"%PDF-1.7", content_type="application/pdf")
    assert _rejection(pdf, tmp_path) == ("non_html", "content type application/pdf")
    not_http = Capture("https://x.example/n", raw_block=b"just some bytes")
    assert _rejection(not_http, tmp_path) == (
        "not_http",
        "the response record holds no HTTP message",
    )
    no_status = Capture("https://x.example/s", raw_block=b"HTTP/1.1 abc\r\n\r\n<p>x</p>")
    assert _rejection(no_status, tmp_path) == ("protocol_error", "archived answer 0")


def test_the_size_cap_applies_to_the_record_block_with_room_for_http_headers(
    tmp_path: Path,
) -> None:
    # A resource record's block is the page itself: 1000 bytes of cap + 65536 of headroom.
    at_room = Capture(
        "https://x.example/a", b"x" * 66_536, kind="resource", content_type="text/html"
    )
    over_room = Capture(
        "https://x.example/b", b"x" * 66_537, kind="resource", content_type="text/html"
    )
    assert _rejection(at_room, tmp_path, max_bytes=1000) == (
        "too_large",
        "decoded body of 66536 bytes over the cap",
    )
    assert _rejection(over_room, tmp_path, max_bytes=1000) == (
        "too_large",
        "record block of 66537 bytes",
    )


def test_a_body_of_exactly_the_cap_is_kept_and_one_byte_more_is_too_large(
    tmp_path: Path,
) -> None:
    at_cap = _one(Capture("https://x.example/a", b"<p>" + b"x" * 99_993 + b"</p>"), tmp_path)
    assert isinstance(at_cap, FetchedPage)
    assert len(at_cap.body) == 100_000
    assert _rejection(Capture("https://x.example/b", b"x" * 100_001), tmp_path) == (
        "too_large",
        "decoded body of 100001 bytes over the cap",
    )


def test_a_resource_record_is_a_200_answer_with_the_records_content_type(tmp_path: Path) -> None:
    page = _one(
        Capture("https://x.example/r", HTML, kind="resource", content_type="text/html"), tmp_path
    )
    assert isinstance(page, FetchedPage)
    assert (page.status, page.content_type, page.body) == (200, "text/html", HTML)
    assert page.headers == (("Content-Type", "text/html"),)
    pdf = Capture(
        "https://x.example/p", b"%PDF-1.7", kind="resource", content_type="application/pdf"
    )
    assert _rejection(pdf, tmp_path) == ("non_html", "content type application/pdf")
    untyped = _one(Capture("https://x.example/u", kind="resource", raw_block=HTML), tmp_path)
    assert isinstance(untyped, FetchedPage)
    assert untyped.content_type is None
    assert untyped.headers == (("Content-Type", ""),)


def test_an_http_answer_without_content_type_is_kept_untyped(tmp_path: Path) -> None:
    block = b"HTTP/1.1 200 OK\r\nServer: test\r\n\r\n" + HTML
    page = _one(Capture("https://x.example/a", raw_block=block), tmp_path)
    assert isinstance(page, FetchedPage)
    assert page.content_type is None
    assert page.body == HTML


def test_a_capture_without_a_readable_date_is_dated_at_the_epoch_in_utc(tmp_path: Path) -> None:
    for date in ("", "yesterday"):
        page = _one(Capture("https://x.example/a", HTML, date=date), tmp_path)
        assert page.fetched_at == datetime(1970, 1, 1, tzinfo=UTC)
        assert page.fetched_at.utcoffset() is not None


def test_warc_dates_are_utc_whatever_the_local_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = _one(Capture("https://x.example/a", HTML, date="2026-11-01T10:00:00"), tmp_path)
        zoned = _one(
            Capture("https://x.example/b", HTML, date="2026-11-01T12:00:00+02:00"), tmp_path
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert naive.fetched_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert zoned.fetched_at.isoformat() == "2026-11-01T10:00:00+00:00"


def test_describing_records_are_counted_per_type(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    meta = Capture(
        "https://x.example/a", b"a: 1", kind="metadata", content_type="application/warc-fields"
    )
    write_warc(path, [meta, Capture("https://x.example/a", HTML), meta, meta])
    outcomes, tally = _read(path)
    assert len(outcomes) == 1
    assert dict(tally.described) == {"metadata": 3}


# ---------------------------------------------------------------- reading one record again


def test_a_record_read_again_keeps_its_raw_id_and_belongs_to_no_source(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    page = read_one(path, "https://mirror.example/a.warc.gz", offsets[2], 100_000)
    assert page.url == "https://x.example/2"
    assert page.raw_record_id == f"https://mirror.example/a.warc.gz#{offsets[2]}"
    assert page.source_id == ""


def test_reading_again_what_is_not_a_page_says_why(tmp_path: Path) -> None:
    path = tmp_path / "a.warc"
    captures = [
        Capture("https://x.example/gone", HTML, status=404),
        Capture(
            "https://x.example/a", b"a: 1", kind="metadata", content_type="application/warc-fields"
        ),
    ]
    offsets = write_warc(path, captures, compress=False)
    loc = path.as_uri()
    not_a_page = "is not an archived page"
    with pytest.raises(ValueError, match=rf"^{loc}#0 {not_a_page}: archived answer 404$"):
        read_one(path, loc, 0, 100_000)
    with pytest.raises(ValueError, match=rf"#{offsets[1]} {not_a_page}: not a page capture$"):
        read_one(path, loc, offsets[1], 100_000)
    with pytest.raises(ValueError, match=rf"^no readable WARC record at {loc}#3: "):
        read_one(path, loc, 3, 100_000)
    end = path.stat().st_size
    with pytest.raises(ValueError, match=rf"^no WARC record at {loc}#{end}$"):
        read_one(path, loc, end, 100_000)


# ---------------------------------------------------------------- damaged stretches


def test_a_skipped_stretch_is_logged_with_its_size_file_offset_and_cause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.warc"
    path.write_bytes(b"x" + record_bytes(Capture("https://x.example/a", HTML)))
    with caplog.at_level(logging.WARNING, logger="tasks.archive"):
        outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/a"]
    assert (tally.corrupt, tally.skipped_bytes) == (1, 1)
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"Skipped 1 bytes of {path.as_uri()} at offset 0: ")
    assert "None" not in message
    assert len(message) > len(f"Skipped 1 bytes of {path.as_uri()} at offset 0: ")


def test_a_damaged_first_record_loses_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    data = bytearray(path.read_bytes())
    _damage(data, 30)
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/1", "https://x.example/2"]
    assert (tally.corrupt, tally.skipped_bytes, tally.problem) == (1, offsets[1], None)


def test_a_damaged_last_record_is_skipped_to_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    data = bytearray(path.read_bytes())
    _damage(data, offsets[2] + 30)
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/1"]
    assert (tally.corrupt, tally.skipped_bytes, tally.problem) == (1, len(data) - offsets[2], None)


def test_each_damaged_stretch_is_counted_and_their_bytes_summed(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(5)])
    data = bytearray(path.read_bytes())
    _damage(data, offsets[1] + 30)
    _damage(data, offsets[3] + 30)
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == [f"https://x.example/{n}" for n in (0, 2, 4)]
    assert tally.corrupt == 2
    assert tally.skipped_bytes == (offsets[2] - offsets[1]) + (offsets[4] - offsets[3])


@pytest.mark.parametrize("depth", [30, 90, 150])
def test_damage_anywhere_in_a_gzip_member_is_one_stretch_of_that_member(
    tmp_path: Path, depth: int
) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    data = bytearray(path.read_bytes())
    _damage(data, offsets[1] + depth)
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/2"]
    assert (tally.corrupt, tally.skipped_bytes) == (1, offsets[2] - offsets[1])


def test_damage_found_while_reading_a_large_records_body_skips_that_record(
    tmp_path: Path,
) -> None:
    body = random.Random(7).randbytes(300_000)  # does not compress: the damage is met late
    path = tmp_path / "a.warc.gz"
    captures = [Capture(f"https://x.example/{n}", body, content_type="text/html") for n in range(3)]
    offsets = write_warc(path, captures)
    data = bytearray(path.read_bytes())
    _damage(data, offsets[1] + (offsets[2] - offsets[1]) * 9 // 10)
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path, ArchiveRules(max_bytes=1_000_000))
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/2"]
    assert (tally.corrupt, tally.skipped_bytes) == (1, offsets[2] - offsets[1])


def test_a_damaged_stretch_with_a_false_gzip_header_in_it_is_one_stretch(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML * 20) for n in range(3)])
    data = bytearray(path.read_bytes())
    _damage(data, offsets[1] + 30)
    fake = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 16  # invalid deflate data
    data[offsets[1] + 100 : offsets[1] + 100 + len(fake)] = fake
    path.write_bytes(bytes(data))
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/2"]
    assert (tally.corrupt, tally.skipped_bytes) == (1, offsets[2] - offsets[1])


def test_the_next_record_is_found_past_megabytes_of_junk(tmp_path: Path) -> None:
    # 2 MiB - 1 bytes of junk: the next record's "WARC/1." straddles the end of a 1 MiB scan.
    junk = b"j" * ((2 << 20) - 1)
    first, second = (record_bytes(Capture(f"https://x.example/{n}", HTML)) for n in range(2))
    path = tmp_path / "a.warc"
    path.write_bytes(first + junk + second)
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/1"]
    assert (tally.corrupt, tally.skipped_bytes) == (1, len(junk))


def test_a_file_cut_short_counts_the_bytes_after_its_last_whole_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    path.write_bytes(path.read_bytes()[: offsets[2] + 40])
    with caplog.at_level(logging.WARNING, logger="tasks.archive"):
        _, tally = _read(path)
    assert (tally.corrupt, tally.skipped_bytes) == (1, 40)
    assert [r.getMessage() for r in caplog.records] == [
        f"Skipped 40 bytes of {path.as_uri()} at offset {offsets[2]}: the file ends inside a record"
    ]


def test_an_empty_file_and_a_file_without_records_are_problems_of_their_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.warc.gz"
    path.write_bytes(b"")
    assert _read(path) == ([], FileTally(problem="empty file"))
    path.write_bytes(gzip.compress(b""))
    assert _read(path) == ([], FileTally(problem="not a WARC file: no record in it"))


def test_a_member_whose_gzip_header_is_damaged_is_counted_as_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    data = bytearray(path.read_bytes())
    data[offsets[1] : offsets[1] + 2] = b"\x00\x00"  # no gzip magic: the reader passes it by
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="tasks.archive"):
        outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/2"]
    lost = offsets[2] - offsets[1]
    assert (tally.corrupt, tally.skipped_bytes) == (1, lost)
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith(f"Skipped {lost} bytes of {path.as_uri()} at offset {offsets[1]}: ")


def test_an_empty_gzip_member_is_passed_over_and_the_records_after_it_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)])
    data, empty = path.read_bytes(), gzip.compress(b"")  # the reader stops quietly at it
    path.write_bytes(data[: offsets[1]] + empty + data[offsets[1] :])
    with caplog.at_level(logging.WARNING, logger="tasks.archive"):
        outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == [f"https://x.example/{n}" for n in range(3)]
    assert (tally.corrupt, tally.skipped_bytes) == (1, len(empty))
    assert [r.getMessage() for r in caplog.records] == [
        f"Skipped {len(empty)} bytes of {path.as_uri()} at offset {offsets[1]}:"
        " no record in these bytes"
    ]


def test_blank_lines_between_uncompressed_records_are_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "a.warc"
    offsets = write_warc(
        path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)], compress=False
    )
    data = path.read_bytes()
    path.write_bytes(data[: offsets[1]] + b"\r\n" * 5 + data[offsets[1] :])
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == [f"https://x.example/{n}" for n in range(3)]
    assert (tally.corrupt, tally.skipped_bytes) == (0, 0)


@pytest.mark.parametrize("compress", [True, False])
def test_junk_between_records_is_counted_as_lost(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / ("a.warc.gz" if compress else "a.warc")
    offsets = write_warc(
        path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)], compress=compress
    )
    data = path.read_bytes()
    junk = b"junk between records\r\n" * 3
    path.write_bytes(data[: offsets[1]] + junk + data[offsets[1] :])
    outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == [f"https://x.example/{n}" for n in range(3)]
    assert (tally.corrupt, tally.skipped_bytes) == (1, len(junk))


@pytest.mark.parametrize("cut", [20, 200, -10])
def test_an_uncompressed_file_cut_inside_its_last_record_loses_only_that_record(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Cut in the WARC header, in the HTTP block, and in the last bytes of the body.
    path = tmp_path / "a.warc"
    offsets = write_warc(
        path, [Capture(f"https://x.example/{n}", HTML) for n in range(3)], compress=False
    )
    data = path.read_bytes()
    end = offsets[2] + cut if cut > 0 else len(data) + cut
    path.write_bytes(data[:end])
    with caplog.at_level(logging.WARNING, logger="tasks.archive"):
        outcomes, tally = _read(path)
    assert [o.url for o in outcomes] == ["https://x.example/0", "https://x.example/1"]
    assert (tally.corrupt, tally.skipped_bytes) == (1, end - offsets[2])
    assert [r.getMessage() for r in caplog.records] == [
        f"Skipped {end - offsets[2]} bytes of {path.as_uri()} at offset {offsets[2]}:"
        " the file ends inside a record"
    ]
