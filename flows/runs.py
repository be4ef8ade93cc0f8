"""What a run request means, checked before anything heavy starts (no Prefect here).

The CLI calls these before it imports Prefect or starts a server, so a bad request fails in
a moment with one line; the flows call them again, so a run started from the Prefect UI
fails the same way. `RunRequestError` is the one kind of refusal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from flows.sample_site import base_url
from flows.settings import Settings
from flows.sources import SourcesError, load_sources, referenced_sites
from tasks.records import Source
from warehouse.lake import ARCHIVE_PART, data_file, partition_dir


class RunRequestError(ValueError):
    """A run that cannot be done as asked: bad dates, nothing to reprocess, bad sources."""


def today(settings: Settings) -> date:
    """Today's date in the configured time zone: the default run date."""
    return datetime.now(settings.zone).date()


def run_scope(sources: tuple[Source, ...]) -> str:
    """The deterministic file name of a run within its date: same sources, same files."""
    ids = ",".join(sorted(source.id for source in sources))
    return "ingest-" + hashlib.sha256(ids.encode()).hexdigest()[:10]


def check_data_dir(settings: Settings) -> Path:
    """The data dir, which must be a directory or not exist yet."""
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        raise RunRequestError(f"data dir {path} is a file, not a directory")
    return path


def check_run_date(run_date: date, settings: Settings) -> date:
    """A run covers what was published up to its date: a date after today is refused."""
    now = today(settings)
    if run_date > now:
        raise RunRequestError(
            f"run date {run_date} is after today ({now} in {settings.timezone}): "
            "a run can only collect what has been published by its date"
        )
    return run_date


def check_backfill(start: date, end: date, settings: Settings) -> None:
    if end < start:
        raise RunRequestError(f"backfill end {end} is before its start {start}")
    check_run_date(end, settings)


def configured_sources(settings: Settings, sources_file: Path) -> tuple[Source, ...]:
    """Every source of a sources file (disabled ones too), validated, without serving the
    sample site.

    Placeholders for the bundled sample site are checked against its outlets and filled
    with their base URLs (which do not depend on where the site is served).
    """
    if not sources_file.is_file():
        raise RunRequestError(f"{sources_file}: no such sources file")
    outlets = referenced_sites(sources_file)
    missing = sorted(o for o in outlets if not (settings.sample_site_dir / o).is_dir())
    if missing:
        raise RunRequestError(
            f"{sources_file}: refers to sample outlet {', '.join(missing)}, "
            f"which {settings.sample_site_dir} does not hold"
        )
    try:
        return load_sources(sources_file, sites={o: base_url(o) for o in outlets})
    except SourcesError as error:
        raise RunRequestError(str(error)) from None


def selected_sources(
    settings: Settings, sources_file: Path, ids: Sequence[str] | None = None
) -> tuple[Source, ...]:
    """The sources a run takes from a sources file: those named by `ids` (see
    `pick_sources`), else every enabled one."""
    return pick_sources(configured_sources(settings, sources_file), ids, sources_file)


def pick_sources(
    sources: Sequence[Source], ids: Sequence[str] | None, origin: Path
) -> tuple[Source, ...]:
    """The sources named by `ids`, in the file's order; with no ids, every enabled source.

    A source named by id runs even when the file disables it: naming it is the request.
    An id the file does not define is refused, naming the ids it does define.
    """
    if ids:
        known = {source.id for source in sources}
        unknown = sorted(set(ids) - known)
        if unknown:
            raise RunRequestError(
                f"{origin}: no source with id {', '.join(map(repr, unknown))} "
                f"(its sources: {', '.join(sorted(known))})"
            )
        return tuple(source for source in sources if source.id in set(ids))
    enabled = tuple(source for source in sources if source.enabled)
    if not enabled:
        raise RunRequestError(f"{origin}: no enabled source")
    return enabled


def check_reprocess(settings: Settings, run_date: date, sources: tuple[Source, ...]) -> None:
    """Reprocessing needs a published run of these sources on that date to read back."""
    scope = run_scope(sources)
    if data_file(settings.data_dir, "fetch_log", run_date, scope).is_file():
        return
    parts = partition_dir(settings.data_dir, "archive_files", run_date)
    if all(s.kind == "warc" for s in sources) and any(parts.glob(f"{ARCHIVE_PART}*.parquet")):
        return  # archive sources read their files again
    folder = partition_dir(settings.data_dir, "runs", run_date)
    others = sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []
    hint = (
        f"; that date has runs of other sources ({', '.join(others)}): pass their sources file"
        if others
        else ""
    )
    raise RunRequestError(
        f"nothing to reprocess for {run_date}: no run of these sources ({scope}) was "
        f"published under {settings.data_dir}{hint}"
    )
