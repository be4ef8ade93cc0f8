"""Article metadata benchmark: title, published date, authors, body and language.

Usage: python benchmarks/metadata.py DATASET_DIR [--peers] [--errors FIELD] [--only ID ...]

`--errors body` lists the pages under BODY_REPORTED_BELOW F1 with their extra and missing lines.

DATASET_DIR holds `gold.json` and `html/<id>.html.gz` (the layout of
`shared/bench/article-metadata/README.md`). Each page is extracted with its `url` and with its
`crawl_date` (read as UTC) as the fetch time. The metric is the dataset README's:

- title: exact match after NFKC, typographic quotes and dashes as ASCII, zero-width characters
  removed and whitespace collapsed (case kept).
- published: "instant" within 60 s of the gold (a prediction without an offset is read as UTC;
  when the gold itself had no offset, `published_naive`, its wall-clock time read as UTC counts
  too; a gold whose `published_precision` is "day" is matched by its day); "same day" on the
  gold's calendar day in the gold's offset (a date-only prediction is compared as a date;
  instants are a subset); else "missing" or "wrong day".
- authors: names NFKC + casefold + whitespace collapsed; set precision/recall/F1 micro-averaged
  over pages whose gold has an authors list. "Persons only" drops, from both sides, names that
  `is_byline` takes for wire services, desks or outlets (see there).
- body: bag of lowercase `\\w+` tokens with counts, each Han or Kana character one token,
  between the gold's paragraphs joined and the predicted body; mean of per-page P, R and F1
  (an empty prediction scores 0 on all three).
- language: accuracy of the primary subtag, nb and nn read as no.

newsflow's prediction is `extract_article` then `clean_article`; its authors are `authors`
followed by `credited_organisations`; its body is `shown_text` (the standfirst the page shows,
kept in `lead`, then `body`), because the gold's paragraphs are the publisher's summary followed
by its sections. With `--peers`, trafilatura (bare_extraction with metadata) and
newspaper4k run too; newspaper4k is skipped with a note when it is not installed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIELDS = ("title", "published", "authors", "body", "language")
INSTANT_TOLERANCE = timedelta(seconds=60)


@dataclass(frozen=True)
class Prediction:
    title: str | None = None
    authors: tuple[str, ...] = ()
    published: datetime | date | None = None  # a `date` when the extractor gives no time
    body: str = ""
    language: str | None = None


@dataclass(frozen=True)
class Page:
    key: str
    html: bytes
    url: str
    crawled: datetime
    gold: dict[str, Any]


Extractor = Callable[[Page], Prediction]


# ------------------------------------------------------------------ normalisation

_QUOTES = str.maketrans(
    {
        **dict.fromkeys("‘’‚‛′‹›`´", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
    }
)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def norm_title(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    text = _ZERO_WIDTH.sub("", text).translate(_QUOTES)
    return " ".join(text.split())


def norm_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def norm_language(code: str | None) -> str | None:
    if not code:
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return {"nb": "no", "nn": "no"}.get(primary, primary) or None


_HAN_KANA = (
    "\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
)
_TOKEN = re.compile(rf"[{_HAN_KANA}]|[^\W{_HAN_KANA}]+")


def body_tokens(text: str) -> Counter[str]:
    """Lowercase `\\w+` tokens, each Han or Kana character a token of its own."""
    return Counter(_TOKEN.findall((text or "").lower()))


# ------------------------------------------------------------------ bylines (persons only)


# Wire services and news agencies, as whole words of a byline (lowercase, compacted).
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


AGENCIES = _words(
    "dpa afp ap reuters sda ats kna epd apa ansa efe pti ians ani xinhua yonhap kyodo tass"
    " ntb tt ritzau ctk čtk pap belga anp lusa bloomberg upi aap cp sid mti hina bta"
    " associatedpress deutschepresseagentur agencefrancepresse presseagentur"
)
# Words that make a byline a desk or an outlet rather than a person.
DESK_WORDS = re.compile(
    r"(?:^|[\W_])(?:redaktion|rédaction|redacción|redação|redazione|redactie|redaksjon|redaktionen"
    r"|staff|desk|newsroom|editorial|editors|team|online|news|web|agency|agencies|agencias"
    r"|agentur|presse|press|wire|service)(?:$|[\W_])|新聞|新闻|日报|日報|신문|통신",
    re.I,
)
_DOMAIN = re.compile(r"\w\.[a-z]{2,6}$", re.I)


def _compact(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def is_byline(name: str, publisher: str) -> bool:
    """A wire service, desk or outlet named where a person would be.

    An agency word ("dpa", "AFP, MANILA", "The Associated Press"), a desk word ("Redaktion",
    "Staff", "News"), a domain ("mbl.is"), or the publisher's own name ("Le Monde" for
    LeMonde, "BBC News" for BBC: one compact spelling contains the other).
    """
    words = [_compact(w) for w in re.split(r"[\s,;/()-]+", name) if _compact(w)]
    spelled = _compact(name)
    if any(w in AGENCIES for w in words) or spelled in AGENCIES:
        return True
    if any(spelled.startswith(a) for a in AGENCIES if len(a) > 8):
        return True
    if DESK_WORDS.search(name) or _DOMAIN.search(name.strip()):
        return True
    outlet = _compact(publisher)
    return len(spelled) >= 3 and bool(outlet) and (spelled in outlet or outlet in spelled)


# ------------------------------------------------------------------ scoring


@dataclass
class Tally:
    pages: int = 0
    title_exact: int = 0
    instant: int = 0
    same_day: int = 0
    missing: int = 0
    wrong_day: int = 0
    author_pages: int = 0
    author_none: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # tp fp fn, ptp pfp pfn
    body_p: float = 0.0
    body_r: float = 0.0
    body_f: float = 0.0
    language_ok: int = 0
    language_given: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, line: str) -> None:
        self.errors.setdefault(name, []).append(line)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def date_verdict(gold: dict[str, Any], predicted: datetime | date | None) -> str:
    """instant | same_day | missing | wrong_day."""
    if predicted is None:
        return "missing"
    truth = datetime.fromisoformat(gold["published"])
    readings = [truth]
    if gold.get("published_naive"):
        readings.append(truth.replace(tzinfo=UTC))
    if isinstance(predicted, datetime):
        instant = _as_utc(predicted)
    else:  # a date without a time: midnight UTC for the instant, the date itself for the day
        instant = datetime(predicted.year, predicted.month, predicted.day, tzinfo=UTC)
    if any(abs(instant - r) <= INSTANT_TOLERANCE for r in readings):
        return "instant"
    if isinstance(predicted, datetime):
        days = {instant.astimezone(r.tzinfo).date() for r in readings}
    else:
        days = {predicted}
    if truth.date() not in days:
        return "wrong_day"
    # A gold known to the day only (its time is midnight) is matched by the right day.
    return "instant" if gold.get("published_precision") == "day" else "same_day"


def body_scores(gold: str, predicted: str) -> tuple[float, float, float]:
    want, got = body_tokens(gold), body_tokens(predicted)
    overlap = sum((want & got).values())
    if not want and not got:
        return 1.0, 1.0, 1.0
    p = overlap / sum(got.values()) if got else 0.0
    r = overlap / sum(want.values()) if want else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


BODY_REPORTED_BELOW = 0.95  # `--errors body` lists pages under this F1
SHOWN_LINES = 4  # extra and missing lines shown per page
UNMATCHED = 0.6  # a line with less than this share of its words on the other side


def _unmatched_lines(text: str, other: str) -> list[str]:
    """Up to SHOWN_LINES lines of `text` whose words are mostly absent from `other`."""
    against = body_tokens(other)
    found = []
    for line in text.splitlines():
        words = body_tokens(line)
        total = sum(words.values())
        if total and sum((words & against).values()) < UNMATCHED * total:
            found.append(line.strip()[:110])
    return found[:SHOWN_LINES]


def _names(values: Iterable[str]) -> set[str]:
    return {n for n in (norm_name(v) for v in values) if n}


def score_page(tally: Tally, page: Page, pred: Prediction) -> None:
    gold = page.gold
    tally.pages += 1
    if norm_title(pred.title) == norm_title(gold.get("title")):
        tally.title_exact += 1
    else:
        tally.error(
            "title", f"{page.key}\n    gold: {gold.get('title')!r}\n    got:  {pred.title!r}"
        )

    verdict = date_verdict(gold, pred.published)
    setattr(tally, verdict, getattr(tally, verdict) + 1)
    if verdict != "instant":
        tally.error(
            "published",
            f"{page.key} [{verdict}] gold {gold['published']}"
            f"{' (naive)' if gold.get('published_naive') else ''} got {pred.published}",
        )

    if gold.get("authors") is not None:
        tally.author_pages += 1
        want, got = _names(gold["authors"]), _names(pred.authors)
        if want and not got:
            tally.author_none += 1
        tally.counts.update(tp=len(want & got), fp=len(got - want), fn=len(want - got))
        publisher = gold.get("publisher", "")
        pwant = {n for n in want if not is_byline(n, publisher)}
        pgot = {n for n in got if not is_byline(n, publisher)}
        tally.counts.update(ptp=len(pwant & pgot), pfp=len(pgot - pwant), pfn=len(pwant - pgot))
        if want != got:
            tally.error(
                "authors",
                f"{page.key}\n    gold: {sorted(want)}\n    got:  {sorted(got)}"
                f"\n    persons gold {sorted(pwant)} got {sorted(pgot)}",
            )

    gold_body = "\n".join(gold.get("body_paragraphs") or [])
    p, r, f = body_scores(gold_body, pred.body)
    tally.body_p += p
    tally.body_r += r
    tally.body_f += f
    if f < BODY_REPORTED_BELOW:
        words = sum(body_tokens(pred.body).values())
        want_words = sum(body_tokens(gold_body).values())
        extra = _unmatched_lines(pred.body, gold_body)
        missing = _unmatched_lines(gold_body, pred.body)
        tally.error(
            "body",
            f"{page.key} F1 {f:.3f} P {p:.3f} R {r:.3f} (words {words}, gold {want_words})"
            + "".join(f"\n    extra:   {line}" for line in extra)
            + "".join(f"\n    missing: {line}" for line in missing),
        )

    tally.language_given += pred.language is not None
    if norm_language(pred.language) == norm_language(gold.get("language")):
        tally.language_ok += 1
    else:
        tally.error("language", f"{page.key} gold {gold.get('language')} got {pred.language}")


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def summary(tally: Tally) -> dict[str, str]:
    n = max(tally.pages, 1)
    c = tally.counts
    _, _, f1 = _prf(c["tp"], c["fp"], c["fn"])
    _, _, pf1 = _prf(c["ptp"], c["pfp"], c["pfn"])
    ap, ar, _ = _prf(c["tp"], c["fp"], c["fn"])
    return {
        "title exact %": f"{100 * tally.title_exact / n:.1f}",
        "date same instant %": f"{100 * tally.instant / n:.1f}",
        "date same day %": f"{100 * (tally.instant + tally.same_day) / n:.1f}",
        "date missing / wrong day": f"{tally.missing} / {tally.wrong_day}",
        "authors F1 / persons only": f"{f1:.3f} / {pf1:.3f}",
        "authors P / R": f"{ap:.3f} / {ar:.3f}",
        "gold has authors, prediction none": f"{tally.author_none} / {tally.author_pages}",
        "body F1 (P / R)": (
            f"{tally.body_f / n:.3f} ({tally.body_p / n:.3f} / {tally.body_r / n:.3f})"
        ),
        "language accuracy %": (
            f"{100 * tally.language_ok / n:.1f}" if tally.language_given else "—"
        ),
    }


# ------------------------------------------------------------------ extractors


def newsflow(page: Page) -> Prediction:
    from tasks.clean import clean_article
    from tasks.extract import extract_article, shown_text

    article = clean_article(extract_article(page.html, page.url, fetched_at=page.crawled))
    return Prediction(
        title=article.title,
        authors=(*article.authors, *article.credited_organisations),
        published=article.published_at,
        body=shown_text(article),  # the gold's body is the summary then the sections
        language=article.language,
    )


def _parse_peer_date(value: Any) -> datetime | date | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def trafilatura_meta(page: Page) -> Prediction:
    import trafilatura

    doc = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True)
    if doc is None:
        return Prediction()
    authors = tuple(a.strip() for a in (doc.author or "").split(";") if a.strip())
    return Prediction(
        title=doc.title,
        authors=authors,
        published=_parse_peer_date(doc.date),
        body=doc.text or "",
        language=None,  # trafilatura detects no language without a target language
    )


def newspaper4k(page: Page) -> Prediction:
    import newspaper

    html = page.html.decode("utf-8", errors="replace")
    # No image fetching: it would go to the network for every <img> of the page.
    article = newspaper.Article(page.url, fetch_images=False)
    article.download(input_html=html)
    try:
        article.parse()
    except ImportError:
        # Japanese and Chinese word splitting are optional extras (tinysegmenter, jieba) that
        # the bench extra does not install: read the page with the default splitter instead.
        article = newspaper.Article(page.url, fetch_images=False, language="en")
        article.download(input_html=html)
        article.parse()
    return Prediction(
        title=article.title or None,
        authors=tuple(article.authors or ()),
        published=_parse_peer_date(article.publish_date),
        body=article.text or "",
        language=article.meta_lang or None,
    )


def _newspaper_available() -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import newspaper  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ main


def load_pages(dataset: Path, only: list[str] | None) -> list[Page]:
    gold = json.loads((dataset / "gold.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(gold):
        if only and key not in only:
            continue
        entry = gold[key]
        crawled = datetime.fromisoformat(entry["crawl_date"])
        pages.append(
            Page(
                key=key,
                html=gzip.decompress((dataset / "html" / f"{key}.html.gz").read_bytes()),
                url=entry["url"],
                crawled=_as_utc(crawled),
                gold=entry,
            )
        )
    return pages


def evaluate(extract: Extractor, pages: list[Page]) -> tuple[Tally, float]:
    tally = Tally()
    start = time.perf_counter()
    predictions = [extract(page) for page in pages]
    elapsed = time.perf_counter() - start
    for page, prediction in zip(pages, predictions, strict=True):
        score_page(tally, page, prediction)
    return tally, len(pages) / elapsed if elapsed else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--peers", action="store_true", help="also run trafilatura, newspaper4k")
    parser.add_argument("--errors", choices=FIELDS, help="list newsflow's errors on this field")
    parser.add_argument("--only", nargs="+", metavar="ID", help="score only these pages")
    args = parser.parse_args(argv)

    pages = load_pages(args.dataset, args.only)
    runs: list[tuple[str, Extractor]] = [("newsflow", newsflow)]
    if args.peers:
        runs.append(("trafilatura", trafilatura_meta))
        if _newspaper_available():
            runs.append(("newspaper4k", newspaper4k))
        else:
            print("newspaper4k is not installed (pip install newspaper4k): skipped")

    results: dict[str, tuple[Tally, float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peers warn about optional parts they lack
        for name, extract in runs:
            results[name] = evaluate(extract, pages)

    rows = summary(results["newsflow"][0])
    header = f"| {'field':<36} |" + "".join(f" {name:>22} |" for name in results)
    print(header)
    print("|" + "-" * 38 + "|" + "|".join("-" * 24 for _ in results) + "|")
    tables = {name: summary(tally) for name, (tally, _) in results.items()}
    for row in rows:
        print(f"| {row:<36} |" + "".join(f" {tables[n][row]:>22} |" for n in results))
    print(f"| {'pages/s':<36} |" + "".join(f" {s:>22.1f} |" for _, s in results.values()))
    if args.errors:
        lines = results["newsflow"][0].errors.get(args.errors, [])
        print(f"\nnewsflow {args.errors} errors ({len(lines)}):")
        for line in lines:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
