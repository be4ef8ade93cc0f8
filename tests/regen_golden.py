"""Regenerate the golden files of the extraction tests.

Usage: .venv/bin/python tests/regen_golden.py [NAME ...]

Each case is a page `tests/fixtures/pages/<name>.html` and its inputs below. The script runs
extract then clean (as the flow does) and writes `<name>.json` with sorted keys: the inputs
under "input" and the article under "expected". Review the diff before committing it.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.clean import clean_article
from tasks.extract import extract_article
from tasks.records import Article, Discovered, Selectors

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
FETCHED_AT = "2024-06-01T12:00:00+00:00"

CASES: dict[str, dict[str, Any]] = {
    "seed_style_article": {
        "url": "https://harbourpost.example/world/asia/putin-accepts-north-korea-invitation?utm_source=feed"
    },
    "meta_date_windows1252": {"url": "https://valleycourier.example/business/cafe-energy-bills"},
    "time_element_shift_jis": {"url": "https://minato.example/local/asaichi"},
    "url_date_bom_publisher_only": {
        "url": "https://northshore.example/2024/03/05/river-festival-record-crowds/"
    },
    "feed_date": {
        "url": "https://library.example/news/weekend-hours",
        "discovered": {
            "url": "https://library.example/news/weekend-hours",
            "source_id": "library",
            "found_in": "https://library.example/feed.xml",
            "published_at": "2024-05-20T09:30:00+02:00",
            "authors": ["Olivia Brandt"],
        },
    },
    "selectors_override": {
        "url": "https://coastline.example/story/bridge-repairs",
        "selectors": {
            "body": ".story-text",
            "title": ".hed",
            "authors": ".by",
            "published": "span.when",
            "drop": [".promo"],
        },
    },
    "paywall": {"url": "https://ledger.example/tech/sodium-batteries"},
    "index_page": {"url": "https://valleycourier.example/news/local/"},
    "video_only": {"url": "https://valleycourier.example/video/storm-surge"},
    "javascript_shell": {"url": "https://northshore.example/app/story/123"},
    "error_page": {"url": "https://valleycourier.example/missing-page"},
}


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _discovered(spec: dict[str, Any] | None) -> Discovered | None:
    if spec is None:
        return None
    return Discovered(
        url=spec["url"],
        source_id=spec["source_id"],
        found_in=spec["found_in"],
        title=spec.get("title"),
        published_at=_when(spec.get("published_at")),
        modified_at=_when(spec.get("modified_at")),
        authors=tuple(spec.get("authors", ())),
    )


def _selectors(spec: dict[str, Any] | None) -> Selectors | None:
    if spec is None:
        return None
    return Selectors(
        body=spec.get("body"),
        title=spec.get("title"),
        authors=spec.get("authors"),
        published=spec.get("published"),
        drop=tuple(spec.get("drop", ())),
    )


def run_case(html: bytes, spec: dict[str, Any]) -> Article:
    """Extract and clean one page with the inputs of a case."""
    article = extract_article(
        html,
        spec["url"],
        fetched_at=datetime.fromisoformat(spec.get("fetched_at", FETCHED_AT)).astimezone(UTC),
        final_url=spec.get("final_url"),
        selectors=_selectors(spec.get("selectors")),
        discovered=_discovered(spec.get("discovered")),
    )
    return clean_article(article)


def article_to_json(article: Article) -> dict[str, Any]:
    """An Article as plain JSON values: datetimes in ISO 8601, tuples as lists."""
    fields: dict[str, Any] = {}
    for name in Article.__slots__:
        value = getattr(article, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        fields[name] = value
    return fields


def main(names: list[str]) -> int:
    for name in names or sorted(CASES):
        spec = {"fetched_at": FETCHED_AT, **CASES[name]}
        article = run_case((PAGES / f"{name}.html").read_bytes(), spec)
        golden = {"input": spec, "expected": article_to_json(article)}
        (PAGES / f"{name}.json").write_text(
            json.dumps(golden, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        print(f"wrote {name}.json ({article.page_kind})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
