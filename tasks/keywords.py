"""Keywords of an article: the publisher's own, from every place they are given, and key
phrases computed from its text.

- `publisher_keywords` reads, in this order and with that provenance (`Keyword.source`): the
  Google News sitemap's `news:keywords` (`news_sitemap`), `<meta name="keywords">`
  (`meta_keywords`), `<meta name="news_keywords">` (`news_keywords`), every OpenGraph
  `<meta property="article:tag">` (`article_tag`), the article's JSON-LD `keywords` (a string
  or a list; `jsonld_keywords`) and the names of its `about` (`jsonld_about`), and the
  `<category>`s of the feed item that listed it (`feed_category`). The string forms (news
  sitemap, both metas, a JSON-LD string) are split at commas and semicolons; a tag, a list
  item, a name or a category is one keyword as it stands.
- `key_phrases` are YAKE's best `n` (default `KEY_PHRASES`) of title + body (`yake-rust`, MIT,
  a port of the reference implementation), scored (lower is more relevant), with the
  stop words of the article's language. YAKE has stop words for `YAKE_LANGUAGES` only and
  finds words by spaces, so articles in other languages, or of no known language, get no
  computed phrases (only their publisher's keywords).
- `normalise` is what keywords are grouped by: NFKC, casefolded, whitespace collapsed,
  punctuation around it stripped. Within one source a keyword is kept once (the first time);
  across sources each source keeps its own row, so agreement between them stays visible.

Everything here is pure and deterministic: the same page gives the same rows in every
process (YAKE's scores, which differ in the last bits from one process to the next, are
rounded to `SCORE_DIGITS` significant digits before they are ranked, ties by text). Key
phrases read the first `MAX_TEXT_CHARS` of title + body (cut at a paragraph): YAKE's work
grows with the text, and what a news story is about is said early.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from lxml import html as lxml_html
from yake_rust import Yake

from tasks.metadata import meta_values, text_of
from tasks.records import Article, Discovered, Keyword, KeywordEntry, KeywordSource

KEY_PHRASES = 10  # computed key phrases kept per article
MAX_NGRAM = 3  # words in a computed key phrase, at most
MAX_PER_SOURCE = 50  # publisher keywords kept per source (some pages list hundreds)
MAX_KEYWORD_CHARS = 100  # longer "keywords" are sentences or junk, not keywords
# Title + body read for key phrases: about 500 words, the headline and the opening paragraphs
# where a news story says what it is about. YAKE's work grows with the text (about 1 ms per
# 1,000 characters), and extraction must stay at half trafilatura's speed or better.
MAX_TEXT_CHARS = 3_000
SCORE_DIGITS = 6  # significant digits of a computed phrase's score
# YAKE's best candidates ranked here for each phrase kept: far more than ties at the n-th
# place or the phrases dropped here (clitics, case variants) ever take.
CANDIDATES_PER_PHRASE = 10

# Article language (ISO 639-1) -> YAKE's stop-word list. YAKE's own codes differ for Czech
# ("cz") and Norwegian ("no"); its "br" is Brazilian Portuguese, not Breton, so "br" is not
# taken; Chinese and Japanese are left out since YAKE finds words by spaces.
YAKE_LANGUAGES: dict[str, str] = {
    **{
        code: code
        for code in (
            "ar", "bg", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "hi", "hr", "hu",
            "hy", "id", "it", "lt", "lv", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sv",
            "tr", "uk",
        )
    },
    "cs": "cz",
    "nb": "no",
    "nn": "no",
}  # fmt: skip

_SPLIT = re.compile(r"[,;]")
# A clitic that YAKE's tokenizer splits off as a word of its own: "operator ’s chief",
# "crews did n’t", "offer wo n’t".
_CLITIC = re.compile(r"(?:^|\s)n?['’]\w*(?:\s|$)", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed, punctuation around it stripped."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    start, end = 0, len(folded)
    while start < end and _is_edge(folded[start]):
        start += 1
    while end > start and _is_edge(folded[end - 1]):
        end -= 1
    return folded[start:end]


def _is_edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def publisher_keywords(
    root: lxml_html.HtmlElement,
    article_ld: dict[str, Any] | None,
    discovered: Discovered | None,
) -> tuple[KeywordEntry, ...]:
    """The publisher's keywords of a page (and of the listing that named it), by source."""
    ld = article_ld or {}
    ld_keywords = ld.get("keywords")
    by_source: list[tuple[KeywordSource, Iterable[str]]] = [
        ("news_sitemap", _split(discovered.keywords if discovered else ())),
        ("meta_keywords", _split(meta_values(root, ("keywords",)))),
        ("news_keywords", _split(meta_values(root, ("news_keywords",)))),
        ("article_tag", meta_values(root, ("article:tag",))),
        (
            "jsonld_keywords",
            _split([ld_keywords]) if isinstance(ld_keywords, str) else _names(ld_keywords),
        ),
        ("jsonld_about", _names(ld.get("about"))),
        ("feed_category", discovered.categories if discovered else ()),
    ]
    entries: list[KeywordEntry] = []
    for source, written in by_source:
        entries += [(keyword, source, None) for keyword in _kept(written, MAX_PER_SOURCE)]
    return tuple(entries)


