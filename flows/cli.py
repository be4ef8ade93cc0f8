"""The `newsflow` command line: run flows, query the warehouse, debug one page, serve.

Exit codes: 0 success; 1 a run that failed or completed with failures, a query that failed,
a page that could not be fetched or extracted; 2 a usage or configuration error (bad
arguments, settings, sources file, or a data directory without a catalog). Errors are one
line on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warehouse.store_url import SCHEME  # a data dir in object storage (light: no pyarrow)

if TYPE_CHECKING:
    from flows.settings import Settings

PRIVATE_BY_DEFAULT = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
USAGE_ERROR = 2
FAILED = 1
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (1-65535): {text!r}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__)
    parser.add_argument("--data-dir", help="warehouse root (default: $NEWSFLOW_DATA_DIR or ./data)")
    # Also accepted after the command (`newsflow run --data-dir DIR`); SUPPRESS keeps a value
    # given before the command when none is given after it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="warehouse root")
    commands = parser.add_subparsers(dest="command", required=True)

    sources_help = "sources TOML file (default: $NEWSFLOW_SOURCES_FILE or seeds/sources.toml)"
    picking = argparse.ArgumentParser(add_help=False)  # which sources of the file a run takes
    picking.add_argument("--sources", help=sources_help)
    picking.add_argument(
        "--source",
        action="append",
        metavar="ID",
        help="run only this source of the file (repeatable; default: every enabled source)",
    )
    cap_help = "fetch at most this many article pages in a run (default: no cap)"
    run = commands.add_parser(
        "run", parents=[common, picking], help="run the nightly ingest flow once"
    )
    run.add_argument(
        "--date", type=_date, help="logical run date, not after today (default: today)"
    )
    run.add_argument("--max-articles", type=_positive, help=cap_help)

    backfill = commands.add_parser(
        "backfill", parents=[common, picking], help="run the ingest for each date of a range"
    )
    backfill.add_argument("--start", type=_date, required=True, help="first date (YYYY-MM-DD)")
    backfill.add_argument(
        "--end", type=_date, required=True, help="last date, included, not after today"
    )
    backfill.add_argument("--max-articles", type=_positive, help=cap_help + ", per date")

    reprocess = commands.add_parser(
        "reprocess",
        parents=[common, picking],
        help="re-extract a date from the raw archive (the run's own sources)",
    )
    reprocess.add_argument(
        "--date", type=_date, required=True, help="a date with a published run to rebuild"
    )

    sql = commands.add_parser("sql", parents=[common], help="query the warehouse (read-only)")
    sql.add_argument("query", help="one SQL statement over the catalog's views")
    sql.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="output format"
    )
    sql.add_argument(
        "--working-copy",
        action="store_true",
        help="with an s3:// data dir: bring this machine's working copy up to the store and "
        "query it (default: read the store in place, downloading nothing)",
    )

    fetching = argparse.ArgumentParser(add_help=False)  # the options of one-off fetches
    fetching.add_argument(
        "--allow-private",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="let this host:port resolve to a loopback/private address (testing only)",
    )
    fetch = commands.add_parser(
        "fetch", parents=[common, fetching], help="fetch one URL under the run's policy, as JSON"
    )
    fetch.add_argument("url", help="an http(s) URL")

    extract = commands.add_parser(
        "extract", parents=[common, fetching], help="extract one page (file or URL), as JSON"
    )
    extract.add_argument("file_or_url", help="an HTML file, or an http(s) URL to fetch")
    extract.add_argument("--url", help="the page's URL when reading from a file")

    record = commands.add_parser(
        "record",
        parents=[common, fetching],
        help="print the archived page a raw_record_id points at (its body, or --json)",
    )
    record.add_argument(
        "raw_record_id", help="<run_date>/<file>#<offset>, or an archive file's URL#<offset>"
    )
    record.add_argument("--json", action="store_true", help="the page's metadata and text")

    server = commands.add_parser(
        "server", parents=[common], help="start a Prefect server with its UI (telemetry off)"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=_port, default=4200, help="port to listen on")
    commands.add_parser(
        "serve", parents=[common], help="register the deployments on the Prefect server and serve"
    )
    alerts = commands.add_parser(
        "alerts",
        help="create (or update) the example Automation on the Prefect server: a webhook call "
        "for every source health event (failed, silent, drifted)",
    )
    alerts.add_argument(
        "--webhook-url",
        required=True,
        help='http(s) URL to POST each alert to, as JSON {"subject": ..., "body": ...}',
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Prefect reads these when it is imported: telemetry off before anything imports it.
    for key, value in PRIVATE_BY_DEFAULT.items():
        os.environ.setdefault(key, value)
    handler = globals()[f"_cmd_{args.command}"]
    previous = _stop_on_sigterm()
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
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit(143) so that every cleanup runs (the temporary Prefect
    server, worker processes, the staging area and the warehouse lock); returns the handler
    it replaced (None when not on the main thread, where no handler can be set)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, stop)


def _settings(args: argparse.Namespace) -> Settings:
    """The settings from the environment and the command's flags; a bad value is a
    configuration error."""
    from pydantic import ValidationError

    from flows.settings import load_settings

    data_dir: str | Path | None = getattr(args, "data_dir", None)
    if data_dir and not str(data_dir).startswith(SCHEME):  # an s3:// URL is not a path
        data_dir = Path(data_dir).absolute()
    try:
        return load_settings(data_dir=data_dir)
    except ValidationError as error:
        problems = "; ".join(
            f"NEWSFLOW_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise CliError(f"invalid settings: {problems}") from None


def _data_dir(args: argparse.Namespace, *, in_place: bool = False) -> Path | str:
    """The data dir alone, without building the settings (pydantic) when no `.env` file may
    set it: from the flag, else `NEWSFLOW_DATA_DIR` (any case, as the settings read it), else
    the settings' default. An s3:// warehouse is its working copy, pulled; with `in_place`,
    its URL (a str), to read where it is."""
    flag = getattr(args, "data_dir", None)
    if flag and not flag.startswith(SCHEME):
        return Path(flag).absolute()
    given = [v for k, v in os.environ.items() if k.upper() == "NEWSFLOW_DATA_DIR"]
    store = any(k.upper() == "NEWSFLOW_STORE_URL" for k in os.environ)
    if flag or Path(".env").exists() or store or (given and given[0].startswith(SCHEME)):
        settings = _settings(args)
        if in_place and settings.store_url:
            return settings.store_url
        return _pulled(settings)
    return Path(given[0]) if given else Path("data")


def _pulled(
    settings: Settings, dates: Sequence[date] | None = None, *, wait: bool = False
) -> Path:
    """The settings' data dir; for an s3:// warehouse, its working copy brought up to the
    store's state first (of `dates` only, if given). A copy that a run on this machine holds
    is read as it is, unless `wait`: then the run lock's wait applies."""
    if not settings.store_url:
        return settings.data_dir
    from warehouse.lake import WarehouseBusy
    from warehouse.store import StoreError, WorkingCopy

    wait_s = settings.run_lock_wait_s if wait else 0.0
    try:
        with WorkingCopy(settings.store_url, settings.data_dir, wait_s=wait_s) as copy:
            copy.pull(dates)
    except StoreError as error:
        raise CliError(str(error), FAILED) from None
    except WarehouseBusy as error:
        if wait:
            raise CliError(str(error), FAILED) from None
        print(
            f"newsflow: another process (a run?) holds the working copy {settings.data_dir}; "
            "reading it as it is, not the store's latest",
            file=sys.stderr,
        )
    return settings.data_dir


