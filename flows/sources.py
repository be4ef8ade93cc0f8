"""Load and validate the sources file (`seeds/sources.toml`) into `Source` records.

Each `[[source]]` table is checked by a pydantic model (`extra="forbid"`, strict types);
an error names the file, the entry (its index and id) and the key, with one reason:
`seeds/sources.toml: source[2] (metro).selectors.body: invalid CSS selector ...`.

Keys: `id`, `kind` (`feed`, `sitemap`, `urls`, `section`, `site`, `warc`), `location` (the
feed, sitemap, section page or home page; every kind but `urls`) or `urls` (kind `urls`),
`name`, `enabled`, `max_articles`, `language`, `crawl_delay`, `timezone` (the IANA zone
of the publisher's local times, e.g. `Europe/Berlin`), `[source.selectors]` (`body`,
`title`, `authors`, `published`, `drop`) and, for kinds `section` and `site`, `links`,
`next` and `max_pages` (see `tasks.sections`). Every CSS selector is compiled with
soupsieve when the file is loaded, so a bad one is an error here, not a silent miss later.

Health thresholds (`flows.health`, the `source_health` view): `silent_after_days` (a whole
number of days from 1 to 365, default `DEFAULT_SILENT_AFTER_DAYS`: the source is `silent`
when its last stored article is that many run days old) and `drift_share` (above 0, at most
1, default `DEFAULT_DRIFT_SHARE`: the source has `drifted` when the share of its pages that
extraction found not to be articles or to have a short body rose by that much over its
previous runs).

Kind `warc` (archived captures, `tasks.archive`): `location` is a WARC file, a folder of them, a
glob, a WARC URL or a paths listing (`*.paths`, `*.paths.gz`; local paths are relative to the
sources file); `base_url` resolves a listing's paths; filters: `publishers` (host names or
registrable domains), `url_patterns` (regular expressions), `warc_since`/`warc_until` (a
WARC-Date window, TOML datetimes with an offset) and `languages` (ISO 639-1 codes, after
extraction).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic import field_validator as validates
from pydantic_core import ErrorDetails

from tasks.dates import zone
from tasks.records import (
    DEFAULT_DRIFT_SHARE,
    DEFAULT_MAX_PAGES,
    DEFAULT_SILENT_AFTER_DAYS,
    Selectors,
    Source,
    SourceKind,
)
from tasks.sections import InvalidSelector, compile_selector

SITE_PLACEHOLDER = re.compile(r"\{\{site:([a-z0-9][a-z0-9-]*)\}\}")
MAX_PAGES = 50  # the most pages of a section a source may ask for in one run
MAX_SILENT_AFTER_DAYS = 365
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KINDS = sorted(get_args(SourceKind))
_PAGED_KINDS = ("section", "site")
_WARC_KEYS = ("base_url", "publishers", "url_patterns", "languages", "warc_since", "warc_until")

# The reason given when a key holds a value of the wrong type (or out of range).
_EXPECTED = {
    "id": "required: lowercase letters, digits, '-' or '_' (at most 64)",
    "location": "must be an absolute http(s) URL",
    "urls": "kind 'urls' needs a non-empty list of URL strings",
    "name": "must be a string",
    "enabled": "must be true or false",
    "max_articles": "must be a positive integer",
    "language": "must be an ISO 639-1 code such as 'en'",
    "crawl_delay": "must be a number of seconds >= 0",
    "timezone": "must be an IANA time zone name such as 'Europe/Berlin'",
    "selectors": "must be a table",
    "selectors.drop": "must be a list of CSS selector strings",
    "links": "must be a CSS selector string",
    "next": "must be a CSS selector string",
    "max_pages": f"must be an integer from 1 to {MAX_PAGES}",
    "silent_after_days": f"must be a whole number of days from 1 to {MAX_SILENT_AFTER_DAYS}",
    "drift_share": "must be a share above 0 and at most 1, e.g. 0.3",
    "base_url": "must be an absolute http(s) URL or a folder",
    "publishers": "must be a list of host names such as 'example.com'",
    "url_patterns": "must be a list of regular expressions",
    "languages": "must be a list of ISO 639-1 codes such as 'en'",
    "warc_since": "must be a TOML datetime with an offset, e.g. 2026-11-01T00:00:00Z",
    "warc_until": "must be a TOML datetime with an offset, e.g. 2026-11-02T00:00:00Z",
}
_SELECTOR_KEYS = ("body", "title", "authors", "published")


class SourcesError(ValueError):
    """A sources file that cannot be used, naming the file, the entry's key and the reason."""


