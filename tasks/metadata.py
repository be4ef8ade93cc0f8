"""Metadata of an article page read from a parsed lxml tree: JSON-LD, meta tags, markup, URL.

Plain functions over an `lxml.html` tree; nothing here fetches or reads the clock. Dates come
back timezone-aware in UTC together with the source they were read from.
"""

from __future__ import annotations

import html
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from tasks.dates import country_zone, declared_zone, is_date_only, parse_date, text_date
from tasks.entities import NAME_PARTICLES

logger = logging.getLogger(__name__)

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "socialmediaposting",
        "liveblogposting",
        "techarticle",
        "scholarlyarticle",
        "report",
        "reviewnewsarticle",
        "review",
        "webpage",
    }
)
LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "profilepage"})
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|[-_]|$)"
)
_URL_DATE_COMPACT = re.compile(
    r"/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:/|[-_.]|$)"
)
_BY_PREFIX = re.compile(
    r"^\s*(?:(?:written|words|story|text|reported)\s+)?by[:\s]+|^\s*(?:von|par|por|di|door)\s+",
    re.I,
)
# Conjunctions are matched in lower case only: "Bruce Y. Lee" is one person.
_AUTHOR_SPLIT = re.compile(
    r"\s*(?:,|;|&|\||/|\s(?:and|And|AND|und|et|y|e|och|og|en)\s|(?<=[a-z]{2})\.\s(?=[A-Z]))\s*"
)
_WEEKDAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# Where a byline's names end: a date, a time, "updated", a separator, a weekday (even glued on).
_BYLINE_END = re.compile(
    rf"\s[|·•–—-]\s|\bupdated\b|\bpublished\b|\bposted\b|\bstand:?\s+(?=\d)|\d|{_WEEKDAYS}"
    rf"|\b{_MONTHS}\.?\s+\d",
    re.I,
)
_NOT_A_PERSON = re.compile(
    r"\b(staff|editors?|editorial|desk|team|news|press|agency|agencies|reuters|associated press"
    r"|afp|newsroom|correspondents?|media|online|admin|contributors?|writers?|reporters?"
    r"|sports?|international|guest|by|and|group|magazine|blog|daily|times|journal)\b",
    re.I,
)


_PAYWALL_MARKUP = etree.XPath('(//*[contains(@class, "paywall") or contains(@id, "paywall")])[1]')


@dataclass(frozen=True, slots=True)
class DatedValue:
    value: datetime
    source: str  # jsonld | meta | time_element | text | url | feed


def text_of(value: Any) -> str | None:
    """The text of a JSON-LD value: a string, the first of a list, or an object's name.

    HTML entities that some CMSs leave in JSON-LD strings are decoded.
    """
    for _ in range(20):  # bounded: JSON-LD from strangers may nest absurdly
        if isinstance(value, str):
            cleaned = " ".join(html.unescape(value).split())
            return cleaned or None
        if isinstance(value, list) and value:
            value = value[0]
        elif isinstance(value, dict):
            value = value.get("name") or value.get("@value")
        else:
            return None
    return None


def jsonld_objects(root: lxml_html.HtmlElement) -> list[dict[str, Any]]:
    """Every JSON object in the page's `application/ld+json` scripts, `@graph`s flattened."""
    found: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            # Trailing commas, raw newlines in strings, or absurd nesting: skip the block.
            logger.debug("Unparseable JSON-LD block of %s characters", len(raw))
            continue
        stack: list[Any] = [data]
        while stack:  # iterative: JSON-LD from strangers may nest deeply
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                found.append(item)
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(reversed(graph))
    return found


