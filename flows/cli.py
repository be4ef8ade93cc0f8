"""The `newsflow` command line: run flows, query the warehouse, debug one page, serve.

Exit codes: 0 success; 1 a run that failed or completed with failures, a query that failed,
a page that could not be fetched or extracted; 2 a usage or configuration error (bad
arguments, settings, sources file, or a data directory without a catalog). Errors are one
line on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.settings import Settings

PRIVATE_BY_DEFAULT = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
USAGE_ERROR = 2
FAILED = 1


class CliError(Exception):
    """An error to report as one line on stderr, with the exit code to end with."""

    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__)
    parser.add_argument("--data-dir", help="warehouse root (default: $NEWSFLOW_DATA_DIR or ./data)")
    # Also accepted after the command (`newsflow run --data-dir DIR`); SUPPRESS keeps a value
    # given before the command when none is given after it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="warehouse root")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[common], help="run the nightly ingest flow once")
    run.add_argument("--date", type=_date, help="logical run date (default: today)")
    run.add_argument("--sources", help="sources TOML file (default: seeds/sources.toml)")
    run.add_argument("--max-articles", type=_positive)

    backfill = commands.add_parser(
        "backfill", parents=[common], help="run the ingest for each date of a range"
    )
    backfill.add_argument("--start", type=_date, required=True)
    backfill.add_argument("--end", type=_date, required=True)
    backfill.add_argument("--sources")
    backfill.add_argument("--max-articles", type=_positive)

    reprocess = commands.add_parser(
        "reprocess", parents=[common], help="re-extract a date from the raw archive"
    )
    reprocess.add_argument("--date", type=_date, required=True)
    reprocess.add_argument("--sources")

    sql = commands.add_parser("sql", parents=[common], help="query the warehouse (read-only)")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")

    fetch = commands.add_parser(
        "fetch", parents=[common], help="fetch one URL under the run's policy, as JSON"
    )
    fetch.add_argument("url")
    fetch.add_argument(
        "--allow-private",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="let this host:port resolve to a loopback/private address (testing only)",
    )

    extract = commands.add_parser(
        "extract", parents=[common], help="extract one page (file or URL), as JSON"
    )
    extract.add_argument("file_or_url")
    extract.add_argument("--url", help="the page's URL when reading from a file")
    extract.add_argument("--allow-private", action="append", default=[], metavar="HOST:PORT")

    commands.add_parser("server", parents=[common], help="start a Prefect server (telemetry off)")
    commands.add_parser(
        "serve", parents=[common], help="register the deployments on the Prefect server and serve"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for key, value in PRIVATE_BY_DEFAULT.items():
        os.environ.setdefault(key, value)
    if args.data_dir:
        os.environ["NEWSFLOW_DATA_DIR"] = str(Path(args.data_dir).resolve())
    handler = globals()[f"_cmd_{args.command}"]
    try:
        return int(handler(args) or 0)
    except CliError as error:
        print(f"newsflow {args.command}: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print(f"newsflow {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`newsflow sql ... | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return FAILED


def _settings() -> Settings:
    """The settings from the environment; a bad value is a configuration error."""
    from pydantic import ValidationError

    from flows.settings import load_settings

    try:
        return load_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"NEWSFLOW_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise CliError(f"invalid settings: {problems}") from None


def _checked_sources(given: str | None) -> str:
    """Validate the sources file before any flow starts; returns its path.

    Placeholders for the bundled sample site are checked against its outlets here and
    filled for real by the flow, which serves the site.
    """
    from flows.sources import SourcesError, load_sources, referenced_sites

    settings = _settings()
    path = Path(given) if given else settings.sources_file
    outlets = referenced_sites(path) if path.is_file() else set()
    missing = sorted(o for o in outlets if not (settings.sample_site_dir / o).is_dir())
    if missing:
        raise CliError(
            f"{path}: refers to sample outlet {', '.join(missing)}, "
            f"which {settings.sample_site_dir} does not hold"
        )
    try:
        sources = load_sources(path, sites={o: "http://127.0.0.1" for o in outlets})
    except SourcesError as error:
        raise CliError(str(error)) from None
    if not any(source.enabled for source in sources):
        raise CliError(f"{path}: no enabled source")
    return str(path)


def _flow_failed(error: Exception) -> CliError:
    first_line = next((line for line in str(error).splitlines() if line.strip()), "")
    return CliError(
        f"the run failed: {type(error).__name__}: {first_line} "
        "(the Prefect log above has the detail)",
        FAILED,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from flows.ingest import nightly_ingest

    sources = _checked_sources(args.sources)
    try:
        summary = nightly_ingest(
            run_date=args.date, sources=sources, max_articles=args.max_articles
        )
    except Exception as error:  # the CLI's edge: report a failed flow run, exit 1
        raise _flow_failed(error) from None
    _print_summary(summary)
    return 0 if summary.status == "completed" else FAILED


def _cmd_backfill(args: argparse.Namespace) -> int:
    from flows.ingest import backfill

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    sources = _checked_sources(args.sources)
    try:
        summaries = backfill(
            start=args.start, end=args.end, sources=sources, max_articles=args.max_articles
        )
    except Exception as error:  # the CLI's edge: report a failed flow run, exit 1
        raise _flow_failed(error) from None
    for summary in summaries:
        _print_summary(summary)
    return 0 if all(s.status == "completed" for s in summaries) else FAILED


def _cmd_reprocess(args: argparse.Namespace) -> int:
    from flows.ingest import reprocess

    sources = _checked_sources(args.sources)
    try:
        summary = reprocess(run_date=args.date, sources=sources)
    except Exception as error:  # the CLI's edge: report a failed flow run, exit 1
        raise _flow_failed(error) from None
    _print_summary(summary)
    return 0 if summary.status == "completed" else FAILED


def _print_summary(summary: Any) -> None:
    print(f"Run {summary.run_id} ({summary.run_date}): {summary.status}")
    print(f"{'source':<22}{'found':>7}{'fetched':>9}{'new':>6}{'dup':>6}  rejected")
    for c in summary.per_source:
        reasons = ", ".join(f"{k}={v}" for k, v in c.rejected.items()) or "-"
        print(
            f"{c.source_id:<22}{c.discovered:>7}{c.fetched:>9}{c.new:>6}{c.duplicate:>6}  {reasons}"
        )
    written = ", ".join(f"{t}={n}" for t, n in sorted(summary.rows_written.items()))
    print(f"rows written: {written}")
    for failure in summary.failures:
        print(f"FAILED {failure}")
    print(f"\nWarehouse catalog (open it in any DuckDB client): {summary.catalog}")
    print('Try: newsflow sql "SELECT source_id, count(*) AS articles FROM articles GROUP BY 1"')


def _cmd_sql(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse.lake import StorageError
    from warehouse.query import NoWarehouse, run_sql

    def rebuilt(message: str) -> None:
        print(f"newsflow sql: {message}", file=sys.stderr)

    try:
        table = run_sql(_settings().data_dir, args.query, on_rebuild=rebuilt)
    except NoWarehouse as error:
        raise CliError(str(error)) from None
    except StorageError as error:
        raise CliError(f"cannot rebuild the catalog: {error}", FAILED) from None
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise CliError(first_line, FAILED) from None
    columns = table.column_names
    rows = list(zip(*(column.to_pylist() for column in table.columns), strict=True))
    if args.format == "json":
        records = [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]
        print(json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False))
    elif args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_csv_cell(value) for value in row] for row in rows)
    else:
        _print_table(columns, rows)
    return 0


def _plain(value: Any) -> Any:
    """A query value as plain JSON: ISO dates, numbers for decimals, null for NaN."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _csv_cell(value: Any) -> Any:
    """Scalars as they are (None as empty), lists and structs as JSON."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(_plain(value), ensure_ascii=False)
    plain = _plain(value)
    return "" if plain is None else plain


def _print_table(columns: list[str], rows: list[tuple[Any, ...]], width: int = 60) -> None:
    """Aligned columns (numbers to the right), long cells cut, then the row count."""

    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        text = text.replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"

    def numeric(index: int) -> bool:
        values = [row[index] for row in rows if row[index] is not None]
        return bool(values) and all(
            isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values
        )

    cells = [[cell(value) for value in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    right = [numeric(i) for i in range(len(columns))]

    def line(texts: list[str]) -> str:
        padded = (
            t.rjust(w) if r else t.ljust(w) for t, w, r in zip(texts, widths, right, strict=True)
        )
        return "  ".join(padded).rstrip()

    print(line(columns))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _fetcher(allow_private: list[str]) -> Any:
    from flows.pipeline import fetch_policy
    from tasks.fetch import HttpFetcher

    settings = _settings()
    settings = settings.model_copy(
        update={"allow_private_hosts": settings.allow_private_hosts | set(allow_private)}
    )
    return HttpFetcher(fetch_policy(settings))


def _now() -> datetime:
    return datetime.now(UTC)


def _print_outcome(outcome: Any) -> None:
    from tasks.fetch import describe

    print(json.dumps(describe(outcome), default=_json_default, ensure_ascii=False, indent=2))


def _cmd_fetch(args: argparse.Namespace) -> int:
    outcome = _fetcher(args.allow_private).fetch(args.url, source_id="cli", now=_now)
    _print_outcome(outcome)
    return 0 if outcome.log.reason in ("ok", "not_modified") else FAILED


def _cmd_extract(args: argparse.Namespace) -> int:
    from tasks.clean import clean_article
    from tasks.extract import ExtractionError, extract_article

    now = _now()
    target = args.file_or_url
    if target.startswith(("http://", "https://")):
        outcome = _fetcher(args.allow_private).fetch(target, source_id="cli", now=lambda: now)
        if outcome.page is None:
            _print_outcome(outcome)
            return FAILED
        html, url, final_url = outcome.page.body, target, outcome.page.final_url
        encoding = outcome.page.encoding
    else:
        path = Path(target)
        try:
            html = path.read_bytes()
        except OSError as error:
            raise CliError(f"cannot read {target}: {error.strerror or error}") from None
        url = args.url or path.resolve().as_uri()
        final_url = url
        encoding = None
    try:
        article = extract_article(html, url, fetched_at=now, final_url=final_url, encoding=encoding)
    except ExtractionError as error:
        raise CliError(f"{target}: not extractable: {error}", FAILED) from None
    if article.page_kind == "article":
        article = clean_article(article)
    record = asdict(article)
    record["provenance"] = dict(article.provenance)
    print(json.dumps(record, default=_json_default, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def _cmd_server(args: argparse.Namespace) -> int:
    env = {**os.environ, **PRIVATE_BY_DEFAULT}
    prefect = Path(sys.executable).with_name("prefect")
    return subprocess.call([str(prefect), "server", "start", "--host", "127.0.0.1"], env=env)


def _cmd_serve(args: argparse.Namespace) -> int:
    from flows.deployments import serve_deployments

    serve_deployments()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