@contextmanager
def _refusals() -> Iterator[None]:
    """A request that cannot be done (dates, sources, data dir) is a usage error."""
    from flows.runs import RunRequestError

    try:
        yield
    except RunRequestError as error:
        raise CliError(str(error)) from None


def _checked_run(
    args: argparse.Namespace, run_dates: Sequence[date], *, reprocess: bool = False
) -> tuple[Settings, str]:
    """Validate what a run needs before anything heavy starts; returns settings and the
    sources file. Nothing here imports Prefect."""
    from flows import runs

    settings = _settings(args)
    with _refusals():
        runs.check_data_dir(settings)
        sources_file = Path(args.sources) if args.sources else settings.sources_file
        sources = runs.selected_sources(settings, sources_file, args.source)
        if reprocess:  # the published runs to read back are in the store
            _pulled(settings, run_dates, wait=True)
        for day in run_dates:
            runs.check_run_date(day, settings)
            if reprocess:
                runs.check_reprocess(settings, day, sources)
    return settings, str(sources_file)


def _run_flow(settings: Settings, call: Callable[[], Any]) -> list[Any]:
    """Run a flow (`call` returns its final state) against a Prefect API; returns the run
    summaries, also of a run in which every source failed."""
    from flows.ingest import DatesFailed, NothingIngested
    from flows.pipeline import RunSummary
    from flows.prefect_session import PrefectUnavailable, prefect_session
    from flows.settings import using

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    started = datetime.now(UTC)
    try:
        with using(settings), prefect_session(settings.prefect_start_timeout_s, say):
            try:
                state = call()
            except Exception as error:  # the run itself may have published before Prefect failed
                published = _published_since(settings, started)
                if not published:
                    raise _flow_failed(error) from None
                say(
                    f"newsflow: Prefect failed while the run was finishing ({type(error).__name__}"
                    f": {_first_line(error)}); its data is published: {', '.join(published)}"
                )
                return []
    except PrefectUnavailable as error:
        raise CliError(str(error), FAILED) from None
    result = state.result(raise_on_failure=False)
    if isinstance(result, NothingIngested):
        return [result.summary]
    if isinstance(result, DatesFailed):  # a backfill: what the other dates did, then why
        for summary in result.summaries:
            _print_summary(summary)
        raise CliError(str(result), FAILED)
    if isinstance(result, RunSummary):
        return [result]
    if isinstance(result, list):
        return result
    if isinstance(result, BaseException):
        raise _flow_failed(result)
    raise CliError(f"the run ended in state {state.name} without a result", FAILED)