def types_of(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def main_jsonld(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The JSON-LD object describing the article itself, if any."""
    best: dict[str, Any] | None = None
    for obj in objects:
        kinds = types_of(obj)
        if kinds & (ARTICLE_TYPES - {"webpage"}):
            return obj
        if "webpage" in kinds and best is None and ("datePublished" in obj or "author" in obj):
            best = obj
    return best


def meta_map(root: lxml_html.HtmlElement) -> dict[str, str]:
    """`<meta>` contents keyed by lower-cased name/property/itemprop; the first one wins."""
    found: dict[str, str] = {}
    for meta in root.iter("meta"):
        key = (
            meta.get("property")
            or meta.get("name")
            or meta.get("itemprop")
            or meta.get("http-equiv")
        )
        content = meta.get("content")
        if key and content and content.strip():
            found.setdefault(key.strip().lower(), " ".join(content.split()))
    return found


EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # older "dates" are placeholders such as 0001-01-01


def _not_future(value: datetime | None, fetched_at: datetime) -> datetime | None:
    """The date if it is plausible: not after the fetch, not a placeholder."""
    if value is None or value > fetched_at or value < EARLIEST:
        return None
    return value


def _compact_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


# Meta names of the publication date, compacted ("article:published:time" and
# "article_published_time" are "articlepublishedtime"), most specific first.
_PUBLISHED_KEYS = (
    "articlepublishedtime",
    "ogarticlepublishedtime",
    "articlepublished",
    "ogpublishedtime",
    "publishedtime",
    "datepublished",
    "publisheddate",
    "publicationdate",
    "citationpublicationdate",
    "pubdate",
    "publishdate",
    "date",
    "dcdate",
    "dcdateissued",
    "dctermsissued",
    "dctermscreated",
    "sailthrudate",
    "parselypubdate",
)
_MODIFIED_KEYS = (
    "articlemodifiedtime",
    "ogupdatedtime",
    "articleupdatedtime",
    "modifiedtime",
    "datemodified",
    "lastmodified",
    "dctermsmodified",
)
_MODIFIED_MARK = re.compile(r"modif|updat|aktualisiert|actualis|geändert", re.I)
_DATE_HINT = re.compile(r"date|time|datum|fecha|data|meta|info|publi|stamp|dateline|byline", re.I)
_PUBLISHED_WORDS = re.compile(
    r"publi|veröffentlicht|erstellt|posted|gepostet|pubblicato|publicado|publié|opublikowano",
    re.I,
)
MAX_DATE_TEXT = 100  # characters of a block that shows a date as text
_SHORT_TEXT = f"[normalize-space(.)][string-length(normalize-space(.)) <= {MAX_DATE_TEXT}]"
# Short elements after the headline (following ones and the headline's own later siblings'
# descendants, in document order), or anywhere in the body.
_DATE_BLOCKS = etree.XPath(f"following::*{_SHORT_TEXT}")
_DATE_BLOCKS_ANYWHERE = etree.XPath(f"//body//*{_SHORT_TEXT}")


def _meta_dates(meta: dict[str, str], keys: tuple[str, ...]) -> list[str]:
    by_key: dict[str, str] = {}
    for key, value in meta.items():
        by_key.setdefault(_compact_key(key), value)
    return [by_key[k] for k in keys if k in by_key]


def _time_elements(root: lxml_html.HtmlElement) -> list[Any]:
    """`<time>` elements that may date the story: marked as published first, never ones
    marked as modified or updated."""
    marked: list[Any] = []
    others: list[Any] = []
    for el in root.iter("time"):
        marks = " ".join(filter(None, (el.get("itemprop"), el.get("class"), el.get("id"))))
        if _MODIFIED_MARK.search(marks):
            continue
        if el.get("pubdate") is not None or re.search(r"publi", marks, re.I):
            marked.append(el)
        else:
            others.append(el)
    return marked + others


def page_zone(
    root: lxml_html.HtmlElement, article_ld: dict[str, Any] | None, meta: dict[str, str]
) -> tzinfo | None:
    """The offset the page writes its own dates with, from the first date that has one."""
    values: list[str | None] = []
    if article_ld is not None:
        values += [text_of(article_ld.get(k)) for k in ("datePublished", "dateCreated")]
        values.append(text_of(article_ld.get("dateModified")))
    values += _meta_dates(meta, _PUBLISHED_KEYS + _MODIFIED_KEYS)
    values += [el.get("datetime") for el in root.iter("time")]
    for value in values:
        declared = declared_zone(value)
        if declared is not None:
            return declared
    return None


def locale_zone(root: lxml_html.HtmlElement, meta: dict[str, str]) -> tzinfo | None:
    """The zone of the country the page's locale names (`og:locale` "ko_KR", `<html lang>`
    "de-AT"), when that country keeps one local time (`tasks.dates.country_zone`).

    A guess: it places times of day that have no better zone, never bare days (a URL's
    "/2024/03/05/" stays that day).
    """
    html_el = root if root.tag == "html" else root.find(".//html")
    for locale in (meta.get("og:locale"), html_el.get("lang") if html_el is not None else None):
        local = country_zone(locale)
        if local is not None:
            return local
    return None


def text_published(
    root: lxml_html.HtmlElement, tz: tzinfo | None, fetched_at: datetime
) -> tuple[datetime, bool] | None:
    """A publication date shown only as text, near the headline.

    The first short block after the page's first `<h1>` (or anywhere, without one) that is
    marked as a date, time, meta or info element, or says "published", and holds a date.
    Returns the instant and whether a time of day was written.
    """
    h1 = next((h for h in root.iter("h1") if not _in_navigation(h)), None)
    blocks = _DATE_BLOCKS(h1) if h1 is not None else _DATE_BLOCKS_ANYWHERE(root)
    for el in blocks:
        if el.tag in ("script", "style", "a"):
            continue
        marks = " ".join(filter(None, (el.get("class"), el.get("id"), el.get("itemprop"))))
        text = " ".join(el.text_content().split())
        if _MODIFIED_MARK.search(text[:30]):
            continue
        if not (el.tag == "time" or _DATE_HINT.search(marks) or _PUBLISHED_WORDS.search(text)):
            continue
        if any(a.tag in ("nav", "footer", "aside", "figure", "a") for a in el.iterancestors()):
            continue
        found = text_date(text, tz)
        if found is not None and _not_future(found[0], fetched_at) is not None:
            return found
    return None


def published_date(
    root: lxml_html.HtmlElement,
    article_ld: dict[str, Any] | None,
    meta: dict[str, str],
    url: str,
    fetched_at: datetime,
    tz: tzinfo | None = None,
) -> DatedValue | None:
    """The publication date: JSON-LD, meta tags, `<time>`, a date shown as text, the URL, a
    `data-*` attribute (`attribute_date`).

    Values without an offset are local time: read in `tz` (the source's zone), else in the
    offset the page writes its other dates with (`page_zone`), else, for times of day, in the
    zone of the page's locale (`locale_zone`), else as UTC. A value that is
    only a day is given the time of day that the page shows as text for that day, if any.
    """
    declared = tz or page_zone(root, article_ld, meta)
    local = declared or locale_zone(root, meta)
    candidates: list[tuple[str | None, str]] = []
    if article_ld is not None:
        candidates.append((text_of(article_ld.get("datePublished")), "jsonld"))
        candidates.append((text_of(article_ld.get("dateCreated")), "jsonld"))
    candidates += [(v, "meta") for v in _meta_dates(meta, _PUBLISHED_KEYS)]
    candidates += [
        (el.get("datetime") or el.text, "time_element") for el in _time_elements(root)
    ]
    for raw, source in candidates:
        day_only = is_date_only(raw)
        value = _not_future(parse_date(raw, declared if day_only else local), fetched_at)
        if value is None:
            continue
        if day_only:
            shown = text_published(root, local, fetched_at)
            if shown is not None and shown[1] and _same_local_day(shown[0], value, declared):
                return DatedValue(shown[0], "text")
        return DatedValue(value, source)
    shown = text_published(root, local, fetched_at)
    if shown is not None and not shown[1] and local is not declared:
        shown = text_published(root, declared, fetched_at)  # a bare day is not placed by a guess
    if shown is not None:
        return DatedValue(shown[0], "text")
    return url_date(url, fetched_at, declared) or attribute_date(root, local, fetched_at)


# `data-*` attributes that hold a publication time: data-published-at, data-pub-date,
# data-deploy-dt, data-release-date; never a modification time (data-re-deploy-dt).
_DATA_PUBLISHED = re.compile(
    r"^data-(?:[a-z]+-)*(?:publish(?:ed)?|pub|deploy(?:ed)?|release(?:d)?)"
    r"(?:-(?:date|dt|time|datetime|at|on))?$"
)
_DATA_NOT_PUBLISHED = re.compile(r"(?:^data-|-)re-|mod|updat|edit|expir")
_DATA_ATTRIBUTES = etree.XPath("//body//@*[starts-with(name(), 'data-')]")


def attribute_date(
    root: lxml_html.HtmlElement, local: tzinfo | None, fetched_at: datetime
) -> DatedValue | None:
    """The publication time a page keeps only in a `data-*` attribute (pages that scripts
    render): the first such attribute whose value reads as a date with its time."""
    for attribute in _DATA_ATTRIBUTES(root):
        name = str(attribute.attrname).lower()
        if not _DATA_PUBLISHED.match(name) or _DATA_NOT_PUBLISHED.search(name):
            continue
        value = _not_future(parse_date(str(attribute), local), fetched_at)
        if value is None:
            shown = text_date(str(attribute), local)
            value = _not_future(shown[0], fetched_at) if shown and shown[1] else None
        if value is not None:
            return DatedValue(value, "attribute")
    return None


def _same_local_day(a: datetime, b: datetime, tz: tzinfo | None) -> bool:
    return a.astimezone(tz or UTC).date() == b.astimezone(tz or UTC).date()


def feed_date(
    value: datetime | None, fetched_at: datetime, tz: tzinfo | None = None
) -> DatedValue | None:
    """A date the feed gave for the URL, as UTC (naive read in `tz`, else UTC), if plausible."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=tz or UTC)
    checked = _not_future(aware.astimezone(UTC), fetched_at)
    return DatedValue(checked, "feed") if checked else None


def url_date(url: str, fetched_at: datetime, tz: tzinfo | None = None) -> DatedValue | None:
    """The day in the URL's path ("/2024/03/05/"), as its midnight in `tz` (else UTC)."""
    path = urlsplit(url).path
    match = _URL_DATE.search(path) or _URL_DATE_COMPACT.search(path)
    if not match:
        return None
    try:
        day = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=tz or UTC)
    except ValueError:
        return None
    value = _not_future(day.astimezone(UTC), fetched_at)
    return DatedValue(value, "url") if value else None


def modified_date(
    article_ld: dict[str, Any] | None,
    meta: dict[str, str],
    fetched_at: datetime,
    tz: tzinfo | None = None,
) -> DatedValue | None:
    """The last modification date from JSON-LD or meta tags; naive values read in `tz`."""
    if article_ld is not None:
        value = _not_future(parse_date(text_of(article_ld.get("dateModified")), tz), fetched_at)
        if value is not None:
            return DatedValue(value, "jsonld")
    for raw in _meta_dates(meta, _MODIFIED_KEYS):
        value = _not_future(parse_date(raw, tz), fetched_at)
        if value is not None:
            return DatedValue(value, "meta")
    return None


@dataclass(frozen=True, slots=True)
class Credits:
    """Who a page credits: people, and organisations (wire services, desks, the outlet)."""

    people: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    method: str | None = None  # jsonld | meta | markup | text


# Wire services and news agencies, compacted (letters and digits, lower case). A byline that
# is one of them, or holds one written in capitals ("AFP, Manila", "Von DPA"), credits the
# agency.
WIRE_AGENCIES = frozenset(
    {
        "reuters", "ap", "associatedpress", "afp", "agencefrancepresse", "dpa",
        "deutschepresseagentur", "bloomberg", "upi", "xinhua", "kyodo", "yonhap", "tass",
        "ria", "interfax", "ansa", "efe", "europapress", "pti", "ians", "ani", "aap", "apa",
        "sda", "kna", "epd", "afx", "ddp", "dts", "sid", "ntb", "tt", "ritzau", "stt", "ctk",
        "pap", "belga", "anp", "lusa", "mti", "hina", "bta", "ata", "anadolu", "canadianpress",
        "pamedia", "pressassociation", "bernama", "antara", "kyodonews", "jiji", "cna",
    }
)  # fmt: skip
# Desks and newsrooms: credited as an organisation, never as a person.
_DESK = re.compile(
    r"(?:^|[\W_])(?:redaktion|redaktionen|rédaction|redaction|redacción|redação|redazione"
    r"|redactie|redaksjon|staff|desk|newsroom|editorial|agencies|agencias|agenturen)(?:$|[\W_])",
    re.I,
)
_DOMAIN_NAME = re.compile(r"\w\.[a-z]{2,6}$", re.I)
_ORG_TYPES = frozenset({"corporation", "ngo", "newsagency"})
# "Elena Oberholzer (obe)", "Jan Roe (jr.)": initials or a desk code after the name.
_NAME_CODE = re.compile(r"\s*\(\s*[\w.]{1,6}\s*\)$")
# Job titles written before or after the name in Korean, Japanese and Chinese bylines.
_JOB_TITLES = r"(?:기자|특파원|선임기자|논설위원|記者|记者|特派員|特派员|編集委員)"
_NAME_JOB_TITLE = re.compile(rf"\s*{_JOB_TITLES}$|^{_JOB_TITLES}\s*")
# A name in a script without capitals (Hangul, Han, Kana) is written as one word.
_UNCASED_NAME = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3]{2,6}$")
_AUTHOR_KEYS = ("author", "article:author", "parsely-author", "sailthru.author", "byl")
_INVERTED_KEYS = ("dc.creator", "citation_author")  # "Last, First", one tag per person


