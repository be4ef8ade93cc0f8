"""The lake and the raw archive on object storage: an `s3://bucket/prefix` data dir.

Object stores have no rename, so the store is never written the way the local lake is. Runs
work, exactly as on local disk, against a *working copy*: a local data dir (the setting
`store_cache_dir`). This module keeps the copy and the store in step:

```
<prefix>/objects/run_date=D/<sha256><suffix>   a published file's bytes, under their digest
<prefix>/manifests/run_date=D.json             what readers see of date D: one small object
```
A manifest maps each published file of its date (`lake/<table>/run_date=D/<scope>.parquet`,
`raw/run_date=D/<name>.warc.gz`, paths under the data dir) to its object (its key, sha256 and
size; for a Parquet file, also whether its columns are exactly the schema's, `conforms`).
Only the daily files are kept in the store; the catalog, compacted months, summaries and other
indexes are derived and rebuilt in each working copy.

- `pull` (before a run, `newsflow sql --working-copy`, `newsflow record`; `warehouse.remote`
  queries the store in place) makes the copy's daily files exactly the store's: for each date
  whose manifest differs from the one the copy last applied (one LIST compares their ETags),
  or whose files in the copy were changed since, it downloads the objects it lacks, removes
  the files the manifest no longer lists, and rebuilds the catalog if its views change. So
  the dedup signature index, the seen URLs and the entity tables a run reads come from the
  store, whatever machine runs it; a local publication that never reached the store (its run
  died) is dropped.
- `push` (after a run's publication of date D) uploads each file of D the store lacks under its
  content-addressed key (a rerun writes the same key with the same bytes), then writes D's
  manifest LAST in one PUT: readers, who read the manifest first, flip from the old date to the
  new one at that PUT, never seeing a mix. Only then are the date's objects that the new
  manifest does not list deleted (those of the version it replaced, and any that a push which
  died before its manifest left). A failure before the manifest PUT leaves the store as it was
  and raises `StoreError`.

One writer per store at a time: the working copy's lock serialises the runs of one machine,
nothing serialises two machines (run them on different dates' schedules, or one at a time). A
reader that fetched a manifest just before a rerun of its date deleted the old objects gets a
missing-object error and reads again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from warehouse import verified
from warehouse.atomic import replace_text
from warehouse.lake import (
    WarehouseBusy,
    fsync_path,
    lake_dir,
    make_dirs,
    raw_dir,
    wait_for_lock,
)
from warehouse.store_url import SCHEME, StoreUrl, parse_url

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
STATE_DIR = ".store"  # in the working copy: the lock and what was last applied per date
_DATE_DIR = re.compile(r"run_date=(\d{4}-\d{2}-\d{2})")
_CHUNK = 1 << 20

StepHook = Callable[[str], None]
# Called with each step of the flows' pushes (`WorkingCopy.push`): tests stop a run there.
STEP_HOOK: StepHook | None = None


class StoreError(RuntimeError):
    """The object store could not be read or written; the message names the store and why."""


def filesystem() -> Any:
    """An fsspec S3 filesystem from the usual AWS environment variables (credentials, region,
    `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`), with no listing cache."""
    import s3fs

    return s3fs.S3FileSystem(**filesystem_options())


def filesystem_options() -> dict[str, Any]:
    """The arguments of `filesystem`'s `s3fs.S3FileSystem` (for a subclass of it)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    client = {"endpoint_url": endpoint} if endpoint else {}
    return {"client_kwargs": client, "skip_instance_cache": True, "use_listings_cache": False}


def _store_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (OSError, BotoCoreError, ClientError)


@contextmanager
def _talking(url: StoreUrl, doing: str) -> Iterator[None]:
    """Turn an error of the store's client into a one-line `StoreError`."""
    try:
        yield
    except StoreError:
        raise
    except _store_errors() as error:
        cause = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise StoreError(f"cannot {doing} {url}: {type(error).__name__}: {cause}") from error


# ------------------------------------------------------------------ the manifests


def manifest_key(url: StoreUrl, run_date: date) -> str:
    return f"{url.root}/manifests/run_date={run_date.isoformat()}.json"