def _published_since(settings: Settings, started: datetime) -> list[str]:
    """The runs that this data dir's `runs` table records as finished after `started`."""
    from warehouse.query import runs_finished_since

    return [
        f"run {run_id} ({status})"
        for run_id, status in runs_finished_since(settings.data_dir, started)
    ]


def _first_line(error: BaseException) -> str:
    return next((line for line in str(error).splitlines() if line.strip()), "")


def _flow_failed(error: BaseException) -> CliError:
    return CliError(
        f"the run failed: {type(error).__name__}: {_first_line(error)} "
        "(the Prefect log above has the detail)",
        FAILED,
    )


def _exit_code(summaries: Sequence[Any]) -> int:
    for summary in summaries:
        _print_summary(summary)
    return 0 if all(s.status == "completed" for s in summaries) else FAILED


def _cmd_run(args: argparse.Namespace) -> int:
    settings, sources = _checked_run(args, [args.date] if args.date else [])

    def call() -> Any:
        from flows.ingest import nightly_ingest, with_task_runner

        return with_task_runner(nightly_ingest, settings)(
            run_date=args.date,
            sources=args.source,
            max_articles=args.max_articles,
            sources_file=sources,
            return_state=True,
        )

    return _exit_code(_run_flow(settings, call))


def _cmd_backfill(args: argparse.Namespace) -> int:
    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    settings, sources = _checked_run(args, [args.end])

    def call() -> Any:
        from flows.ingest import backfill, with_task_runner

        return with_task_runner(backfill, settings)(
            start=args.start,
            end=args.end,
            sources=args.source,
            max_articles=args.max_articles,
            sources_file=sources,
            return_state=True,
        )

    return _exit_code(_run_flow(settings, call))


