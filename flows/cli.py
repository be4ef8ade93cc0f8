"""The `newsflow` command line: run flows, query the warehouse, debug one page, serve."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

PRIVATE_BY_DEFAULT = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsflow", description=__doc__)
    parser.add_argument("--data-dir", help="warehouse root (default: $NEWSFLOW_DATA_DIR or ./data)")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the nightly ingest flow once")
    run.add_argument("--date", type=_date, help="logical run date (default: today)")
    run.add_argument("--sources", help="sources TOML file (default: seeds/sources.toml)")
    run.add_argument("--max-articles", type=int)

    backfill = commands.add_parser("backfill", help="run the ingest for each date of a range")
    backfill.add_argument("--start", type=_date, required=True)
    backfill.add_argument("--end", type=_date, required=True)
    backfill.add_argument("--sources")
    backfill.add_argument("--max-articles", type=int)

    reprocess = commands.add_parser("reprocess", help="re-extract a date from the raw archive")
    reprocess.add_argument("--date", type=_date, required=True)
    reprocess.add_argument("--sources")

    sql = commands.add_parser("sql", help="query the warehouse (read-only)")
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")

    fetch = commands.add_parser("fetch", help="fetch one URL under the run's policy, as JSON")
    fetch.add_argument("url")
    fetch.add_argument(
        "--allow-private", action="append", default=[], metavar="HOST:PORT",
        help="let this host:port resolve to a loopback/private address (testing only)",
    )

    extract = commands.add_parser("extract", help="extract one page (file or URL), as JSON")
    extract.add_argument("file_or_url")
    extract.add_argument("--url", help="the page's URL when reading from a file")
    extract.add_argument("--allow-private", action="append", default=[], metavar="HOST:PORT")

    commands.add_parser("server", help="start a Prefect server (telemetry off)")
    commands.add_parser("serve", help="register the deployments on the Prefect server and serve")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for key, value in PRIVATE_BY_DEFAULT.items():
        os.environ.setdefault(key, value)
    if args.data_dir:
        os.environ["NEWSFLOW_DATA_DIR"] = str(Path(args.data_dir).resolve())
    handler = globals()[f"_cmd_{args.command}"]
    return int(handler(args) or 0)


def _cmd_run(args: argparse.Namespace) -> int:
    from flows.ingest import nightly_ingest

    summary = nightly_ingest(
        run_date=args.date, sources=args.sources, max_articles=args.max_articles
    )
    _print_summary(summary)
    return 0 if summary.status == "completed" else 1


def _cmd_backfill(args: argparse.Namespace) -> int:
    from flows.ingest import backfill

    summaries = backfill(
        start=args.start, end=args.end, sources=args.sources, max_articles=args.max_articles
    )
    for summary in summaries:
        _print_summary(summary)
    return 0 if all(s.status == "completed" for s in summaries) else 1


def _cmd_reprocess(args: argparse.Namespace) -> int:
    from flows.ingest import reprocess

    summary = reprocess(run_date=args.date, sources=args.sources)
    _print_summary(summary)
    return 0 if summary.status == "completed" else 1


def _print_summary(summary: Any) -> None:
    print(f"Run {summary.run_id} ({summary.run_date}): {summary.status}")
    print(f"{'source':<22}{'found':>7}{'fetched':>9}{'new':>6}{'dup':>6}  rejected")
    for c in summary.per_source:
        reasons = ", ".join(f"{k}={v}" for k, v in c.rejected.items()) or "-"
        print(f"{c.source_id:<22}{c.discovered:>7}{c.fetched:>9}{c.new:>6}{c.duplicate:>6}  {reasons}")
    written = ", ".join(f"{t}={n}" for t, n in sorted(summary.rows_written.items()))
    print(f"rows written: {written}")
    for failure in summary.failures:
        print(f"FAILED {failure}")
    print(f"\nWarehouse catalog (open it in any DuckDB client): {summary.catalog}")
    print('Try: newsflow sql "SELECT source_id, count(*) AS articles FROM articles GROUP BY 1"')


def _cmd_sql(args: argparse.Namespace) -> int:
    from flows.settings import load_settings
    from warehouse.query import run_sql

    table = run_sql(load_settings().data_dir, args.query)
    rows = table.to_pylist()
    if args.format == "json":
        print(json.dumps(rows, default=_json_default, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=table.column_names)
        writer.writeheader()
        writer.writerows(rows)
    else:
        _print_table(table.column_names, rows)
    return 0


def _print_table(columns: list[str], rows: list[dict[str, Any]], width: int = 60) -> None:
    def cell(value: Any) -> str:
        text = "NULL" if value is None else str(value)
        text = text.replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"

    cells = [[cell(row[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
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
    from flows.settings import load_settings
    from tasks.fetch import HttpFetcher

    settings = load_settings()
    settings = settings.model_copy(
        update={"allow_private_hosts": settings.allow_private_hosts | set(allow_private)}
    )
    return HttpFetcher(fetch_policy(settings))


def _cmd_fetch(args: argparse.Namespace) -> int:
    outcome = _fetcher(args.allow_private).fetch(
        args.url, source_id="cli", now=lambda: datetime.now().astimezone()
    )
    report = {"log": asdict(outcome.log)}
    if outcome.page is not None:
        report["page"] = {
            "final_url": outcome.page.final_url,
            "content_type": outcome.page.content_type,
            "bytes": len(outcome.page.body),
        }
    print(json.dumps(report, default=_json_default, ensure_ascii=False, indent=2))
    return 0 if outcome.log.reason == "ok" else 1


def _cmd_extract(args: argparse.Namespace) -> int:
    from tasks.clean import clean_article
    from tasks.extract import extract_article

    now = datetime.now().astimezone()
    target = args.file_or_url
    if target.startswith(("http://", "https://")):
        outcome = _fetcher(args.allow_private).fetch(target, source_id="cli", now=lambda: now)
        if outcome.page is None:
            print(json.dumps({"log": asdict(outcome.log)}, default=_json_default, indent=2))
            return 1
        html, url, final_url = outcome.page.body, target, outcome.page.final_url
    else:
        path = Path(target)
        html = path.read_bytes()
        url = args.url or path.resolve().as_uri()
        final_url = url
    article = extract_article(html, url, fetched_at=now, final_url=final_url)
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