def list_manifests(fs: Any, url: StoreUrl) -> dict[date, str]:
    """Each date's manifest in the store, with its ETag (one LIST)."""
    with _talking(url, "list the manifests of"):
        try:
            listing = fs.ls(f"{url.root}/manifests", detail=True, refresh=True)
        except FileNotFoundError:
            return {}
    found: dict[date, str] = {}
    for item in listing:
        name = item["name"].rsplit("/", 1)[-1]
        match = re.fullmatch(r"run_date=(\d{4}-\d{2}-\d{2})\.json", name)
        if match and item.get("type") == "file":
            found[date.fromisoformat(match.group(1))] = str(item.get("ETag", "")).strip('"')
    return found


def read_manifests(fs: Any, url: StoreUrl, dates: Iterable[date]) -> dict[date, dict[str, Any]]:
    """The manifests of `dates`, fetched together; a date whose manifest is gone is left out."""
    keys = {manifest_key(url, day): day for day in dates}
    if not keys:
        return {}
    with _talking(url, "read the manifests of"):
        fetched = fs.cat(list(keys), on_error="return")
    manifests: dict[date, dict[str, Any]] = {}
    for key, day in keys.items():
        data = fetched.get(key, FileNotFoundError(key))
        if isinstance(data, FileNotFoundError):
            continue
        if isinstance(data, BaseException):
            with _talking(url, f"read the manifest of {day} in"):
                raise data
        manifest: dict[str, Any] = json.loads(data)
        if manifest.get("format") != MANIFEST_FORMAT:
            raise StoreError(
                f"{SCHEME}{key} is a manifest of format {manifest.get('format')!r}; "
                f"this newsflow reads format {MANIFEST_FORMAT}"
            )
        manifests[day] = manifest
    return manifests


# ------------------------------------------------------------------ the working copy


def date_files(data_dir: Path, run_date: date) -> dict[str, Path]:
    """The published daily files of one date in a data dir, by path under the data dir."""
    part = f"run_date={run_date.isoformat()}"
    found = [
        *lake_dir(data_dir).glob(f"*/{part}/*.parquet"),
        *(raw_dir(data_dir) / part).glob("*.warc.gz"),
    ]
    root = Path(data_dir).absolute()
    return {p.relative_to(root).as_posix(): p for p in sorted(found) if p.is_file()}


def local_dates(data_dir: Path) -> set[date]:
    """The dates that have a partition folder in the copy's lake or raw archive."""
    folders = [*lake_dir(data_dir).glob("*/run_date=*"), *raw_dir(data_dir).glob("run_date=*")]
    return {date.fromisoformat(m.group(1)) for f in folders if (m := _DATE_DIR.fullmatch(f.name))}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _suffix(rel: str) -> str:
    return ".warc.gz" if rel.endswith(".warc.gz") else Path(rel).suffix


@dataclass(frozen=True, slots=True)
class Applied:
    """What the copy last agreed with the store on for one date: the manifest's bytes'
    md5 (the store's ETag of it) and each file's (sha256, size, mtime_ns) in the copy."""

    etag: str
    files: dict[str, tuple[str, int, int]]


