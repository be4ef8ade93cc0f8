"""`newsflow record`: the archived page a `raw_record_id` of an archive source points at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import LoopbackServer, Reply
from warcs import Capture, article_html, write_warc

from flows.cli import main

PAGES = [article_html(f"Story {n}", [f"Paragraph of story {n}."]) for n in range(3)]


@pytest.fixture
def warc(tmp_path: Path) -> tuple[Path, list[int]]:
    path = tmp_path / "CC-NEWS-20261101000000-00001.warc.gz"
    offsets = write_warc(path, [Capture(f"https://x.example/{n}", p) for n, p in enumerate(PAGES)])
    return path, offsets


def test_a_local_files_record_prints_the_page_as_archived(
    warc: tuple[Path, list[int]], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    path, offsets = warc
    assert main(["record", f"{path.as_uri()}#{offsets[1]}"]) == 0
    assert capsysbinary.readouterr().out == PAGES[1]


def test_a_remote_files_record_is_read_at_its_offset(
    warc: tuple[Path, list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, offsets = warc
    with LoopbackServer({"/a.warc.gz": Reply(body=path.read_bytes())}) as server:
        url = server.url("/a.warc.gz")
        code = main(["record", "--json", "--allow-private", server.netloc, f"{url}#{offsets[2]}"])
    found = json.loads(capsys.readouterr().out)
    assert code == 0
    assert found["url"] == "https://x.example/2"
    assert found["raw_record_id"] == f"{url}#{offsets[2]}"
    assert found["body"] == PAGES[2].decode()


@pytest.mark.parametrize("suffix", ["#7", "#x"])
def test_an_offset_that_is_no_record_is_a_one_line_error(
    warc: tuple[Path, list[int]], capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    path, _ = warc
    assert main(["record", f"{path.as_uri()}{suffix}"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("newsflow record: ")
    assert err.count("\n") == 1
