"""The `newsflow` command as a user runs it: output formats, exit codes and one-line errors.

Cheap cases call `flows.cli.main` in-process; the cases about what a user sees on the
terminal (no traceback, exit codes) run the installed `newsflow` script in a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from servers import LoopbackServer, Reply

from flows.cli import main
from flows.settings import SEEDS_DIR
from tasks.records import Rejected
from warehouse.convert import to_table
from warehouse.publish import Publication

NEWSFLOW = Path(sys.executable).with_name("newsflow")
PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
RUN_DATE = date(2023, 10, 15)
REJECTED = [
    Rejected("wire", "https://a.example/1", "fetch", "http_404", "Not Found, really"),
    Rejected("wire", "https://a.example/2", "extract", "not_article", "index_page"),
    Rejected("courier", "https://b.example/ä", "frontier", "over_cap", 'said "no"'),
]


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main` sets NEWSFLOW_DATA_DIR and telemetry variables: undo them after each test."""
    for key in ("NEWSFLOW_DATA_DIR", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        original = os.environ.get(key)
        monkeypatch.setenv(key, original or "")  # records the original for the undo
        if original is None:
            monkeypatch.delenv(key)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published warehouse holding three `rejected` rows and one `runs` row."""
    data_dir = tmp_path_factory.mktemp("cli-warehouse")
    publication = Publication(data_dir, RUN_DATE, "cli-test")
    publication.write("rejected", to_table("rejected", REJECTED, run_id="r1"))
    started = datetime(2023, 10, 15, 2, 30, tzinfo=UTC)
    run = {
        "run_id": "r1",
        "flow": "nightly-ingest",
        "scope": "cli-test",
        "started_at": started,
        "finished_at": started,
        "status": "completed",
        "sources": ["wire", "courier"],
    }
    publication.write("runs", to_table("runs", [run]))
    publication.commit()
    return data_dir


def newsflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSFLOW), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


QUERY = "SELECT url, reason, detail FROM rejected ORDER BY url"


# ---------------------------------------------------------------- sql


def test_sql_prints_a_table_with_a_header_and_a_row_count(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "--data-dir", str(warehouse), "sql", QUERY)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["url", "reason", "detail"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:2] == ["https://a.example/1", "http_404"]
    assert lines[-1] == "(3 rows)"
    assert len(lines) == 6


def test_data_dir_may_also_follow_the_command(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cli(capsys, "--data-dir", str(warehouse), "sql", QUERY)
    after = cli(capsys, "sql", "--data-dir", str(warehouse), QUERY)
    assert after == before
    assert after[0] == 0


def test_sql_csv_round_trips_commas_quotes_and_unicode(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "--data-dir", str(warehouse), "sql", QUERY, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["url"], r["reason"], r["detail"]) for r in rows] == sorted(
        (r.url, r.reason, r.detail) for r in REJECTED
    )


def test_sql_json_is_valid_json_with_iso_dates_numbers_and_lists(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = (
        "SELECT run_id, started_at, run_date, sources, 1.5 AS ratio, 'NaN'::DOUBLE AS nothing"
        " FROM runs"
    )
    code, out, _ = cli(capsys, "--data-dir", str(warehouse), "sql", query, "--format", "json")
    assert code == 0
    rows = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert len(rows) == 1
    row = rows[0]
    assert row["run_id"] == "r1"
    assert row["run_date"] == "2023-10-15"
    assert datetime.fromisoformat(row["started_at"]) == datetime(2023, 10, 15, 2, 30, tzinfo=UTC)
    assert row["sources"] == ["wire", "courier"]
    assert row["ratio"] == 1.5
    assert row["nothing"] is None


def test_sql_csv_writes_lists_as_json_and_null_as_empty(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "SELECT run_id, sources, NULL AS nothing FROM runs"
    code, out, _ = cli(capsys, "--data-dir", str(warehouse), "sql", query, "--format", "csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["run_id", "sources", "nothing"],
        ["r1", '["wire", "courier"]', ""],
    ]


def test_sql_table_aligns_numbers_right_and_text_left(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "SELECT * FROM (VALUES (7, 'a'), (1234, 'bcd')) AS t(number, word)"
    code, out, _ = cli(capsys, "--data-dir", str(warehouse), "sql", query)
    assert code == 0
    assert out.splitlines()[:4] == ["number  word", "------  ----", "     7  a", "  1234  bcd"]


def test_sql_table_keeps_columns_that_share_a_name(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "--data-dir", str(warehouse), "sql", "SELECT 1 AS n, 2 AS n")
    assert code == 0
    assert out.splitlines()[2].split() == ["1", "2"]


def test_sql_empty_result_prints_the_header_and_zero_rows(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        capsys, "--data-dir", str(warehouse), "sql", "SELECT url FROM rejected WHERE false"
    )
    assert code == 0
    assert out.splitlines()[0].strip() == "url"
    assert out.splitlines()[-1] == "(0 rows)"


def test_sql_error_is_one_line_and_exit_1(warehouse: Path) -> None:
    result = newsflow("--data-dir", str(warehouse), "sql", "SELEC nonsense FROM nowhere")
    assert result.returncode == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, "newsflow sql:", "syntax error")


def test_sql_unknown_table_names_the_table(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "--data-dir", str(warehouse), "sql", "SELECT * FROM nowhere")
    assert (code, out) == (1, "")
    assert_one_line_error(err, "nowhere")


def test_sql_cannot_write_to_the_warehouse(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "--data-dir", str(warehouse), "sql", "CREATE TABLE scratch AS SELECT 1 AS x"
    )
    assert code == 1
    assert_one_line_error(err, "read-only")


def test_sql_without_a_catalog_says_so_and_exits_2(tmp_path: Path) -> None:
    result = newsflow("--data-dir", str(tmp_path / "empty"), "sql", "SELECT 1")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "no catalog", str(tmp_path / "empty"), "newsflow run")


SQL_IMPORTS = """
import sys
from flows.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("pyarrow", "pydantic", "prefect", "duckdb") if m in sys.modules]
print("heavy:", *heavy, code)
"""


def test_sql_imports_neither_pyarrow_nor_pydantic_nor_prefect_nor_duckdbs_python_layer(
    warehouse: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SQL_IMPORTS, "sql", "SELECT count(*) AS n FROM rejected"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no .env file here
        env={**os.environ, "NEWSFLOW_DATA_DIR": str(warehouse)},
        check=False,
    )
    assert result.stdout.splitlines()[-1] == "heavy: 0", result.stderr
    assert "(1 row)" in result.stdout


def test_sql_takes_the_data_dir_from_a_dotenv_file(warehouse: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"NEWSFLOW_DATA_DIR={warehouse}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k.upper() != "NEWSFLOW_DATA_DIR"}
    result = subprocess.run(
        [str(NEWSFLOW), "sql", "SELECT count(*) AS n FROM rejected", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "n\n3\n"), result.stderr


# ---------------------------------------------------------------- fetch


def test_fetch_prints_the_outcome_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    page = b"<html><head><title>t</title></head><body><p>hello</p></body></html>"
    with LoopbackServer({"/story": Reply(body=page)}) as server:
        code, out, err = cli(
            capsys, "fetch", server.url("/story"), "--allow-private", server.netloc
        )
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["reason"] == "ok"
    assert outcome["status"] == 200
    assert outcome["url"] == server.url("/story")
    assert outcome["bytes"] == len(page)
    assert outcome["encoding"] == "utf-8"
    assert outcome["meaning"]


def test_fetch_of_a_missing_page_reports_http_404_and_exits_1() -> None:
    with LoopbackServer() as server:
        result = newsflow("fetch", server.url("/gone"), "--allow-private", server.netloc)
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert (outcome["status"], outcome["reason"]) == (404, "http_404")
    assert "Traceback" not in result.stderr


def test_fetch_of_a_loopback_address_without_the_allowance_is_blocked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LoopbackServer({"/story": Reply(body=b"<p>x</p>")}) as server:
        code, out, _ = cli(capsys, "fetch", server.url("/story"))
        hits = server.hits()
    assert code == 1
    outcome = json.loads(out)
    assert outcome["reason"] == "blocked_address"
    assert outcome["detail"]
    assert hits == 0


# ---------------------------------------------------------------- extract


def golden(name: str) -> dict[str, Any]:
    return json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))


def test_extract_prints_the_article_the_golden_file_expects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = golden("seed_style_article")
    url = case["input"]["url"]
    code, out, err = cli(capsys, "extract", str(PAGES / "seed_style_article.html"), "--url", url)
    assert code == 0, err
    article = json.loads(out)
    expected = case["expected"]
    for key in ("title", "body", "authors", "canonical_url", "credit_lines", "highlights"):
        assert article[key] == expected[key], key
    assert article["published_at"] == expected["published_at"]
    assert article["provenance"] == dict(expected["provenance"])
    assert article["url"] == url
    assert "Additional reporting" not in article["body"]


def test_extract_of_a_non_article_page_says_which_kind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = golden("index_page")["input"]["url"]
    code, out, _ = cli(capsys, "extract", str(PAGES / "index_page.html"), "--url", url)
    assert code == 0
    assert json.loads(out)["page_kind"] == "index_page"


def test_extract_of_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = newsflow("extract", str(tmp_path / "nope.html"))
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "newsflow extract:", "nope.html")


# ---------------------------------------------------------------- run

ARTICLE = (
    SEEDS_DIR
    / "sample_site/daily-courier/world/2023/10/06"
    / "chilean-port-strike-leaves-fishing-fleets-idle.html"
)


def feed_site(server: LoopbackServer) -> None:
    """A one-item RSS feed at /feed.xml naming a sample-site article served at /port.html."""
    base = server.url("").rstrip("/")
    page = ARTICLE.read_bytes().replace(b"{{site:daily-courier}}", base.encode())
    server.route("/port.html", Reply(body=page))
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>{base}/</link><description>d</description><item><title>Port</title>"
        f"<link>{base}/port.html</link><pubDate>15 Oct 2023 08:00:00 GMT</pubDate></item>"
        "</channel></rss>"
    )
    server.route("/feed.xml", Reply(body=feed.encode(), content_type="application/rss+xml"))


def feed_sources(path: Path, feeds: dict[str, str]) -> str:
    path.write_text(
        "".join(
            f'[[source]]\nid = "{k}"\nkind = "feed"\nlocation = "{v}"\n' for k, v in feeds.items()
        ),
        encoding="utf-8",
    )
    return str(path)


def test_run_prints_the_summary_and_the_catalog_and_exits_0(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    with LoopbackServer() as server:
        feed_site(server)
        monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([server.netloc]))
        monkeypatch.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0.05")
        sources = feed_sources(tmp_path / "s.toml", {"port": server.url("/feed.xml")})
        code, out, _ = cli(
            capsys, "--data-dir", str(data), "run", "--date", "2023-10-15", "--sources", sources
        )
    assert code == 0, out
    assert "(2023-10-15): completed" in out
    assert str(data / "newsflow.duckdb") in out
    summary = {
        line.split()[0]: line.split()[1:5] for line in out.splitlines() if line.startswith("port ")
    }
    assert summary == {"port": ["1", "1", "1", "0"]}  # found, fetched, new, dup
    code, out, _ = cli(
        capsys, "--data-dir", str(data), "sql", "SELECT url FROM articles", "--format", "json"
    )
    assert json.loads(out) == [{"url": server.url("/port.html")}]


def test_run_of_a_site_source_prints_what_its_home_page_led_to(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LoopbackServer() as server:
        feed_site(server)
        link = f'<link rel="alternate" type="application/rss+xml" href="{server.url("/feed.xml")}">'
        home = f"<html><head>{link}</head><body><p>Home</p></body></html>"
        server.route("/", Reply(body=home.encode()))
        monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([server.netloc]))
        monkeypatch.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0.05")
        sources = tmp_path / "s.toml"
        sources.write_text(
            f'[[source]]\nid = "home"\nkind = "site"\nlocation = "{server.url("/")}"\n'
        )
        code, out, _ = cli(
            capsys,
            "--data-dir",
            str(tmp_path / "d"),
            "run",
            "--date",
            "2023-10-15",
            "--sources",
            str(sources),
        )
    assert code == 0, out
    feed = server.url("/feed.xml")
    assert f"found home: feed {feed} (<link rel=alternate> on the home page)" in out.splitlines()


def test_run_with_a_failed_source_lists_it_and_exits_1(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LoopbackServer() as server:
        feed_site(server)
        monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([server.netloc]))
        monkeypatch.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0.05")
        sources = feed_sources(
            tmp_path / "s.toml",
            {"port": server.url("/feed.xml"), "gone": server.url("/gone.xml")},
        )
        code, out, _ = cli(
            capsys,
            "--data-dir",
            str(tmp_path / "d"),
            "run",
            "--date",
            "2023-10-15",
            "--sources",
            sources,
        )
    assert code == 1
    assert "(2023-10-15): completed_with_failures" in out
    assert "FAILED gone: discovery: http_404" in out.splitlines()


def test_run_that_raises_is_one_line_and_exit_1(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LoopbackServer() as server:
        feed_site(server)
        monkeypatch.setenv("NEWSFLOW_ALLOW_PRIVATE_HOSTS", json.dumps([server.netloc]))
        monkeypatch.setenv("NEWSFLOW_PER_HOST_DELAY_S", "0.05")
        monkeypatch.setenv("NEWSFLOW_SPACY_MODEL", "no_such_model_installed")
        sources = feed_sources(tmp_path / "s.toml", {"port": server.url("/feed.xml")})
        code, out, err = cli(
            capsys,
            "--data-dir",
            str(tmp_path / "d"),
            "run",
            "--date",
            "2023-10-15",
            "--sources",
            sources,
        )
    assert code == 1
    assert out == ""
    ours = [line for line in err.splitlines() if line.startswith("newsflow run:")]
    assert len(ours) == 1
    assert "the run failed: ModelNotInstalled" in ours[0]
    assert "no_such_model_installed" in ours[0]


def test_run_with_an_invalid_sources_file_names_file_key_and_reason(tmp_path: Path) -> None:
    sources = tmp_path / "bad.toml"
    sources.write_text(
        '[[source]]\nid = "fine"\nkind = "feed"\nlocation = "https://a.example/rss"\n\n'
        '[[source]]\nid = "broken"\nkind = "feed"\nlocation = "ftp://b.example/rss"\n',
        encoding="utf-8",
    )
    result = newsflow("--data-dir", str(tmp_path / "data"), "run", "--sources", str(sources))
    assert result.returncode == 2
    assert_one_line_error(
        result.stderr, str(sources), "source[1]", "location", "absolute http(s) URL"
    )
    assert not (tmp_path / "data").exists()


def test_run_with_a_missing_sources_file_says_so(tmp_path: Path) -> None:
    result = newsflow("run", "--sources", str(tmp_path / "absent.toml"))
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "absent.toml", "no such sources file")


def test_run_with_only_disabled_sources_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "off.toml"
    sources.write_text(
        '[[source]]\nid = "off"\nkind = "feed"\nlocation = "https://a.example/rss"\n'
        "enabled = false\n",
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "run", "--sources", str(sources))
    assert code == 2
    assert_one_line_error(err, str(sources), "no enabled source")


def test_run_naming_a_sample_outlet_that_does_not_exist_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "site.toml"
    sources.write_text(
        '[[source]]\nid = "x"\nkind = "feed"\nlocation = "{{site:no-such-outlet}}/rss.xml"\n',
        encoding="utf-8",
    )
    code, _, err = cli(capsys, "run", "--sources", str(sources))
    assert code == 2
    assert_one_line_error(err, str(sources), "no-such-outlet")


def test_run_with_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    result = newsflow("run", env={"NEWSFLOW_TIMEZONE": "Mars/Olympus_Mons"})
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "NEWSFLOW_TIMEZONE", "Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["run", "--date", "not-a-date"], "not a date"),
        (["run", "--date", "2023-02-30"], "not a date"),
        (["run", "--max-articles", "0"], "positive"),
        (["backfill", "--start", "2023-10-02"], "--end"),
        (["sql"], "query"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert complaint in err
    assert "Traceback" not in err


def test_backfill_with_end_before_start_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = cli(capsys, "backfill", "--start", "2023-10-05", "--end", "2023-10-01")
    assert code == 2
    assert_one_line_error(err, "before")


def test_sql_on_a_copied_data_dir_rebuilds_its_catalog_and_says_so(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(warehouse, copy)
    code, out, err = cli(capsys, "--data-dir", str(copy), "sql", "SELECT count(*) FROM rejected")
    assert code == 0
    assert out.splitlines()[2].strip() == "3"
    assert_one_line_error(err, "newsflow sql: the catalog was built for", f"rebuilt it for {copy}")


def test_extract_of_a_binary_file_is_one_line_not_extractable_and_exit_1(tmp_path: Path) -> None:
    binary = tmp_path / "tool"
    # An ELF header, then what a stripped executable looks like to a text reader.
    binary.write_bytes(
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + bytes(range(256)) * 16 + b"<p>usage</p>"
    )
    result = newsflow("extract", str(binary))
    assert result.returncode == 1
    assert result.stdout == ""
    assert_one_line_error(result.stderr, "newsflow extract:", "tool", "not extractable", "not HTML")


# ---------------------------------------------------------------- requests checked first

FAIL_FAST = """
import sys
from flows.cli import main
code = main(sys.argv[1:])
print("prefect imported" if "prefect" in sys.modules else "prefect not imported", code)
"""


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, str]:
    toml = tmp_path / "broken.toml"
    toml.write_text('[[source]\nid = "x"\n', encoding="utf-8")
    a_file = tmp_path / "data-file"
    a_file.write_text("not a directory", encoding="utf-8")
    empty = tmp_path / "empty-warehouse"
    empty.mkdir()
    return {"toml": str(toml), "file": str(a_file), "empty": str(empty), "tmp": str(tmp_path)}


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["run", "--sources", "{tmp}/absent.toml"], "no such sources file"),
        (["run", "--sources", "{toml}"], "not valid TOML"),
        (["run", "--source", "daily-courier", "--source", "nope"], "no source with id 'nope'"),
        (["backfill", "--start", "2023-10-01", "--end", "2023-10-02", "--source", "x"], "id 'x'"),
        (["backfill", "--start", "2023-10-05", "--end", "2023-10-01"], "is before --start"),
        (["run", "--date", "2999-01-01"], "after today"),
        (["backfill", "--start", "2023-10-05", "--end", "2999-01-01"], "after today"),
        (["--data-dir", "{file}", "run"], "is a file, not a directory"),
        (["--data-dir", "{empty}", "reprocess", "--date", "2023-10-15"], "nothing to reprocess"),
    ],
)
def test_impossible_requests_are_refused_before_prefect_starts(
    bad_inputs: dict[str, str], args: list[str], complaint: str
) -> None:
    argv = [arg.format(**bad_inputs) for arg in args]
    result = subprocess.run(
        [sys.executable, "-c", FAIL_FAST, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip() == "prefect not imported 2", result.stderr
    assert_one_line_error(result.stderr, complaint)


def test_reprocess_of_a_date_with_runs_of_other_sources_names_them(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "--data-dir", str(warehouse), "reprocess", "--date", "2023-10-15")
    assert code == 2
    assert_one_line_error(err, "nothing to reprocess for 2023-10-15", "cli-test")


def test_the_data_dir_flag_does_not_change_the_environment(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = os.environ.get("NEWSFLOW_DATA_DIR")
    code, _, _ = cli(capsys, "--data-dir", str(warehouse), "sql", "SELECT 1")
    assert code == 0
    assert os.environ.get("NEWSFLOW_DATA_DIR") == before


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_server_port_must_be_a_port_number(capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["server", "--port", port])
    assert stop.value.code == 2
    assert "not a port number" in capsys.readouterr().err
