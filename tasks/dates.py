"""Dates as feeds, sitemaps and pages write them, read into aware UTC datetimes.

A value without an offset is local time somewhere: callers pass the zone to read it in (the
source's configured `timezone`, or what the page itself says elsewhere, such as the country
of its locale: `country_zone`); without one it is taken as UTC. Dates written as text
("Do 25.04.24 | 14:07 Uhr", "1. April 2025, 15:25", "April 25, 2024 3:07 PM", "2024年4月25日")
are read by `text_date`.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, tzinfo
from email.utils import parsedate_to_datetime
from importlib import resources
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo, ZoneInfoNotFoundError

_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


@functools.lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name` ("Europe/Berlin"); ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


_REGION = re.compile(r"^[a-zA-Z]{2,3}[-_]([a-zA-Z]{2})(?:$|[-_.@])")


# Instants at which a country's zones must agree to count as one local time (winter, summer).
_SAME_TIME_AT = (datetime(2025, 1, 15, 12, tzinfo=UTC), datetime(2025, 7, 15, 12, tzinfo=UTC))


def _offsets(name: str) -> tuple[object, ...]:
    return tuple(at.astimezone(zone(name)).utcoffset() for at in _SAME_TIME_AT)


@functools.lru_cache(maxsize=1)
def _single_zone_countries() -> dict[str, str]:
    """Countries whose zones keep one local time ("KR" -> "Asia/Seoul", "DE" -> Berlin, whose
    Büsingen keeps the same time; not "ES", whose Canaries do not), from the time zone
    database's `zone.tab` (in the `tzdata` package, else in the system's zoneinfo directory)."""
    text = ""
    try:
        text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        for directory in TZPATH:
            path = Path(directory) / "zone.tab"
            if path.is_file():
                text = path.read_text("utf-8")
                break
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#"):
            zones.setdefault(fields[0].upper(), []).append(fields[2])
    return {
        country: names[0]
        for country, names in zones.items()
        if len({_offsets(name) for name in names}) == 1
    }


def country_zone(locale: str | None) -> ZoneInfo | None:
    """The zone of a locale's country when that country keeps one local time ("ko_KR",
    "de-AT"); None for a bare language ("de"), a country spanning zones ("en_US", "es_ES")
    or an unknown one."""
    match = _REGION.match((locale or "").strip())
    if match is None:
        return None
    name = _single_zone_countries().get(match[1].upper())
    return zone(name) if name else None


def _parse(value: str | None) -> datetime | None:
    """An ISO 8601 or RFC 2822 date as written: aware when it has an offset, else naive."""
    if not value:
        return None
    text = value.strip()
    parsed: datetime | None = None
    if _ISO_START.match(text):
        iso = text.replace("Z", "+00:00").replace(" ", "T", 1)
        iso = re.sub(r"(\.\d{6})\d+", r"\1", iso)  # fromisoformat takes at most microseconds
        iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(iso[:10])
            except ValueError:
                parsed = None
    if parsed is None:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return parsed


def _to_utc(parsed: datetime, tz: tzinfo | None) -> datetime | None:
    try:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=tz or UTC).astimezone(UTC)
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # an offset that pushes the instant out of range
        return None


def parse_date(value: str | None, tz: tzinfo | None = None) -> datetime | None:
    """An ISO 8601 or RFC 2822 date as an aware UTC datetime; naive values are read in `tz`
    (UTC when None), a date without a time as its midnight there."""
    parsed = _parse(value)
    return _to_utc(parsed, tz) if parsed is not None else None


def declared_zone(value: str | None) -> tzinfo | None:
    """The offset a date string is written with ("...+02:00" -> UTC+2); None when naive."""
    parsed = _parse(value)
    return parsed.tzinfo if parsed is not None and parsed.tzinfo is not None else None


def is_date_only(value: str | None) -> bool:
    """A date without a time of day ("2024-04-25")."""
    return bool(value and _DATE_ONLY.match(value))


# ------------------------------------------------------------------ dates written as text

_MONTH_NAMES = {
    1: "january jan januar jänner janvier enero gennaio janeiro januari",
    2: "february feb februar février fevrier febrero febbraio fevereiro februari",
    3: "march mar märz maerz mars marzo março marco maart marts",
    4: "april apr avril abril aprile",
    5: "may mai mayo maggio maio mei maj",
    6: "june jun juni juin junio giugno junho",
    7: "july jul juli juillet julio luglio julho",
    8: "august aug août aout agosto augustus augusti",
    9: "september sep sept septembre septiembre setiembre settembre setembro",
    10: "october oct oktober octobre octubre ottobre outubro",
    11: "november nov novembre noviembre novembro",
    12: "december dec dezember décembre decembre diciembre dicembre dezembro",
}
MONTHS: dict[str, int] = {
    name: number for number, names in _MONTH_NAMES.items() for name in names.split()
}
_MONTH = "(" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")\.?"
_TEXT_DATES = (
    # 25.04.2024, 25.04.24, 25. 4. 2024
    ("dmy", re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})(?![\d.])")),
    # 2024-04-25, 2024.04.25, 2024/04/25, 2024年4月25日
    ("ymd", re.compile(r"(?<!\d)(\d{4})\s?[-./年]\s?(\d{1,2})\s?[-./月]\s?(\d{1,2})(?!\d)")),
    # 1. April 2025, 25 avril 2024, 5 de abril de 2024
    ("dMy", re.compile(rf"(?<!\d)(\d{{1,2}})\.?\s+(?:de\s+)?{_MONTH}\s+(?:de\s+)?(\d{{4}})", re.I)),
    # April 25, 2024; Apr. 25th 2024
    ("Mdy", re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})", re.I)),
)
_CLOCK = re.compile(
    r"(?<![\d:.])(\d{1,2})(?::|h|\.(?=\d{2}\s*uhr))(\d{2})(?::(\d{2}))?(?![\d:])"
    r"\s*(a\.?m\.?|p\.?m\.?)?",
    re.I,
)


def _clock(text: str) -> time | None:
    match = _CLOCK.search(text)
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2])
    second = int(match[3]) if match[3] else 0
    meridiem = (match[4] or "").replace(".", "").lower()
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def _day(kind: str, match: re.Match[str]) -> date | None:
    try:
        if kind == "dmy":
            year = int(match[3])
            return date(year + 2000 if year < 100 else year, int(match[2]), int(match[1]))
        if kind == "ymd":
            return date(int(match[1]), int(match[2]), int(match[3]))
        if kind == "dMy":
            return date(int(match[3]), MONTHS[match[2].lower()], int(match[1]))
        return date(int(match[3]), MONTHS[match[1].lower()], int(match[2]))
    except ValueError:
        return None


def text_date(text: str, tz: tzinfo | None = None) -> tuple[datetime, bool] | None:
    """The first date written in `text`, with the time of day written beside it if any.

    Returns the instant in UTC (local time read in `tz`, UTC when None) and whether a time
    was found. Day-month-year is assumed for numeric dates with dots; slashes between day and
    month are ambiguous and not read.
    """
    found: list[tuple[int, date, re.Match[str]]] = []
    for kind, pattern in _TEXT_DATES:
        match = pattern.search(text)
        if match:
            day = _day(kind, match)
            if day is not None:
                found.append((match.start(), day, match))
    if not found:
        return None
    _, day, match = min(found, key=lambda item: item[0])
    rest = text[: match.start()] + " " + text[match.end() :]
    clock = _clock(rest)
    local = datetime.combine(day, clock or time(0))
    value = _to_utc(local, tz)
    return (value, clock is not None) if value is not None else None
