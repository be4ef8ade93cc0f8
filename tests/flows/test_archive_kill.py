"""`newsflow backfill` over a folder of WARC files, killed with SIGKILL and run again.

The command runs as users run it (a process of its own, against a running Prefect server). It
is killed once its first file's part is published; the rerun reads only the files left, and
the warehouse ends with exactly the rows of an uninterrupted run of the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from test_cli_processes import Command, wait_until
from warcs import Capture, write_warc

from flows.settings import SEEDS_DIR

pytestmark = [pytest.mark.server, pytest.mark.slow]

DAY = "2026-11-01"
FILES = 4


def _write_files(folder: Path) -> None:
    site = SEEDS_DIR / "sample_site"
    pages = sorted(p for p in site.rglob("*.html") if p.name != "index.html")
    folder.mkdir()
    for n in range(FILES):
        chosen = pages[n * 10 : n * 10 + 10]
        captures = [
            Capture(f"https://{p.relative_to(site).parts[0]}.example/{p.relative_to(site).as_posix()}",
                    p.read_bytes(), date=f"{DAY}T0{n}:00:00Z")
            for p in chosen
        ]  # fmt: skip
        # a syndicated copy of the first file's first story in every later file
        if n:
            captures.append(Capture(f"https://copy{n}.example/story", pages[0].read_bytes()))
        write_warc(folder / f"CC-NEWS-2026110{1}0{n}0000-0000{n}.warc.gz", captures)


def _env(server_env: dict[str, str], data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in server_env.items() if not k.startswith("NEWSFLOW_")}
    env.update(NEWSFLOW_DATA_DIR=str(data_dir), NEWSFLOW_CPU_WORKERS="1")
    return env


def _backfill(tmp: Path, name: str, sources: Path, env: dict[str, str]) -> Command:
    args = ["backfill", "--start", DAY, "--end", DAY, "--sources", str(sources)]
    return Command(tmp, name, args, env)


def _rows(data_dir: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data_dir / "newsflow.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT raw_record_id, url, article_id, version, duplicate_of, cluster_id"
            " FROM article_versions UNION ALL"
            " SELECT raw_record_id, url, reason, NULL, NULL, NULL FROM rejected ORDER BY ALL"
        ).fetchall()


def test_a_backfill_killed_after_its_first_file_resumes_with_the_rest(
    tmp_path: Path, prefect_server: dict[str, str]
) -> None:
    _write_files(tmp_path / "warcs")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nid = "archive"\nkind = "warc"\nlocation = "warcs"\n')
    runs = tmp_path / "killed" / "lake" / "runs" / f"run_date={DAY}"
    parts = lambda: sorted(runs.glob("warc.*.parquet")) if runs.is_dir() else []  # noqa: E731

    killed = _backfill(tmp_path, "killed", sources, _env(prefect_server, tmp_path / "killed"))
    try:
        wait_until(lambda: parts(), 300, "the first file's part to be published")
    finally:
        killed.kill_group()
    killed.finish(timeout=60)
    published = parts()
    assert 1 <= len(published) < FILES, "the backfill ended before it could be killed"
    first = published[0]
    first_articles = tmp_path / "killed" / "lake" / "articles" / f"run_date={DAY}" / first.name
    before = os.stat(first_articles).st_ino

    resumed = _backfill(tmp_path, "resumed", sources, _env(prefect_server, tmp_path / "killed"))
    code, _ = resumed.finish(timeout=600)
    assert code == 0, resumed.stderr[-3000:]
    assert len(parts()) == FILES
    assert os.stat(first_articles).st_ino == before  # its part was not published again

    whole = _backfill(tmp_path, "whole", sources, _env(prefect_server, tmp_path / "whole"))
    code, _ = whole.finish(timeout=600)
    assert code == 0, whole.stderr[-3000:]
    assert _rows(tmp_path / "killed") == _rows(tmp_path / "whole")
    assert not list((tmp_path / "killed" / "staging").iterdir())
