"""Dates as feeds, sitemaps and pages write them, read into aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_date(value: str | None) -> datetime | None:
    """An ISO 8601 or RFC 2822 date as an aware UTC datetime; naive values are taken as UTC."""
    if not value:
        return None
    text = value.strip()
    parsed: datetime | None = None
    iso = (
        text.replace("Z", "+00:00").replace(" ", "T", 1)
        if re.match(r"^\d{4}-\d{2}-\d{2}", text)
        else None
    )
    if iso:
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
    try:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # an offset that pushes the instant out of range
        return None