def _cmd_reprocess(args: argparse.Namespace) -> int:
    settings, sources = _checked_run(args, [args.date], reprocess=True)

    def call() -> Any:
        from flows.ingest import reprocess, with_task_runner

        return with_task_runner(reprocess, settings)(
            run_date=args.date, sources=args.source, sources_file=sources, return_state=True
        )

    return _exit_code(_run_flow(settings, call))


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
    for found in summary.found:  # what the home pages of `site` sources led to
        print(f"found {found}")
    for failure in summary.failures:
        print(f"FAILED {failure}")
    print(f"\nWarehouse catalog (open it in any DuckDB client): {summary.catalog}")
    print('Try: newsflow sql "SELECT source_id, count(*) AS articles FROM articles GROUP BY 1"')


def _cmd_sql(args: argparse.Namespace) -> int:
    from warehouse.session import NoWarehouse, QueryError, StorageError, sql_rows

    def rebuilt(message: str) -> None:
        print(f"newsflow sql: {message}", file=sys.stderr)

    source = _data_dir(args, in_place=not args.working_copy)
    try:
        if isinstance(source, str):  # an s3:// warehouse, read where it is
            columns, rows = _rows_in_place(source, args.query)
        else:
            columns, rows = sql_rows(source, args.query, on_rebuild=rebuilt)
    except NoWarehouse as error:
        raise CliError(str(error)) from None
    except StorageError as error:
        raise CliError(f"cannot rebuild the catalog: {error}", FAILED) from None
    except QueryError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise CliError(first_line, FAILED) from None
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