def _is_org_type(item: dict[str, Any]) -> bool:
    return any(k.endswith("organization") or k in _ORG_TYPES for k in types_of(item))


def _ld_credits(value: Any) -> Iterator[tuple[str, bool]]:
    """(name, typed as an organisation) of each JSON-LD author, nested lists flattened."""
    stack = [value]
    for _ in range(200):  # bounded: JSON-LD from strangers may nest absurdly
        if not stack:
            return
        item = stack.pop(0)
        if isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, str):
            yield item, False
        elif isinstance(item, dict):
            name = text_of(item.get("name"))
            if not name:
                parts = (text_of(item.get("givenName")), text_of(item.get("familyName")))
                name = " ".join(p for p in parts if p) or None
            if name:
                yield name, _is_org_type(item)


def split_people(text: str) -> list[str]:
    """ "By Jane Doe and John Roe, Monday 18 Nov" -> ["Jane Doe", "John Roe"]."""
    text = _BY_PREFIX.sub("", " ".join(text.split()))
    text = _BYLINE_END.split(text, maxsplit=1)[0]
    parts = [_BY_PREFIX.sub("", p) for p in _AUTHOR_SPLIT.split(text) if p]
    return [p.strip(" .,:") for p in parts if p.strip(" .,:")]


def _compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _org_words(organisations: set[str]) -> tuple[set[str], set[str]]:
    compact = {_compact(o) for o in organisations} - {""}
    words = {
        w
        for o in organisations
        for w in re.findall(r"\w+", o.lower())
        if len(w) >= 4 and w not in {"the", "news", "daily", "times", "post", "blog", "online"}
    }
    return {c for c in compact if len(c) >= 3}, words