def _css(value: str | None) -> str | None:
    if value is not None:
        try:
            compile_selector(value)
        except InvalidSelector as error:
            raise ValueError(str(error)) from None
    return value


class _SelectorsEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    body: str | None = None
    title: str | None = None
    authors: str | None = None
    published: str | None = None
    drop: list[str] = Field(default_factory=list)

    @validates(*_SELECTOR_KEYS)
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return _css(value)

    @validates("drop")
    @classmethod
    def _drop(cls, value: list[str]) -> list[str]:
        for css in value:
            _css(css)
        return value


class _SourceEntry(BaseModel):
    """One `[[source]]` table. Fields are checked in this order: `kind` before the keys
    whose rules depend on it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str
    kind: SourceKind
    location: str | None = Field(default=None, validate_default=True)
    urls: list[str] | None = Field(default=None, validate_default=True)
    name: str = ""
    enabled: bool = True
    max_articles: int | None = Field(default=None, gt=0)
    language: str | None = None
    crawl_delay: float | None = Field(default=None, ge=0)
    timezone: str | None = None
    selectors: _SelectorsEntry = Field(default_factory=_SelectorsEntry)
    links: str | None = None
    next: str | None = None
    max_pages: int | None = Field(default=None, ge=1, le=MAX_PAGES)
    silent_after_days: int | None = Field(default=None, ge=1, le=MAX_SILENT_AFTER_DAYS)
    drift_share: float | None = Field(default=None, gt=0, le=1)
    base_url: str | None = None
    publishers: list[str] = Field(default_factory=list)
    url_patterns: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    warc_since: datetime | None = None
    warc_until: datetime | None = None

    @validates("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(_EXPECTED["id"])
        return value

    @validates("location")
    @classmethod
    def _location(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == "urls" and value is not None:
            raise ValueError("kind 'urls' has no location: list its URLs in urls")
        if kind is None or kind == "urls":
            return None  # a bad kind is reported on its own
        if value is None:
            raise ValueError(f"kind {kind!r} needs a location URL")
        if kind == "warc":
            return _archive_location(_fill(value, info), info)
        return _absolute(_fill(value, info))

    @validates("urls")
    @classmethod
    def _urls(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        kind = info.data.get("kind")
        if kind != "urls":
            if value is not None and kind is not None:
                raise ValueError(f"only for kind 'urls' (this source is a {kind!r})")
            return None
        if not value:
            raise ValueError(_EXPECTED["urls"])
        return [_absolute(_fill(url, info)) for url in value]

    @validates("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError(_EXPECTED["language"])
        return value

    @validates("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zone(value)
            except ValueError:
                example = "e.g. 'Europe/Berlin'"
                raise ValueError(f"unknown IANA time zone {value!r} ({example})") from None
        return value

    @validates("links", "next", "max_pages")
    @classmethod
    def _paged(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if value is not None and kind is not None and kind not in _PAGED_KINDS:
            raise ValueError(f"only for kinds 'section' and 'site' (this source is a {kind!r})")
        return _css(value) if isinstance(value, str) else value

    @validates(*_WARC_KEYS)
    @classmethod
    def _archive_only(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if value not in (None, []) and kind is not None and kind != "warc":
            raise ValueError(f"only for kind 'warc' (this source is a {kind!r})")
        return value

    @validates("publishers")
    @classmethod
    def _publishers(cls, value: list[str]) -> list[str]:
        hosts = [host.strip().lower().rstrip(".") for host in value]
        for host in hosts:
            if not _HOST.match(host):
                raise ValueError(f"{host!r} is not a host name such as 'example.com'")
        return hosts

    @validates("url_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
        return value

    @validates("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if not (code.isalpha() and len(code) in (2, 3)):
                raise ValueError(f"{code!r} is not an ISO 639-1 code such as 'en'")
        return [code.lower() for code in value]

    @validates("warc_since", "warc_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs an offset (e.g. 2026-11-01T00:00:00Z), not a local time")
        return value

    @validates("base_url")
    @classmethod
    def _base(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or re.match(r"^https?://", value):
            return value
        return _archive_location(value, info)

    def record(self) -> Source:
        s = self.selectors
        return Source(
            id=self.id,
            kind=self.kind,
            location=self.location,
            urls=tuple(self.urls or ()),
            name=self.name,
            enabled=self.enabled,
            max_articles=self.max_articles,
            language=self.language,
            crawl_delay=self.crawl_delay,
            timezone=self.timezone,
            selectors=Selectors(s.body, s.title, s.authors, s.published, tuple(s.drop)),
            links=self.links,
            next=self.next,
            max_pages=self.max_pages or DEFAULT_MAX_PAGES,
            silent_after_days=self.silent_after_days or DEFAULT_SILENT_AFTER_DAYS,
            drift_share=self.drift_share or DEFAULT_DRIFT_SHARE,
            base_url=self.base_url,
            publishers=tuple(self.publishers),
            url_patterns=tuple(self.url_patterns),
            languages=tuple(self.languages),
            warc_since=self.warc_since,
            warc_until=self.warc_until,
        )


def _fill(value: str, info: ValidationInfo) -> str:
    sites: Mapping[str, str] = (info.context or {}).get("sites", {})

    def base(match: re.Match[str]) -> str:
        site = match.group(1)
        if site not in sites:
            raise ValueError(f"refers to sample site {site!r}, which is not being served")
        return sites[site]

    return SITE_PLACEHOLDER.sub(base, value)


def _archive_location(value: str, info: ValidationInfo) -> str:
    """A `warc` location: an http(s) URL as given; a local path made absolute, relative
    paths from the sources file's folder."""
    if re.match(r"^https?://", value):
        return _absolute(value)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        raise ValueError(f"must be an http(s) URL or a local path, not {value!r}")
    folder: Path = (info.context or {}).get("folder", Path.cwd())
    return str(folder / Path(value).expanduser())


