"""Load and validate the sources file (`seeds/sources.toml`) into `Source` records."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast, get_args

from tasks.dates import zone
from tasks.records import Selectors, Source, SourceKind

SITE_PLACEHOLDER = re.compile(r"\{\{site:([a-z0-9][a-z0-9-]*)\}\}")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KINDS = frozenset(get_args(SourceKind))
_SOURCE_KEYS = frozenset(
    {
        "id",
        "kind",
        "location",
        "urls",
        "name",
        "enabled",
        "max_articles",
        "language",
        "crawl_delay",
        "selectors",
        "timezone",
    }
)
_SELECTOR_KEYS = frozenset({"body", "title", "authors", "published", "drop"})


class SourcesError(ValueError):
    """A sources file that cannot be used, naming the file, the entry's key and the reason."""


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

    def fail(key: str, reason: str) -> SourcesError:
        return SourcesError(f"{where}.{key}: {reason}")

    if not isinstance(entry, dict):
        raise SourcesError(f"{where}: expected a table")
    unknown = sorted(set(entry) - _SOURCE_KEYS)
    if unknown:
        raise fail(unknown[0], "unknown key")
    source_id = entry.get("id")
    if not isinstance(source_id, str) or not _ID.match(source_id):
        raise fail("id", "required: lowercase letters, digits, '-' or '_' (at most 64)")
    where = f"{path}: source[{index}] ({source_id})"
    kind = entry.get("kind")
    if kind not in _KINDS:
        raise fail("kind", f"must be one of {sorted(_KINDS)}, not {kind!r}")
    location = entry.get("location")
    urls = entry.get("urls", [])
    if kind == "urls":
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise fail("urls", "kind 'urls' needs a non-empty list of URL strings")
        urls = [_absolute(_fill(u, sites, fail, "urls"), fail, "urls") for u in urls]
    else:
        if not isinstance(location, str):
            raise fail("location", f"kind {kind!r} needs a location URL")
        location = _absolute(_fill(location, sites, fail, "location"), fail, "location")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("enabled", "must be true or false")
    max_articles = entry.get("max_articles")
    if max_articles is not None and (not isinstance(max_articles, int) or max_articles < 1):
        raise fail("max_articles", "must be a positive integer")
    crawl_delay = entry.get("crawl_delay")
    if crawl_delay is not None and (
        not isinstance(crawl_delay, int | float) or isinstance(crawl_delay, bool) or crawl_delay < 0
    ):
        raise fail("crawl_delay", "must be a number of seconds >= 0")
    language = entry.get("language")
    if language is not None and (not isinstance(language, str) or not language.isalpha()):
        raise fail("language", "must be an ISO 639-1 code such as 'en'")
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise fail("name", "must be a string")
    timezone = entry.get("timezone")
    if timezone is not None:
        if not isinstance(timezone, str):
            raise fail("timezone", "must be an IANA time zone name such as 'Europe/Berlin'")
        try:
            zone(timezone)
        except ValueError:
            raise fail(
                "timezone", f"unknown IANA time zone {timezone!r} (e.g. 'Europe/Berlin')"
            ) from None
    return Source(
        id=source_id,
        kind=cast(SourceKind, kind),
        location=location if kind != "urls" else None,
        urls=tuple(urls) if kind == "urls" else (),
        name=name,
        enabled=enabled,
        max_articles=max_articles,
        language=language,
        crawl_delay=float(crawl_delay) if crawl_delay is not None else None,
        selectors=_selectors(entry.get("selectors", {}), fail),
        timezone=timezone,
    )


def _selectors(table: Any, fail: Any) -> Selectors:
    if not isinstance(table, dict):
        raise fail("selectors", "must be a table")
    unknown = sorted(set(table) - _SELECTOR_KEYS)
    if unknown:
        raise fail(f"selectors.{unknown[0]}", "unknown key")
    for key in _SELECTOR_KEYS - {"drop"}:
        if key in table and not isinstance(table[key], str):
            raise fail(f"selectors.{key}", "must be a CSS selector string")
    drop = table.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(item, str) for item in drop):
        raise fail("selectors.drop", "must be a list of CSS selector strings")
    return Selectors(
        body=table.get("body"),
        title=table.get("title"),
        authors=table.get("authors"),
        published=table.get("published"),
        drop=tuple(drop),
    )


def _fill(value: str, sites: Mapping[str, str], fail: Any, key: str) -> str:
    def base(match: re.Match[str]) -> str:
        site = match.group(1)
        if site not in sites:
            raise fail(key, f"refers to sample site {site!r}, which is not being served")
        return sites[site]

    return SITE_PLACEHOLDER.sub(base, value)


def _absolute(value: str, fail: Any, key: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise fail(key, f"must be an absolute http(s) URL, not {value!r}")
    return value