class WorkingCopy:
    """A local data dir kept in step with an object store (see the module docstring).

    Hold it (`with copy:`) around a pull, a run and its push: its `flock` serialises the users
    of one working copy and dies with its process.
    """

    def __init__(
        self, url: str, data_dir: Path, *, wait_s: float = 3600.0, poll_s: float = 0.2
    ) -> None:
        self.url = parse_url(url)
        self.data_dir = Path(data_dir).absolute()
        self.wait_s = wait_s
        self._poll_s = poll_s
        self._fs: Any | None = None
        self._fd: int | None = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = filesystem()
        return self._fs

    def __enter__(self) -> WorkingCopy:
        """Hold the copy, waiting up to `wait_s` for the process that holds it, then raise
        `WarehouseBusy`."""
        state = self.data_dir / STATE_DIR
        make_dirs(state)
        fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            wait_for_lock(
                fd,
                self.wait_s,
                self._poll_s,
                busy=lambda: f"the working copy {self.data_dir} of {self.url} is in use by "
                f"another process and stayed busy for {self.wait_s:g} s",
            )
        except WarehouseBusy:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -------------------------------------------------------------- keys

    def _key(self, rel: str) -> str:
        return f"{self.url.root}/{rel}"

    def manifest_key(self, run_date: date) -> str:
        return manifest_key(self.url, run_date)

    def object_key(self, run_date: date, sha: str, rel: str) -> str:
        return f"objects/run_date={run_date.isoformat()}/{sha}{_suffix(rel)}"

    # -------------------------------------------------------------- state of the copy

    def _state_path(self) -> Path:
        return self.data_dir / STATE_DIR / "applied.json"

    def _load_state(self) -> dict[str, Applied]:
        try:
            raw = json.loads(self._state_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {
            day: Applied(item["etag"], {k: tuple(v) for k, v in item["files"].items()})
            for day, item in raw.items()
        }

    def _save_state(self, state: dict[str, Applied]) -> None:
        path = self._state_path()
        data = {day: {"etag": a.etag, "files": a.files} for day, a in sorted(state.items())}
        replace_text(path, json.dumps(data, indent=1), durable=False)

    @staticmethod
    def _stat(path: Path) -> tuple[int, int]:
        info = path.stat()
        return info.st_size, info.st_mtime_ns

    def _unchanged(self, applied: Applied, files: dict[str, Path]) -> bool:
        """Whether the copy's files of a date are exactly those it last agreed on."""
        if set(files) != set(applied.files):
            return False
        return all(self._stat(p) == tuple(applied.files[r][1:]) for r, p in files.items())

    # -------------------------------------------------------------- the store

    def _manifests(self) -> dict[date, str]:
        return list_manifests(self.fs, self.url)

    def read_manifest(self, run_date: date) -> dict[str, Any] | None:
        """Date's manifest in the store, None if it has none."""
        with _talking(self.url, f"read the manifest of {run_date} in"):
            try:
                data = self.fs.cat_file(self.manifest_key(run_date))
            except FileNotFoundError:
                return None
        manifest: dict[str, Any] = json.loads(data)
        return manifest

    # -------------------------------------------------------------- pull

    def pull(self, dates: Iterable[date] | None = None) -> list[date]:
        """Bring the copy's daily files (of `dates`, else of every date) up to the store's;
        returns the dates that changed. Raises `StoreError` if the store cannot be read."""
        wanted = None if dates is None else set(dates)
        manifests = self._manifests()
        state = self._load_state()
        days = set(manifests) | local_dates(self.data_dir) | {date.fromisoformat(d) for d in state}
        changed: list[date] = []
        for day in sorted(days):
            if wanted is not None and day not in wanted:
                continue
            files = date_files(self.data_dir, day)
            applied = state.get(day.isoformat())
            etag = manifests.get(day)
            if etag is None and not files:
                state.pop(day.isoformat(), None)
                continue
            if applied is not None and applied.etag == etag and self._unchanged(applied, files):
                continue
            state[day.isoformat()] = self._apply(day, files, etag)
            self._save_state(state)
            changed.append(day)
        self._save_state(state)
        if changed:
            from warehouse.catalog import ensure_catalog

            ensure_catalog(self.data_dir)
            logger.info("Working copy %s brought up to %s: %s", self.data_dir, self.url, changed)
        return changed

    def _apply(self, day: date, files: dict[str, Path], etag: str | None) -> Applied:
        """Make the copy's files of `day` those of its manifest in the store (none if it has
        none); returns what the copy now agrees on."""
        manifest = self.read_manifest(day) if etag is not None else None
        listed: dict[str, dict[str, Any]] = manifest["files"] if manifest else {}
        agreed: dict[str, tuple[str, int, int]] = {}
        for rel, item in sorted(listed.items()):
            target = self.data_dir / rel
            if not (target.is_file() and sha256_of(target) == item["sha256"]):
                self._download(self._key(item["key"]), target, item["sha256"])
            agreed[rel] = (item["sha256"], *self._stat(target))
        for rel, path in files.items():
            if rel not in listed:
                path.unlink()
                fsync_path(path.parent)
        return Applied(etag or "", agreed)

    def _download(self, key: str, target: Path, sha: str) -> None:
        make_dirs(target.parent)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with _talking(self.url, f"download {key} from"):
                self.fs.get_file(key, str(temp))
            if sha256_of(temp) != sha:
                raise StoreError(f"{SCHEME}{key} does not hold the bytes its manifest names")
            fsync_path(temp)
            os.replace(temp, target)
            fsync_path(target.parent)
        finally:
            temp.unlink(missing_ok=True)

    # -------------------------------------------------------------- push

    def push(self, run_date: date, on_step: StepHook | None = None) -> dict[str, Any]:
        """Publish the copy's files of `run_date` to the store (see the module docstring);
        returns the manifest written. `on_step` is called with `upload:<path>` before each
        upload, `manifest` before the manifest's PUT and `prune` after it; tests kill there."""
        step = on_step or (lambda _name: None)
        files = date_files(self.data_dir, run_date)
        listed: dict[str, dict[str, Any]] = {}
        agreed: dict[str, tuple[str, int, int]] = {}
        for rel, path in files.items():
            sha = sha256_of(path)
            key = self.object_key(run_date, sha, rel)
            listed[rel] = {"key": key, "sha256": sha, "size": path.stat().st_size}
            table = verified.table_of(self.data_dir, path)
            if table is not None:  # lets readers in place bind to the schema (warehouse.remote)
                listed[rel]["conforms"] = verified.conforms(path, table)
            agreed[rel] = (sha, *self._stat(path))
            if self._exists(self._key(key)):
                continue  # content-addressed: the same key holds the same bytes
            step(f"upload:{rel}")
            with _talking(self.url, f"upload {rel} to"):
                self.fs.put_file(str(path), self._key(key))
        manifest = {"format": MANIFEST_FORMAT, "run_date": run_date.isoformat(), "files": listed}
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        step("manifest")
        with _talking(self.url, f"write the manifest of {run_date} in"):
            self.fs.pipe_file(self.manifest_key(run_date), body)
        step("prune")
        try:  # the ETag that the next pull's listing compares (not always the body's MD5)
            with _talking(self.url, f"read the manifest of {run_date} in"):
                etag = str(self.fs.info(self.manifest_key(run_date))["ETag"]).strip('"')
        except StoreError as error:  # published: the next pull compares the files instead
            logger.warning("%s", error)
            etag = ""
        state = self._load_state()
        state[run_date.isoformat()] = Applied(etag, agreed)
        self._save_state(state)
        self._prune(run_date, {self._key(item["key"]) for item in listed.values()})
        logger.info("Published %s to %s: %d files", run_date, self.url, len(listed))
        return manifest

    def _prune(self, run_date: date, kept: set[str]) -> None:
        """Delete the date's objects that its manifest (just written) does not list: those of
        the version it replaced, and any that a push which died before its manifest left."""
        folder = self._key(f"objects/run_date={run_date.isoformat()}")
        try:
            with _talking(self.url, f"list the objects of {run_date} in"):
                try:
                    found = self.fs.ls(folder, detail=False, refresh=True)
                except FileNotFoundError:
                    found = []
            for key in sorted(set(found) - kept):
                with _talking(self.url, f"delete {key} from"):
                    self.fs.rm_file(key)
        except StoreError as error:  # the date is published: an orphan costs space only
            logger.warning("%s (left for the next push of the date)", error)

    def _exists(self, key: str) -> bool:
        with _talking(self.url, f"look for {key} in"):
            return bool(self.fs.exists(key))


# ------------------------------------------------------------------ for the entry points


class _Local:
    """The working copy of a local data dir: it is the warehouse, nothing to pull or push."""

    def __enter__(self) -> _Local:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def pull(self, dates: Iterable[date] | None = None) -> list[date]:
        return []

    def push(self, run_date: date, on_step: StepHook | None = None) -> None:
        return None


def working_copy(
    store_url: str | None, data_dir: Path, wait_s: float = 3600.0
) -> WorkingCopy | _Local:
    """The working copy of the settings' warehouse: a `WorkingCopy` of `store_url`, or, for a
    local data dir (no `store_url`), one that does nothing."""
    return WorkingCopy(store_url, data_dir, wait_s=wait_s) if store_url else _Local()