def _rows_in_place(url: str, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """`newsflow sql` over the objects of an s3:// warehouse (`warehouse.remote`)."""
    from warehouse.remote import sql_rows
    from warehouse.store import StoreError

    try:
        return sql_rows(url, query)
    except StoreError as error:
        raise CliError(str(error), FAILED) from None


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


def _fetcher(args: argparse.Namespace) -> Any:
    from flows.pipeline import fetch_policy
    from tasks.fetch import HttpFetcher

    settings = _settings(args)
    allow_private = args.allow_private
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
    with _fetcher(args) as fetcher:
        outcome = fetcher.fetch(args.url, source_id="cli", now=_now)
    _print_outcome(outcome)
    from tasks.reasons import SUCCESS

    return 0 if outcome.log.reason in SUCCESS else FAILED


def _cmd_extract(args: argparse.Namespace) -> int:
    from tasks.clean import clean_article
    from tasks.extract import ExtractionError, extract_article

    now = _now()
    target = args.file_or_url
    if target.startswith(("http://", "https://")):
        with _fetcher(args) as fetcher:
            outcome = fetcher.fetch(target, source_id="cli", now=lambda: now)
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


def _cmd_record(args: argparse.Namespace) -> int:
    from tasks.archive import Downloader, local_path, read_one
    from warehouse.raw import CorruptRawArchive, read_record

    settings = _settings(args)
    location, _, offset_text = args.raw_record_id.rpartition("#")
    try:
        if "://" not in location:  # the run's own raw archive
            day = location.split("/", 1)[0]
            dates = [date.fromisoformat(day)] if _ISO_DAY.fullmatch(day) else None
            page = read_record(_pulled(settings, dates), args.raw_record_id)
        elif not offset_text.isdigit():
            raise CliError(f"{args.raw_record_id!r} does not end in #<byte offset>")
        elif location.startswith("file://"):
            page = read_one(local_path(location), location, int(offset_text), settings.max_bytes)
        else:
            allowed = frozenset(settings.allow_private_hosts) | frozenset(args.allow_private)
            reader = Downloader(settings.full_user_agent, settings.max_bytes, allow_private=allowed)
            page = reader.record_at(location, int(offset_text))
    except (CorruptRawArchive, ValueError, OSError) as error:
        raise CliError(str(error), FAILED) from None
    if not args.json:
        sys.stdout.buffer.write(page.body)
        return 0
    record = asdict(page)
    record["body"] = page.body.decode(page.encoding or "utf-8", errors="replace")
    print(json.dumps(record, default=_json_default, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def _ui_link(ui_url: str, timeout: float = 5.0) -> str | None:
    """The address of the Prefect UI that the server at `ui_url` shows a browser: its default
    UI (in Prefect 3.9 the new one, under /v2, unless the server is set otherwise), read from
    the server's /ui-settings. None when the server does not answer with them."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(ui_url)
    if parts.scheme not in {"http", "https"}:
        return None
    try:
        with urllib.request.urlopen(  # noqa: S310 (http or https, checked above)
            f"{ui_url.rstrip('/')}/ui-settings", timeout=timeout
        ) as response:
            found = json.load(response)
    except (OSError, ValueError):
        return None
    base = found.get(f"{found.get('default_ui')}_base_url") if isinstance(found, dict) else None
    if not isinstance(base, str) or not base.startswith("/"):
        return None
    return f"{parts.scheme}://{parts.netloc}{base.rstrip('/')}"


def _announce_ui(origin: str, server: subprocess.Popen[bytes]) -> None:
    """Say where the UI is once the starting server answers (it can take a minute)."""
    import time as clock

    while server.poll() is None:
        link = _ui_link(origin, timeout=2.0)
        if link is not None:
            print(f"Prefect UI ready: {link}", file=sys.stderr, flush=True)
            return
        clock.sleep(1.0)


def _cmd_server(args: argparse.Namespace) -> int:
    env = {**os.environ, **PRIVATE_BY_DEFAULT}
    prefect = Path(sys.executable).with_name("prefect")
    host = "127.0.0.1" if args.host in {"0.0.0.0", "::", ""} else args.host  # noqa: S104
    origin = f"http://{f'[{host}]' if ':' in host else host}:{args.port}"
    print(
        f"Starting a Prefect server; for other commands: export PREFECT_API_URL={origin}/api",
        file=sys.stderr,
    )
    command = [str(prefect), "server", "start", "--host", args.host, "--port", str(args.port)]
    server = subprocess.Popen(command, env=env)
    threading.Thread(target=_announce_ui, args=(origin, server), daemon=True).start()
    record = _record_server(f"{origin}/api")
    try:
        return server.wait()
    finally:  # stopped by SIGTERM or Ctrl-C: the server goes too
        with contextlib.suppress(OSError, UnicodeDecodeError):  # or another server recorded since
            if record is not None and record.read_text(encoding="utf-8") == f"{origin}/api":
                record.unlink()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _record_server(api: str) -> Path | None:
    """Tell later commands on this machine where the server is (`flows.prefect_session`),
    so that they report to it instead of starting a temporary one."""
    from flows.prefect_session import server_record

    record = server_record()
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(api, encoding="utf-8")
    except OSError as error:
        print(f"Could not record the server's address in {record}: {error}", file=sys.stderr)
        return None
    return record


def _cmd_serve(args: argparse.Namespace) -> int:
    from prefect.settings import PREFECT_UI_URL, temporary_settings

    from flows.deployments import serve_deployments

    # Prefect's own links (the deployments link it prints when serving, each flow run's
    # "View at" line) are built on PREFECT_UI_URL, which points at the old UI unless set;
    # point it at the UI the server actually shows. The flow runs inherit it.
    configured = PREFECT_UI_URL.value()
    link = _ui_link(configured) if configured else None
    if link is None:
        serve_deployments()
        return 0
    with temporary_settings(updates={PREFECT_UI_URL: link}):
        serve_deployments()
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    url = urlsplit(args.webhook_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise CliError(f"--webhook-url must be an absolute http(s) URL, not {args.webhook_url!r}")
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise CliError(
            "set PREFECT_API_URL to the Prefect server the flows report to (newsflow server "
            "prints it): an Automation made on a temporary server would vanish with it"
        )
    from flows.health import ALERT_BLOCK, ALERT_EVENTS, ensure_alerts
    from flows.prefect_session import PrefectUnavailable, prefect_session

    settings = _settings(args)
    try:
        with prefect_session(settings.prefect_start_timeout_s, lambda m: print(m, file=sys.stderr)):
            automation = ensure_alerts(args.webhook_url)
    except PrefectUnavailable as error:
        raise CliError(str(error), FAILED) from None
    print(
        f"Automation {automation.name!r} ({automation.id}): every {ALERT_EVENTS} event POSTs "
        f"to {args.webhook_url} through the notification block {ALERT_BLOCK!r}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