def _strip_org_suffix(name: str, compact_orgs: set[str]) -> str:
    """ "Kevin McCoy USA TODAY" -> "Kevin McCoy" when "usatoday" names the publisher."""
    words = name.split()
    for k in (3, 2, 1):
        if len(words) > k and _compact(" ".join(words[-k:])) in compact_orgs:
            return " ".join(words[:-k])
    return name


def is_agency(name: str) -> bool:
    """A wire service: "dpa", "The Associated Press", "AFP, MANILA", "Von SDA"."""
    compact = _compact(re.sub(r"^\s*the\s+", "", name, flags=re.I))
    if compact in WIRE_AGENCIES:
        return True
    tokens = re.split(r"[\s,;/()-]+", name)
    return any(t.lower() in WIRE_AGENCIES and (t.isupper() or t.islower()) for t in tokens)


def _is_organisation(name: str, compact_orgs: set[str]) -> bool:
    """A wire service, a desk, a domain, the outlet itself or a short acronym ("SDA")."""
    if is_agency(name) or _DESK.search(name) or _DOMAIN_NAME.search(name):
        return True
    if _is_outlet(name, compact_orgs):
        return True
    return " " not in name and name.isupper() and len(_compact(name)) <= 5


def _is_person(
    name: str, compact_orgs: set[str], org_words: set[str], single_word_ok: bool
) -> bool:
    if not name or "://" in name or "@" in name or len(name) > 60:
        return False
    compact = _compact(name)
    if not compact or any(o in compact or compact in o for o in compact_orgs):
        return False
    if _NOT_A_PERSON.search(name) or set(re.findall(r"\w+", name.lower())) & org_words:
        return False
    words = name.split()
    if len(words) > 5 or (len(words) == 1 and not single_word_ok and not _UNCASED_NAME.match(name)):
        return False
    if len(words) == 1 and words[0].isupper() and len(words[0]) <= 8:
        return False  # "PTI", "RDN": agencies and credentials
    # "reporter covering politics" is a sentence, not a name; scripts without capitals pass.
    return all(
        w[0].isupper() or not w[0].islower() or w.lower() in NAME_PARTICLES
        for w in words
        if w[0].isalpha()
    )