def _split(values: Iterable[str]) -> list[str]:
    return [part for value in values for part in _SPLIT.split(value)]


def _names(value: Any) -> list[str]:
    """The text of a JSON-LD value, or of each item of a list: strings, or things' names."""
    items = value if isinstance(value, list) else [value]
    return [name for item in items if (name := text_of(item))]


def _kept(written: Iterable[str], limit: int) -> list[str]:
    """Keywords as written (whitespace collapsed), once per normalised form, at most `limit`."""
    kept: list[str] = []
    seen: set[str] = set()
    for raw in written:
        keyword = " ".join(raw.split())
        key = normalise(keyword)
        if not key or key in seen or len(keyword) > MAX_KEYWORD_CHARS:
            continue
        seen.add(key)
        kept.append(keyword)
        if len(kept) == limit:
            break
    return kept


@functools.lru_cache(maxsize=len(set(YAKE_LANGUAGES.values())))
def _extractor(yake_language: str) -> Yake:
    # YAKE's own near-duplicate pruning depends on the order of tied candidates, which is not
    # the same in every process: it is off, and candidates are ranked here.
    return Yake(language=yake_language, ngrams=MAX_NGRAM, remove_duplicates=False)


def key_phrases(
    title: str | None, body: str, language: str | None, n: int = KEY_PHRASES
) -> tuple[KeywordEntry, ...]:
    """YAKE's `n` best key phrases of title + body in `language`, most relevant first.

    Empty for a language YAKE has no stop words for (`YAKE_LANGUAGES`), or without text.
    """
    yake_language = YAKE_LANGUAGES.get(language or "")
    text = _text(title, body)
    if yake_language is None or n <= 0 or not text:
        return ()
    candidates = _extractor(yake_language).get_n_best(text, n=CANDIDATES_PER_PHRASE * n)
    ranked = sorted((float(f"{score:.{SCORE_DIGITS}g}"), phrase) for phrase, score in candidates)
    phrases: list[KeywordEntry] = []
    seen: set[str] = set()
    for score, phrase in ranked:
        key = normalise(phrase)
        if not key or key in seen or _CLITIC.search(phrase):
            continue
        seen.add(key)
        phrases.append((phrase, "computed", score))
        if len(phrases) == n:
            break
    return tuple(phrases)


def _text(title: str | None, body: str) -> str:
    """Title (as a sentence of its own) and body, cut at a paragraph within MAX_TEXT_CHARS."""
    head = (title or "").strip()
    if head and head[-1] not in ".!?…":
        head += "."
    text = f"{head}\n\n{body.strip()}".strip()
    if len(text) > MAX_TEXT_CHARS:
        cut = text.rfind("\n\n", 0, MAX_TEXT_CHARS)
        text = text[: cut if cut > 0 else MAX_TEXT_CHARS]
    return text


def with_key_phrases(article: Article, n: int = KEY_PHRASES) -> Article:
    """`article` with its computed key phrases after its publisher's keywords (replacing any
    computed before, so calling it again changes nothing)."""
    own = tuple(e for e in article.keyword_entries if e[1] != "computed")
    computed = key_phrases(article.title, article.body, article.language, n)
    return dataclasses.replace(article, keyword_entries=own + computed)


def keyword_records(article_id: str, entries: Sequence[KeywordEntry]) -> list[Keyword]:
    """The `keywords` rows of one article."""
    return [
        Keyword(article_id, keyword, normalise(keyword), source, score)
        for keyword, source, score in entries
    ]