def _absolute(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an absolute http(s) URL, not {value!r}")
    return value


def referenced_sites(path: Path) -> set[str]:
    """Outlet ids of the bundled sample site that a sources file refers to."""
    return set(SITE_PLACEHOLDER.findall(path.read_text(encoding="utf-8")))


def load_sources(path: Path, *, sites: Mapping[str, str] | None = None) -> tuple[Source, ...]:
    """Read every source of `path`, in file order; `sites` fills `{{site:ID}}` placeholders."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(f"{path}: no such sources file") from None
    except tomllib.TOMLDecodeError as error:
        raise SourcesError(f"{path}: not valid TOML: {error}") from None
    entries = document.get("source")
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{path}: expected at least one [[source]] table")
    sources = [_parse(path, index, entry, sites or {}) for index, entry in enumerate(entries)]
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.id in seen:
            raise SourcesError(f"{path}: source[{index}].id: duplicate id {source.id!r}")
        seen.add(source.id)
    return tuple(sources)


def _parse(path: Path, index: int, entry: Any, sites: Mapping[str, str]) -> Source:
    where = f"{path}: source[{index}]"
    if not isinstance(entry, dict):
        raise SourcesError(f"{where}: expected a table")
    try:
        context = {"sites": sites, "folder": path.resolve().parent}
        return _SourceEntry.model_validate(entry, context=context).record()
    except ValidationError as error:
        source_id = entry.get("id")
        if isinstance(source_id, str) and _ID.match(source_id):
            where += f" ({source_id})"
        key, reason = _explain(error.errors()[0])
        raise SourcesError(f"{where}.{key}: {reason}") from None


def _explain(error: ErrorDetails) -> tuple[str, str]:
    """The key (`selectors.drop[1]`) and the reason of one validation error."""
    names = [str(part) for part in error["loc"] if isinstance(part, str)]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])[1:]
    kind = error["type"]
    if kind == "extra_forbidden":
        return key, "unknown key"
    if kind == "value_error":
        return key, str(error.get("ctx", {}).get("error", error["msg"]))
    if names == ["kind"]:
        given = error.get("input") if kind != "missing" else None
        return key, f"must be one of {_KINDS}, not {given!r}"
    field = ".".join(names)
    if field.startswith("selectors.") and field != "selectors.drop":
        return key, "must be a CSS selector string"
    return key, _EXPECTED.get(field, error["msg"])