def _person_name(part: str, compact_orgs: set[str]) -> str:
    name = _NAME_JOB_TITLE.sub("", _NAME_CODE.sub("", " ".join(part.split()))).strip()
    return _strip_org_suffix(name, compact_orgs)


def sort_credits(
    names: list[str],
    organisations: set[str],
    *,
    single_word_ok: bool = False,
    typed_organisations: frozenset[str] = frozenset(),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Credited names split into people and organisations, first-seen order, junk dropped.

    `organisations` holds the site, the publisher and the URL's domain label: a name that is
    one of them is the outlet crediting itself (an organisation), and a person's name ending
    with one ("Kevin McCoy USA TODAY") is trimmed. Wire services, desks ("Redaktion", "Staff"),
    domains and short capital acronyms are organisations; so is every name in
    `typed_organisations` (JSON-LD said so). The outlet is kept only when no person is named.
    People lose initials or desk codes in brackets
    ("Name (obe)") and a job title written after the name ("기자", "記者"). URLs, e-mail
    addresses, sentences and single words (unless `single_word_ok`, or a name in a script
    without capitals) are dropped.
    """
    compact_orgs, org_words = _org_words({o for o in organisations if o})
    people: list[str] = []
    credited: list[str] = []
    for raw in names:
        if "://" in raw:
            continue  # an author page's URL, not a name
        typed = raw in typed_organisations
        for part in [" ".join(raw.split())] if typed else split_people(raw):
            if not part or "://" in part or "@" in part or len(part) > 60:
                continue
            if typed or _is_organisation(part, compact_orgs):
                if part not in credited:
                    credited.append(part)
                continue
            name = _person_name(part, compact_orgs)
            if _is_person(name, compact_orgs, org_words, single_word_ok) and name not in people:
                people.append(name)
    if people:  # the outlet crediting itself beside named people adds nothing
        credited = [c for c in credited if not _is_outlet(c, compact_orgs)]
    return tuple(people), tuple(credited)


def _is_outlet(name: str, compact_orgs: set[str]) -> bool:
    compact = _compact(name)
    return len(compact) >= 3 and any(o in compact or compact in o for o in compact_orgs)


def clean_people(
    names: list[str], organisations: set[str], *, single_word_ok: bool = False
) -> tuple[str, ...]:
    """The people among credited names (`sort_credits`), organisations left out."""
    return sort_credits(names, organisations, single_word_ok=single_word_ok)[0]


def _inverted(name: str) -> str:
    """ "Lenharo, Mariana" -> "Mariana Lenharo" (one person per tag, family name first)."""
    family, comma, given = name.partition(",")
    if comma and given.strip() and "," not in given and len(family.split()) <= 3:
        return f"{given.strip()} {family.strip()}"
    return name


def meta_values(root: lxml_html.HtmlElement, keys: tuple[str, ...]) -> list[str]:
    """Every `<meta name|property>` content under one of `keys` (lower case), in page order.

    `itemprop` metas are left out: they describe the microdata item around them (an image's
    `author` is its photographer).
    """
    found: list[str] = []
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").lower()
        content = " ".join((meta.get("content") or "").split())
        if key.strip() in keys and content:
            found.append(content)
    return found


_CREDIT_MARKUP = etree.XPath(
    '//*[@rel="author" or @itemprop="author"'
    ' or contains(translate(@class, "AUTHORBYLINE", "authorbyline"), "author")'
    ' or contains(translate(@class, "AUTHORBYLINE", "authorbyline"), "byline")]'
)
# Markup that names people who did not write the story: photographers, other stories' authors.
_NOT_A_BYLINE = re.compile(
    r"bio|avatar|image|photo|picture|copyright|credit|caption|search|teaser|related|comment",
    re.I,
)
_OUTSIDE_STORY = frozenset({"nav", "footer", "aside", "figure", "figcaption", "form", "button"})
MAX_BYLINE_CHARS = 200  # longer "author" blocks are biographies, not bylines


_BLOCK_TAGS = frozenset({"li", "p", "div", "br", "dd", "dt", "ul", "ol", "tr", "td"})


def separated_text(el: Any, sep: str = ", ") -> str:
    """An element's text with `sep` between its block children: one name per list item."""
    parts: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end")):
        if event == "start":
            if node.tag in _BLOCK_TAGS and node is not el:
                parts.append(sep)
            if isinstance(node.tag, str):
                parts.append(node.text or "")
        elif node is not el:
            parts.append(node.tail or "")
    return " ".join("".join(parts).split()).strip(" ,")


def _byline_block(el: Any) -> bool:
    if _NOT_A_BYLINE.search(el.get("class") or ""):
        return False
    if any(a.tag in _OUTSIDE_STORY for a in el.iterancestors()):
        return False
    return len(" ".join(el.text_content().split())) <= MAX_BYLINE_CHARS


def _markup_credits(
    root: lxml_html.HtmlElement, orgs: set[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """People (and organisations) of the first byline markup that names a person.

    A byline that is one item of a list of authors brings its siblings of the same kind.
    Without a person anywhere, the organisations of the first byline that names one.
    """
    first_orgs: tuple[str, ...] = ()
    for el in _CREDIT_MARKUP(root):
        if not _byline_block(el):
            continue
        people, credited = sort_credits([separated_text(el)], orgs)
        if not people:
            first_orgs = first_orgs or credited
            continue
        parent = el.getparent()
        if parent is not None:
            items = [
                s
                for s in parent
                if s.tag == el.tag and s.get("class") == el.get("class") and s is not el
            ]
            if items:
                more, more_orgs = sort_credits([separated_text(s) for s in items], orgs)
                people = tuple(dict.fromkeys(people + more))
                credited = tuple(dict.fromkeys(credited + more_orgs))
        return people, credited
    return (), first_orgs


# Bylines written as text: "Von Jane Roe", "Par Jean Dupont", "구현모 기자", "(责编：牛镛、岳弘彬)".
_TEXT_BYLINE = re.compile(
    r"^\s*(?:by|von|par|por|di|door|av|af|fra|autor(?:in)?\s*:|text\s*:)\s+(?=\S)", re.I
)
_HANGUL_BYLINE = re.compile(
    r"(?:^|[\s(\[/=])([가-힣]{2,4})\s*(?:선임)?(?:기자|특파원)(?:$|[\s)\],.])"
)
_HAN_BYLINE = re.compile(
    r"(?:记者|記者|责编|責編|责任编辑|責任編輯|作者|编辑|編輯|撰文|文)\s*[:：]\s*"
    r"([\u4e00-\u9fff]{2,4}(?:\s*[、，,]\s*[\u4e00-\u9fff]{2,4})*)"
)
_TEXT_BLOCKS = ("p", "div", "span", "strong", "b", "em", "address", "li", "a", "small", "time")
MAX_TEXT_BYLINE_CHARS = 80


def _short_blocks(limit: int, tags: tuple[str, ...]) -> Any:
    """An XPath for body elements of `tags` whose text is 1..`limit` characters (in C)."""
    kinds = " or ".join(f"self::{tag}" for tag in tags)
    return etree.XPath(
        f"//body//*[{kinds}][normalize-space(.)][string-length(normalize-space(.)) <= {limit}]"
    )


_BYLINE_BLOCKS = _short_blocks(MAX_TEXT_BYLINE_CHARS, _TEXT_BLOCKS)


def text_byline(root: lxml_html.HtmlElement, orgs: set[str]) -> tuple[str, ...]:
    """People named by the first short block of the page that reads as a byline."""
    for el in _BYLINE_BLOCKS(root):
        text = " ".join(el.text_content().split())
        names: list[str] = []
        if _TEXT_BYLINE.match(text):
            names = [text]
        elif match := _HANGUL_BYLINE.search(text):
            names = [match[1]]
        elif match := _HAN_BYLINE.search(text):
            names = re.split(r"\s*[、，,]\s*", match[1])
        if names and not any(a.tag in _OUTSIDE_STORY for a in el.iterancestors()):
            people = sort_credits(names, orgs)[0]
            if people:
                return people
    return ()


MAX_SIGNATURE_CHARS = 40
_SIGNATURE_WORDS = re.compile(r"^[^\W\d_]+(?:[ '’.-][^\W\d_]+){1,3}\.?$")


_SIGNATURE_MARK = re.compile(r"author|byline|sign", re.I)


def _marked_signature(el: Any) -> bool:
    """Set apart as a signature: aligned right, or in a block named for the author."""
    for node in (el, *el.iterancestors())[:3]:
        if _SIGNATURE_MARK.search(node.get("class") or ""):
            return True
        if "right" in (node.get("style") or "").replace(" ", "").lower():
            return True
    return False


def signature(root: lxml_html.HtmlElement, paragraphs: list[str], orgs: set[str]) -> str | None:
    """The name a story is signed with on its own last line ("... stage. / Lê Phương").

    The last paragraph counts when it is two to four words of letters (at most
    MAX_SIGNATURE_CHARS characters) that read as a person's name (`sort_credits`), and the
    page sets it apart: aligned right, or in a block whose class names an author, byline or
    signature. Capitalised closing words ("Weiterführende Links") pass the name test, so bold
    alone does not count.
    """
    if len(paragraphs) < 2:
        return None
    last = " ".join(paragraphs[-1].split())
    if len(last) > MAX_SIGNATURE_CHARS or not _SIGNATURE_WORDS.match(last):
        return None
    people = sort_credits([last.rstrip(".")], orgs)[0]
    if len(people) != 1:
        return None
    shown = root.xpath("//body//*[normalize-space(.) = $text]", text=last)
    return people[0] if any(_marked_signature(el) for el in shown) else None


def credits(
    root: lxml_html.HtmlElement,
    article_ld: dict[str, Any] | None,
    meta: dict[str, str],
    orgs: set[str],
) -> Credits:
    """People and organisations credited as authors, with the method that found the people.

    In order: the JSON-LD `author` (people and organisations, nested lists and
    givenName/familyName included); author `<meta>` tags (every `dc.creator`, read as
    "Last, First"); byline markup; a byline in the page text. A JSON-LD author that is only the
    outlet (or another organisation that is not a wire service or desk) does not stop the
    search for people: when people are found elsewhere, they replace it.
    """
    fallback = Credits()
    if article_ld is not None and article_ld.get("author"):
        found = list(_ld_credits(article_ld.get("author")))
        typed = frozenset(name for name, is_org in found if is_org)
        people, credited = sort_credits(
            [name for name, _ in found], orgs, single_word_ok=True, typed_organisations=typed
        )
        if people or any(is_agency(c) or _DESK.search(c) for c in credited):
            return Credits(people, credited, "jsonld")
        fallback = Credits((), credited, "jsonld" if credited else None)
    names = [v for key in _AUTHOR_KEYS for v in meta_values(root, (key,))]
    names += [_inverted(v) for v in meta_values(root, _INVERTED_KEYS)]
    if names:
        people, credited = sort_credits(names, orgs)
        if people:
            return Credits(people, credited, "meta")
        credited = tuple(c for c in credited if is_agency(c) or _DESK.search(c))
        if credited and not fallback.organisations:
            fallback = Credits((), credited, "meta")
    people, credited = _markup_credits(root, orgs)
    if people:
        return Credits(people, credited, "markup")
    if credited and not fallback.organisations:
        fallback = Credits((), credited, "markup")
    people = text_byline(root, orgs)
    if people:
        return Credits(people, (), "text")
    return fallback


def first_text(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return " ".join(value.split())
    return None


def domain_label(url: str) -> str | None:
    """A host's distinctive label: "www.usatoday.com" -> "usatoday", "news.bbc.co.uk" -> "bbc"."""
    labels = [label for label in (urlsplit(url).hostname or "").split(".") if label]
    while len(labels) > 1 and len(labels[-1]) <= 3:
        labels.pop()  # "com", "co", "uk", "org"
    return labels[-1] if labels else None


def absolute(url: str | None, base: str) -> str | None:
    if not url or not url.strip():
        return None
    joined = urljoin(base, url.strip())
    return joined if urlsplit(joined).scheme in ("http", "https") else None


def declared_canonical(root: lxml_html.HtmlElement, meta: dict[str, str]) -> str | None:
    """The canonical URL the page declares (`rel=canonical`, else `og:url`), as written.

    Whether it is usable, and what it is relative to, is `tasks.urls.canonical_url`'s call.
    """
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            href = (link.get("href") or "").strip()
            if href:
                return href
    return (meta.get("og:url") or "").strip() or None


def image_url(article_ld: dict[str, Any] | None, meta: dict[str, str], base: str) -> str | None:
    candidate = meta.get("og:image") or meta.get("twitter:image")
    if candidate is None and article_ld is not None:
        image = article_ld.get("image")
        if isinstance(image, list) and image:
            image = image[0]
        candidate = (
            image.get("url")
            if isinstance(image, dict)
            else image
            if isinstance(image, str)
            else None
        )
    return absolute(candidate, base)


def site_name(
    objects: list[dict[str, Any]], article_ld: dict[str, Any] | None, meta: dict[str, str]
) -> str | None:
    publisher = article_ld.get("publisher") if article_ld else None
    return first_text(
        meta.get("og:site_name"),
        text_of(publisher) if publisher else None,
        meta.get("application-name"),
        next(
            (text_of(o.get("name")) for o in objects if types_of(o) & {"newsmediaorganization"}),
            None,
        ),
    )


def section(article_ld: dict[str, Any] | None, meta: dict[str, str]) -> str | None:
    return first_text(
        text_of(article_ld.get("articleSection")) if article_ld else None,
        meta.get("article:section"),
        meta.get("section"),
        meta.get("parsely-section"),
    )


def is_paywalled(
    root: lxml_html.HtmlElement, article_ld: dict[str, Any] | None, meta: dict[str, str]
) -> bool:
    if article_ld is not None:
        free = article_ld.get("isAccessibleForFree")
        if free is False or (isinstance(free, str) and free.strip().lower() == "false"):
            return True
    tier = (meta.get("article:content_tier") or "").lower()
    if tier in {"locked", "metered"}:
        return True
    return bool(_PAYWALL_MARKUP(root))


# ------------------------------------------------------------------ title


def loose(text: str) -> str:
    """Letters and digits only, NFKC and case-folded: "Kultur : Was?" ~ "kulturwas"."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


# Where a site name or section may be appended to a title: " | ", " - ", " – ", "：", "ㅣ".
_TITLE_SEPARATOR = re.compile(
    r"\s+[|–—·:/-]\s+|\s*[|｜ㅣ：]\s*|\s+-(?=\S)|(?<=\S)-\s+|(?<=\S)-(?=\S+$)"
)
_NOT_HEADLINE = ("nav", "li", "footer", "aside")
# Classes of breadcrumb trails: "breadcrumb", "crumbs", "article__header__crumb".
_CRUMB = "crumb"
_MIN_HEADING = 8  # letters: shorter headings ("Live", "News") match too much
_SECTION_LABEL = 12  # characters of a one-word section label left after a site suffix


def _clean(text: str) -> str:
    return " ".join(text.split())


def _in_navigation(el: Any) -> bool:
    """A heading inside navigation or a breadcrumb trail (an SEO copy, not the headline).

    A trail is a `<nav>` or list, or an element whose class names a crumb ("breadcrumb",
    "header__crumb": a section link and the SEO headline placed before the shown one).
    """
    for node in (el, *el.iterancestors()):
        if node.tag in _NOT_HEADLINE or _CRUMB in (node.get("class") or "").lower():
            return True
    return False


def headings(root: lxml_html.HtmlElement) -> list[Any]:
    """The page's `<h1>`s, then its `<h2>`s, outside navigation and breadcrumbs."""
    found = [h for h in root.iter("h1") if not _in_navigation(h)]
    found += [h for h in root.iter("h2") if not _in_navigation(h)]
    return [h for h in found if len(loose(h.text_content())) >= _MIN_HEADING]


def _main_part(heading: Any) -> str | None:
    """The headline without its kicker, when the heading holds both as child elements.

    `<h2><span>Kicker</span><span>Headline</span></h2>` -> "Headline". Children holding only
    punctuation (a hidden ": " or " – ") do not count.
    """
    parts = [c for c in heading if isinstance(c.tag, str) and loose(c.text_content())]
    if len(parts) < 2:
        return None
    return _clean(parts[-1].text_content())


def _cut_suffix(title: str, wanted: str) -> str | None:
    """`title` cut at a separator so that what is left is `wanted` (loosely); None if no cut."""
    for match in reversed(list(_TITLE_SEPARATOR.finditer(title))):
        head = title[: match.start()].strip()
        if loose(head) == wanted:
            return head
    return None


def strip_site_suffix(title: str, names: set[str]) -> str:
    """ "Headline | Outlet" -> "Headline" when the tail names the outlet.

    `names` are the site, publisher, host and section names; a tail is cut only after a
    separator and only when it names one of them, so a headline is never cut on a guess. Once
    the outlet is cut, one more one-word tail is taken for a section ("Headline - Politics |
    Outlet").
    """
    wanted = {loose(n) for n in names if len(loose(n)) >= 2}
    cut = False
    for _ in range(4):  # "Headline - Section | Outlet | Host"
        for match in reversed(list(_TITLE_SEPARATOR.finditer(title))):
            tail = title[match.end() :].strip()
            head = title[: match.start()].strip()
            if len(loose(head)) < _MIN_HEADING:
                continue
            named = any(loose(tail) == w or (len(w) >= 4 and w in loose(tail)) for w in wanted)
            if named or (cut and len(tail) <= _SECTION_LABEL and " " not in tail):
                title, cut = head, True
                break
        else:
            return title
    return title


def match_heading(heading: Any, candidates: list[str]) -> str | None:
    """The candidate title that this visible heading shows, in the candidate's own spelling.

    In order: a candidate equal to the headline without its kicker; one equal to the whole
    heading (punctuation and spacing aside); one that is the heading plus a site suffix (cut
    off); one that is a kicker outside the heading plus ": " plus the heading.
    """
    text = _clean(heading.text_content())
    whole = loose(text)
    main = _main_part(heading)
    if main is not None and len(loose(main)) >= _MIN_HEADING:
        for candidate in candidates:
            if loose(candidate) == loose(main):
                return candidate
    for candidate in candidates:
        if loose(candidate) == whole:
            return candidate
    for candidate in candidates:
        if loose(candidate).startswith(whole):
            cut = _cut_suffix(candidate, whole)
            if cut is not None:
                return cut
    for candidate in candidates:
        prefix, colon, rest = candidate.partition(": ")
        if colon and loose(rest) == whole and len(loose(prefix)) <= 40:
            return candidate
    return None


def site_names(url: str, article_ld: dict[str, Any] | None, meta: dict[str, str]) -> set[str]:
    """Names a title suffix may give besides the outlet's: its host and the page's section."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    return {n for n in (host, section(article_ld, meta)) if n}


def choose_title(
    root: lxml_html.HtmlElement,
    article_ld: dict[str, Any] | None,
    meta: dict[str, str],
    names: set[str],
) -> tuple[str | None, str | None]:
    """The headline and the method that found it: jsonld | meta | h1 | title_tag.

    Publishers give up to three titles (JSON-LD `headline`, `og:title`, `twitter:title`) that
    often differ: a social or SEO variant, a site suffix, a kicker. The one the page shows as
    its heading wins (`match_heading`; headings in navigation and breadcrumbs are SEO copies
    and do not count). When no heading shows any of them, the JSON-LD headline, then
    `og:title`, then `twitter:title`, each without a suffix naming the site; then the first
    heading; then `<title>` without its suffix.
    """
    ld_title = text_of(article_ld.get("headline")) if article_ld is not None else None
    og_title = html.unescape(meta["og:title"]) if meta.get("og:title") else None
    tw_title = html.unescape(meta["twitter:title"]) if meta.get("twitter:title") else None
    # Of two titles that a heading shows alike, `og:title` more often has the page's own
    # punctuation. `twitter:title` is a social variant: a fallback, never matched to headings.
    candidates = [t for t in (og_title, ld_title) if t]
    found = headings(root)
    for heading in found:
        chosen = match_heading(heading, candidates)
        if chosen is not None:
            return chosen, "jsonld" if ld_title and ld_title.startswith(chosen) else "meta"
    sources = [(ld_title, "jsonld"), (og_title, "meta"), (tw_title, "meta")]
    for text, method in sources:
        if text:
            return strip_site_suffix(text, names), method
    first_h1 = next((h for h in found if h.tag == "h1"), None)
    if first_h1 is not None:
        return _clean(first_h1.text_content()), "h1"
    title = root.find(".//title")
    if title is not None and title.text_content().strip():
        text = _clean(title.text_content())
        stripped = strip_site_suffix(text, names)
        if stripped == text:
            stripped = _TITLE_TAG_SUFFIX.sub("", text)
        return stripped, "title_tag"
    return None, None


_TITLE_TAG_SUFFIX = re.compile(r"\s+[|–—:-]\s+[^|–—:-]{2,40}$")
