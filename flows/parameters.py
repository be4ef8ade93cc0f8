"""The flows' parameters as the Prefect UI's run form shows them.

Prefect draws a form from each parameter's JSON schema. An optional parameter (`date | None`)
would be drawn as a choice between a date and "None", opening on None; here each parameter's
schema is written out (`WithJsonSchema`), so a date is a date picker that may be left empty,
a count is a number field, and every field says what it does. Empty means the default the
description names. `fill_schema` then puts what only the serving machine knows (the ids of
its sources, its article cap) into a deployment's copy of the schema.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import WithJsonSchema

from tasks.records import Source

RunDate = Annotated[
    date | None,
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "description": "Logical date of the run: the warehouse partition it writes. "
            "Leave empty for today in the configured time zone; never after today.",
        }
    ),
]
SourceIds = Annotated[
    list[str] | None,
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "string"},
            "uniqueItems": True,
            "description": "Which sources to run, by id. Leave empty for every enabled source; "
            "a source picked here runs even if its entry is disabled.",
        }
    ),
]
MaxArticles = Annotated[
    int | None,
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": 1,
            "description": "Fetch at most this many article pages in the run (per date in a "
            "backfill). Leave empty for no cap beyond each source's own.",
        }
    ),
]
SourcesFile = Annotated[
    str | None,
    WithJsonSchema(
        {
            "type": "string",
            "description": "Path of a sources TOML file on the machine that serves the flows. "
            "Leave empty for the configured one (NEWSFLOW_SOURCES_FILE).",
        }
    ),
]


def _date(description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "format": "date", "description": description})


BackfillDay = Annotated[
    date, _date("The date to collect: the items its sources date on that day.")
]
StartDate = Annotated[date, _date("First date of the range.")]
EndDate = Annotated[date, _date("Last date of the range, included; not after today.")]
ReprocessDate = Annotated[
    date, _date("A date with a published run of these sources to rebuild.")
]


# Prefect titles each field with the parameter's name; the form shows these instead.
TITLES = {
    "run_date": "Run date",
    "sources": "Sources",
    "max_articles": "Max articles",
    "start": "Start date",
    "end": "End date",
}


def fill_schema(
    properties: dict[str, Any], sources: tuple[Source, ...], max_articles: int | None
) -> None:
    """Put the serving machine's sources and cap into a deployment's parameter schema
    (`properties`, changed in place).

    `sources` becomes a multi-select of the configured ids (enabled ones first chosen), so
    the form offers exactly what the sources file defines and the server refuses other ids;
    `max_articles` opens on the configured cap when there is one. The sources file is not
    offered: the ids are those of the configured file.
    """
    if "sources" in properties:
        ids = [source.id for source in sources]
        properties["sources"]["items"] = {"type": "string", "enum": ids}
        properties["sources"]["default"] = [s.id for s in sources if s.enabled]
    if "max_articles" in properties and max_articles is not None:
        properties["max_articles"]["default"] = max_articles
    properties.pop("sources_file", None)
    for name, field in properties.items():
        if field.get("default", ...) is None:  # "empty" is the default: nothing to prefill
            del field["default"]
        field["title"] = TITLES.get(name, name)
