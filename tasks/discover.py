"""Discovery: the article URLs a source names today, whatever its kind.

- `feed`, `sitemap`: the document at the source's location, fetched through the `Fetcher`
  (so it is polite, bounded and guarded like every other request) with the stored
  ETag/Last-Modified as a conditional GET, and parsed with `parse_document`; sitemap
  indexes are followed (at most `MAX_SITEMAPS` sitemaps).
- `urls`: the listed URLs, without a request.
- `section`: an HTML section page and its next pages (at most the source's `max_pages`),
  read by `tasks.sections` (fetch_log purpose `section`).
- `site`: autodiscovery from a home page (purpose `site`): the feeds it declares with
  `<link rel="alternate">` and the sitemaps robots.txt lists (`Sitemap:` lines, read from
  the robots.txt the fetcher reads anyway); only when it declares none, the
  `COMMON_LOCATIONS` in turn until one lists articles. When none of those lists an article,
  the home page's own links are read as a section page. What the home page led to is in
  `Discovery.found` (and the log).

Google News sitemaps are sitemaps whose `<url>` entries carry `<news:news>`: their title,
publication date, language, keywords and publication name travel with each `Discovered`
record (`found_by="news_sitemap"`); so do a feed item's categories (RSS `<category>`, Atom
`<category label|term>`, RSS 1.0 `dc:subject`). A URL named by several documents of a source is
discovered once; what a news sitemap says of it wins over what a feed or plain sitemap said.

Feeds and sitemaps come from strangers, so the parser is defensive:
- a document whose prolog declares entities (`<!ENTITY`: billion laughs, external entities)
  is refused as `unsafe_xml` before any XML parser sees it;
- lxml then parses with entity resolution, DTD loading and network access all off, and
  libxml2's default depth and size limits on;
- gzipped sitemaps are inflated with a bound on the inflated size;
- no parser is ever given a URL or a file name: only bytes that were fetched.
RSS 2.0, RSS 1.0 (RDF), Atom, sitemaps and sitemap indexes are recognised by their root
element, whatever the source's declared kind says.

A document never yields nothing in silence: one fetched `ok` that is not a feed or sitemap
(an HTML page, an empty body) is a `parse_error`, and one that lists no article URL (no
items, or none whose link can be fetched, or a sitemap index none of whose sitemaps lists
one) is a `no_items` rejection of the document's URL, with what was seen in the detail; so
is a section page without an article link, and a site where nothing lists one.
A 304 answer is not a failure: nothing new is normal.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

from lxml import etree

from tasks.charset import detect_encoding
from tasks.dates import parse_date
from tasks.fetch import Fetcher, FetchOutcome
from tasks.reasons import NO_ITEMS, NOT_MODIFIED, OK, STAGE_DISCOVER, ReasonCode
from tasks.records import Discovered, FetchLogEntry, FoundBy, Rejected, Source
from tasks.sections import MAX_PAGE_BYTES, SectionPage, read_page
from tasks.urls import resolve_url

logger = logging.getLogger(__name__)

DocumentKind = Literal["feed", "urlset", "sitemapindex"]
Validators = tuple[str | None, str | None]

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the sitemap protocol's limit, uncompressed
MAX_SITEMAPS = 50  # child sitemaps fetched from one source's index(es)
MAX_KEYWORDS = 50  # news:keywords (and feed categories) kept per entry
# Where a site's sitemaps and feeds usually are, tried (in this order) only when its home page
# and robots.txt declare none. Answers there that fail are not failures of the source.
COMMON_LOCATIONS = (
    ("/news-sitemap.xml", "sitemap"),
    ("/sitemap_index.xml", "sitemap"),
    ("/sitemap.xml", "sitemap"),
    ("/feed", "feed"),
    ("/rss.xml", "feed"),
)

_ROOT_START = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"
NOT_A_FEED_BUT_HTML = "an HTML page, not a feed or sitemap"


class DocumentError(ValueError):
    """A feed or sitemap that cannot be used, with a reason code (`tasks.reasons`)."""

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(detail)
        self.reason: ReasonCode = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a feed or one <url>/<sitemap> of a sitemap, as written (link not checked)."""

    link: str
    title: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    authors: tuple[str, ...] = ()
    news: bool = False  # a Google News sitemap entry (<news:news>): the fields below are its
    language: str | None = None  # news:publication/news:language
    keywords: tuple[str, ...] = ()  # news:keywords, split at commas
    publication: str | None = None  # news:publication/news:name
    categories: tuple[str, ...] = ()  # a feed item's <category>s


@dataclass(frozen=True, slots=True)
class Document:
    kind: DocumentKind
    entries: tuple[Entry, ...]
    error: str = ""  # the first error the (recovering) XML parser met, if any


@dataclass(frozen=True, slots=True)
class Discovery:
    """What discovery found for one source, and the log of the fetches it took."""

    discovered: tuple[Discovered, ...] = ()
    log: tuple[FetchLogEntry, ...] = ()  # feed/sitemap (and robots.txt) fetches, with validators
    rejected: tuple[Rejected, ...] = ()
    # Links refused before any request (file:, gopher:, malformed): also in `rejected`, and
    # here as `fetch_log` rows (attempts 0) so that every URL a source names is in fetch_log.
    unfetched: tuple[FetchLogEntry, ...] = ()
    found: tuple[str, ...] = ()  # what a site's home page led to: "feed <url> (how found)"
    optional: frozenset[str] = frozenset()  # URLs tried on the off chance: failing is normal


# ------------------------------------------------------------------ URLs


def resolve_link(raw: str, base: str) -> str:
    """A link found in a document, made absolute in one spelling (`tasks.urls.resolve_url`).

    Raises `DocumentError`: `blocked_address` for a scheme other than http(s) (file:,
    gopher:, javascript: ...), `parse_error` for a malformed URL.
    """
    try:
        scheme = urlsplit(urljoin(base, raw.strip())).scheme.lower()
    except ValueError as exc:  # e.g. an unclosed "[" in the host
        raise DocumentError("parse_error", f"invalid URL: {exc}") from exc
    if scheme not in ("http", "https"):
        raise DocumentError("blocked_address", f"scheme {scheme or '(none)'!r} not allowed")
    try:
        return resolve_url(raw, base)
    except ValueError as exc:
        raise DocumentError("parse_error", f"invalid URL: {exc}") from exc


# ------------------------------------------------------------------ parsing


def _inflate(data: bytes, cap: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise DocumentError("parse_error", f"corrupt gzip: {exc}") from exc
    if len(out) > cap:
        raise DocumentError("too_large", f"inflates past {cap} bytes")
    return out


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments, processing instructions, entity references
    return tag.rsplit("}", 1)[-1].lower()


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in element:
        if _local(child.tag) == name:
            yield child


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = " ".join("".join(element.itertext()).split())
    return text or None


def _first_text(element: etree._Element, *names: str) -> str | None:
    for name in names:
        for child in _children(element, name):
            text = _text(child)
            if text:
                return text
    return None


def _authors(element: etree._Element) -> tuple[str, ...]:
    names: list[str] = []
    for child in element:
        local = _local(child.tag)
        if local == "author":
            name = _first_text(child, "name") if len(child) else _text(child)
            if name:
                names.append(name)
        elif local == "creator":
            text = _text(child)
            if text:
                names.append(text)
    return tuple(dict.fromkeys(names))


def _categories(element: etree._Element) -> tuple[str, ...]:
    """A feed item's categories: RSS `<category>` text, Atom `label` (else `term`), and
    `dc:subject`; each once, in document order."""
    names: list[str] = []
    for child in element:
        local = _local(child.tag)
        if local == "category":
            name = child.get("label") or child.get("term") or _text(child)
        elif local == "subject":
            name = _text(child)
        else:
            continue
        name = " ".join((name or "").split())
        if name:
            names.append(name)
    return tuple(dict.fromkeys(names))[:MAX_KEYWORDS]


def _rss_entry(item: etree._Element) -> Entry | None:
    link = None
    for child in _children(item, "link"):
        link = child.get("href") or _text(child)
        if link:
            break
    if not link:
        for guid in _children(item, "guid"):
            text = _text(guid)
            if text and guid.get("isPermaLink", "true").lower() != "false":
                link = text
                break
    if not link:
        about = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
        link = about or None
    if not link:
        return None
    return Entry(
        link=link,
        title=_first_text(item, "title"),
        published_at=parse_date(_first_text(item, "pubdate", "date", "published", "issued")),
        modified_at=parse_date(_first_text(item, "updated", "modified")),
        authors=_authors(item),
        categories=_categories(item),
    )


def _atom_entry(entry: etree._Element) -> Entry | None:
    link = None
    for child in _children(entry, "link"):
        if child.get("rel", "alternate").lower() == "alternate" and child.get("href"):
            link = child.get("href")
            break
    if not link:
        return None
    return Entry(
        link=link,
        title=_first_text(entry, "title"),
        published_at=parse_date(_first_text(entry, "published", "issued")),
        modified_at=parse_date(_first_text(entry, "updated", "modified")),
        authors=_authors(entry),
        categories=_categories(entry),
    )


def _keywords(text: str | None) -> tuple[str, ...]:
    words = (" ".join(k.split()) for k in (text or "").split(","))
    return tuple(dict.fromkeys(k for k in words if k))[:MAX_KEYWORDS]


def _sitemap_entry(element: etree._Element) -> Entry | None:
    link = _first_text(element, "loc")
    if not link:
        return None
    modified_at = parse_date(_first_text(element, "lastmod"))
    news = next(_children(element, "news"), None)
    if news is None:
        return Entry(link=link, modified_at=modified_at)
    publication = next(_children(news, "publication"), None)
    language = _first_text(publication, "language") if publication is not None else None
    return Entry(
        link=link,
        title=_first_text(news, "title"),
        published_at=parse_date(_first_text(news, "publication_date")),
        modified_at=modified_at,
        news=True,
        language=language.lower() if language else None,
        keywords=_keywords(_first_text(news, "keywords")),
        publication=_first_text(publication, "name") if publication is not None else None,
    )


def parse_document(data: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Document:
    """Parse a feed or sitemap (gzipped or not) into its entries, in document order.

    Raises `DocumentError` with reason `unsafe_xml` (entity declarations), `too_large`
    (over `max_bytes`, inflated) or `parse_error` (not XML, or not a feed or sitemap).
    Never raises anything else for any input bytes.
    """
    if data.startswith(_GZIP_MAGIC):
        data = _inflate(data, max_bytes)
    if len(data) > max_bytes:
        raise DocumentError("too_large", f"{len(data)} bytes over the cap {max_bytes}")
    if not data.strip():
        raise DocumentError("parse_error", "empty document")
    if _HTML_START.match(data):
        raise DocumentError("parse_error", NOT_A_FEED_BUT_HTML)
    root_start = _ROOT_START.search(data)
    prolog = data[: root_start.start()] if root_start else data
    if _ENTITY_DECL.search(prolog):
        raise DocumentError("unsafe_xml", "the document declares entities")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise DocumentError("parse_error", f"not XML: {exc}") from exc
    if root is None:
        raise DocumentError("parse_error", "not XML: no element found")
    kind = _local(root.tag)
    entries: list[Entry | None]
    if kind == "rss":
        entries = [_rss_entry(i) for c in _children(root, "channel") for i in _children(c, "item")]
        document_kind: DocumentKind = "feed"
    elif kind == "rdf":
        items = [*_children(root, "item")]
        items += [i for c in _children(root, "channel") for i in _children(c, "item")]
        entries = [_rss_entry(i) for i in items]
        document_kind = "feed"
    elif kind == "feed":
        entries = [_atom_entry(e) for e in _children(root, "entry")]
        document_kind = "feed"
    elif kind == "urlset":
        entries = [_sitemap_entry(u) for u in _children(root, "url")]
        document_kind = "urlset"
    elif kind == "sitemapindex":
        entries = [_sitemap_entry(s) for s in _children(root, "sitemap")]
        document_kind = "sitemapindex"
    elif kind == "html":
        raise DocumentError("parse_error", NOT_A_FEED_BUT_HTML)
    else:
        raise DocumentError("parse_error", f"not a feed or sitemap: root element <{kind}>")
    errors = [e.message for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    return Document(
        kind=document_kind,
        entries=tuple(e for e in entries if e is not None),
        error=errors[0] if errors else "",
    )


# ------------------------------------------------------------------ discovery


@dataclass
class _Collector:
    source: Source
    now: Callable[[], datetime]
    discovered: list[Discovered] = field(default_factory=list)
    log: list[FetchLogEntry] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    unfetched: list[FetchLogEntry] = field(default_factory=list)
    found: list[str] = field(default_factory=list)
    optional: set[str] = field(default_factory=set)
    seen: dict[str, int] = field(default_factory=dict)  # URL -> its index in `discovered`

    def reject(self, url: str, reason: ReasonCode, detail: str) -> None:
        logger.info("Skipped %s: %s (%s)", url, reason, detail)
        self.rejected.append(
            Rejected(
                source_id=self.source.id,
                url=url,
                stage=STAGE_DISCOVER,
                reason=reason,
                detail=detail,
            )
        )

    def refuse(self, link: str, purpose: str, error: DocumentError) -> None:
        """A link that will not be fetched: a `rejected` row and a `fetch_log` row."""
        self.reject(link, error.reason, error.detail)
        self.unfetched.append(
            FetchLogEntry(
                source_id=self.source.id,
                url=link,
                final_url=None,
                status=None,
                reason=error.reason,
                attempts=0,
                bytes=0,
                elapsed_ms=0,
                fetched_at=self.now(),
                purpose=purpose,
            )
        )

    def add(
        self, raw: str, found_in: str, found_by: FoundBy, entry: Entry | None = None
    ) -> bool:
        """Discover a link (once); False when it cannot be fetched (then it is refused).

        A URL listed again keeps its first record, except that what a news sitemap says
        of it (title, date, keywords ...) replaces what a feed or plain sitemap said, which
        fills what the news sitemap leaves out (authors, categories), whichever came first.
        """
        base = found_in if found_in.startswith(("http://", "https://")) else ""
        try:
            url = resolve_link(raw, base)
        except DocumentError as exc:
            self.refuse(raw, "article", exc)
            return False
        item = _discovered(url, self.source.id, found_in, found_by, entry)
        index = self.seen.get(url)
        if index is None:
            self.seen[url] = len(self.discovered)
            self.discovered.append(item)
        elif found_by == "news_sitemap" and self.discovered[index].found_by != "news_sitemap":
            self.discovered[index] = _merged(item, self.discovered[index])
        elif found_by != "news_sitemap" and self.discovered[index].found_by == "news_sitemap":
            self.discovered[index] = _merged(self.discovered[index], item)  # in either order
        return True

    def record(self, outcome: FetchOutcome) -> None:
        if outcome.robots_log is not None:
            self.log.append(outcome.robots_log)
        self.log.append(outcome.log)

    def result(self) -> Discovery:
        return Discovery(
            tuple(self.discovered),
            tuple(self.log),
            tuple(self.rejected),
            tuple(self.unfetched),
            found=tuple(self.found),
            optional=frozenset(self.optional),
        )


def _discovered(
    url: str, source_id: str, found_in: str, found_by: FoundBy, entry: Entry | None
) -> Discovered:
    if entry is None:
        return Discovered(url=url, source_id=source_id, found_in=found_in, found_by=found_by)
    return Discovered(
        url=url,
        source_id=source_id,
        found_in=found_in,
        title=entry.title,
        published_at=entry.published_at,
        modified_at=entry.modified_at,
        authors=entry.authors,
        found_by=found_by,
        language=entry.language,
        keywords=entry.keywords,
        publication=entry.publication,
        categories=entry.categories,
    )


def _merged(news: Discovered, other: Discovered) -> Discovered:
    """A news sitemap's record of a URL, completed by another document's record of it."""
    changed = [d for d in (news.modified_at, other.modified_at) if d is not None]
    return replace(
        news,
        title=news.title or other.title,
        published_at=news.published_at or other.published_at,
        modified_at=max(changed) if changed else None,  # the latest change any document saw
        authors=news.authors or other.authors,
        categories=news.categories or other.categories,
    )


_KIND_NAMES = {"feed": "feed", "urlset": "sitemap", "sitemapindex": "sitemap index"}
_ENTRY_NAMES = {"feed": "items", "urlset": "<url> entries", "sitemapindex": "sitemaps"}


def _nothing_listed(what: str, document: Document) -> str:
    """The detail of a `no_items` rejection: what the document was and what it listed."""
    entries = _ENTRY_NAMES[document.kind]
    if not document.entries:
        return f"{what} lists no {entries}"
    return f"{what} lists {len(document.entries)} {entries}, none with a link that can be fetched"


def _seen(outcome: FetchOutcome) -> str:
    body = outcome.body or b""
    return f"{len(body)} bytes, {outcome.log.content_type or 'no content type'}"


@dataclass(frozen=True, slots=True)
class _Read:
    """What reading a set of feeds and sitemaps gave."""

    listed: int  # links that can be fetched, from every document read
    documents: int  # documents fetched ok and parsed as a feed or sitemap
    unchanged: bool  # a document answered 304: finding nothing new is normal then
    indexes: tuple[tuple[str, str, int], ...]  # starting sitemap indexes: (url, what, sitemaps)


@dataclass(frozen=True, slots=True)
class _Limits:
    validators: Mapping[str, Validators]
    max_sitemaps: int
    max_bytes: int


def _read_documents(
    collected: _Collector,
    fetcher: Fetcher,
    starts: Sequence[tuple[str, str]],
    limits: _Limits,
) -> _Read:
    """Fetch and read feeds and sitemaps (url, purpose), following sitemap indexes."""
    source, now = collected.source, collected.now
    pending = list(starts)
    fetched: set[str] = set()
    starting = {url for url, _ in starts}
    indexes: list[tuple[str, str, int]] = []
    listed = documents = 0
    unchanged = False
    while pending:
        location, purpose = pending.pop(0)
        if location in fetched:
            continue
        fetched.add(location)
        outcome = fetcher.fetch(
            location,
            source_id=source.id,
            purpose=purpose,
            validators=limits.validators.get(location),
            now=now,
        )
        collected.record(outcome)
        unchanged = unchanged or outcome.log.reason == NOT_MODIFIED
        if not outcome.ok or outcome.body is None:
            continue
        try:
            document = parse_document(outcome.body, max_bytes=limits.max_bytes)
        except DocumentError as exc:
            collected.reject(location, exc.reason, f"{exc.detail} ({_seen(outcome)})")
            continue
        documents += 1
        what = f"{_KIND_NAMES[document.kind]} ({_seen(outcome)})"
        if document.error:
            what += f", read up to a parser error ({document.error})"
        if document.kind == "sitemapindex":
            children = 0
            for entry in document.entries:
                if len(fetched) + len(pending) >= limits.max_sitemaps + len(starting):
                    detail = f"over {limits.max_sitemaps} sitemaps"
                    collected.reject(entry.link, "too_large", detail)
                    continue
                try:
                    child = resolve_link(entry.link, outcome.log.final_url or location)
                except DocumentError as exc:
                    collected.refuse(entry.link, "sitemap", exc)
                    continue
                pending.append((child, "sitemap"))
                children += 1
            if not children:
                collected.reject(location, NO_ITEMS, _nothing_listed(what, document))
            elif location in starting:
                indexes.append((location, what, children))
            continue
        found_in = outcome.log.final_url or location
        usable = [
            collected.add(e.link, found_in, _found_by(document, e), entry=e)
            for e in document.entries
        ]
        listed += sum(usable)
        if not any(usable):
            collected.reject(location, NO_ITEMS, _nothing_listed(what, document))
    return _Read(listed, documents, unchanged, tuple(indexes))


def _found_by(document: Document, entry: Entry) -> FoundBy:
    if document.kind == "feed":
        return "feed"
    return "news_sitemap" if entry.news else "sitemap"


def _read_section(
    collected: _Collector,
    fetcher: Fetcher,
    start: str,
    first: tuple[FetchOutcome, SectionPage] | None = None,
) -> tuple[int, str]:
    """Read a section page and its next pages (at most the source's `max_pages`).

    Returns the number of article links found and what was read (for a rejection's detail).
    `first` is the start page when it was already fetched and read (a site's home page).
    """
    source = collected.source
    listed = pages = anchors = 0
    visited: set[str] = set()
    url: str | None = start
    read = "nothing"
    while url is not None and pages < source.max_pages and url not in visited:
        visited.add(url)
        if first is not None and pages == 0:
            outcome, page = first
        else:
            fetched = _fetch_page(collected, fetcher, url, "section")
            if fetched is None:
                break
            outcome, page = fetched
        pages += 1
        anchors += page.anchors
        if pages == 1:
            read = f"section page ({_seen(outcome)})"
        found_in = outcome.log.final_url or url
        listed += sum(
            collected.add(link, found_in, "section", Entry(link, published_at=page.dates.get(link)))
            for link in page.links
        )
        url = page.next_url
    if pages > 1:
        read += f" and {pages - 1} more pages"
    return listed, f"{read}, {anchors} links, none to an article" if not listed else read


def _fetch_page(
    collected: _Collector, fetcher: Fetcher, url: str, purpose: Literal["section", "site"]
) -> tuple[FetchOutcome, SectionPage] | None:
    """Fetch and read one HTML page of a source; None (recorded, or rejected with its reason)
    when it could not be fetched or read."""
    outcome = fetcher.fetch(url, source_id=collected.source.id, purpose=purpose, now=collected.now)
    collected.record(outcome)
    if not outcome.ok or outcome.body is None:
        return None
    page = _section_page(outcome, collected.source)
    if isinstance(page, DocumentError):
        collected.reject(url, page.reason, page.detail)
        return None
    return outcome, page


def _section_page(outcome: FetchOutcome, source: Source) -> SectionPage | DocumentError:
    body = outcome.body or b""
    if len(body) > MAX_PAGE_BYTES:
        return DocumentError("too_large", f"{len(body)} bytes over the cap {MAX_PAGE_BYTES}")
    return read_page(
        body,
        outcome.log.final_url or outcome.log.url,
        encoding=detect_encoding(body, outcome.log.content_type),
        links=source.links,
        next_selector=source.next,
    )


def _autodiscover(collected: _Collector, fetcher: Fetcher, limits: _Limits) -> None:
    """Read a site from its home page: the feeds and sitemaps it declares, else those at
    the common locations, else the home page's own article links."""
    source, now = collected.source, collected.now
    assert source.location is not None
    home = source.location
    # No validators: a 304 would hide the links this page is fetched for.
    fetched = _fetch_page(collected, fetcher, home, "site")
    if fetched is None:
        return
    outcome, page = fetched
    base = outcome.log.final_url or home
    robots, robots_log = fetcher.robots(base, source_id=source.id, now=now)
    if robots_log is not None:
        collected.log.append(robots_log)
    starts: list[tuple[str, str]] = []
    for url in page.feeds:
        starts.append((url, "feed"))
        collected.found.append(f"feed {url} (<link rel=alternate> on the home page)")
    for raw in dict.fromkeys(robots.sitemaps):
        try:
            url = resolve_link(raw, base)
        except DocumentError as exc:
            collected.refuse(raw, "sitemap", exc)
            continue
        if all(url != known for known, _ in starts):
            starts.append((url, "sitemap"))
            collected.found.append(f"sitemap {url} (robots.txt)")
    read = _Read(0, 0, False, ())
    if starts:
        read = _read_documents(collected, fetcher, starts, limits)
    else:
        for path, purpose in COMMON_LOCATIONS:  # the first that lists articles is enough
            url = resolve_link(path, base)
            collected.optional.add(url)
            read = _read_documents(collected, fetcher, [(url, purpose)], limits)
            if read.documents:
                collected.found.append(f"{purpose} {url} (common location)")
            if read.listed or read.unchanged:
                break
    if read.listed or read.unchanged:
        return
    # Nothing lists an article: the home page's own links are the site's articles.
    listed, what = _read_section(collected, fetcher, home, first=(outcome, page))
    if listed:
        collected.found.append(f"section {base} (the home page's own links)")
        return
    if starts:
        tried = f"the {len(starts)} feeds and sitemaps it declares list no article URL"
    else:
        tried = "it declares no feed or sitemap, and none at the common locations lists one"
    collected.reject(home, NO_ITEMS, f"site: {tried}; home page: {what}")


def discover(
    source: Source,
    fetcher: Fetcher,
    *,
    validators: Mapping[str, Validators],
    now: Callable[[], datetime],
    max_sitemaps: int = MAX_SITEMAPS,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> Discovery:
    """The URLs a source names now.

    `validators` maps a feed or sitemap URL to its stored (ETag, Last-Modified); a 304
    answer discovers nothing from that document. Every feed, sitemap, section and home page
    fetch is in `log` (with the validators to store once the run is published); links that
    cannot be fetched (other schemes, malformed URLs), documents that cannot be parsed and
    sources that list no article URL (`no_items`) are in `rejected`, and those links are
    also in `unfetched` as `fetch_log` rows. A site's `found` says what its home page led
    to; `optional` holds the common locations tried for it, whose failures are no failure.
    """
    collected = _Collector(source, now)
    for raw in source.urls:
        collected.add(raw, found_in=f"list:{source.id}", found_by="list")
    if source.kind == "urls" or not source.location:
        if source.kind != "urls":
            raise ValueError(f"source {source.id!r} of kind {source.kind!r} has no location")
        return collected.result()
    limits = _Limits(validators, max_sitemaps, max_bytes)
    if source.kind == "site":
        _autodiscover(collected, fetcher, limits)
        return collected.result()
    if source.kind == "section":
        listed, what = _read_section(collected, fetcher, source.location)
        fetched = any(e.purpose == "section" and e.reason == OK for e in collected.log)
        if not listed and fetched and all(r.url != source.location for r in collected.rejected):
            collected.reject(source.location, NO_ITEMS, what)
        return collected.result()
    purpose = "feed" if source.kind == "feed" else "sitemap"
    read = _read_documents(collected, fetcher, [(source.location, purpose)], limits)
    if read.indexes and not read.listed and not read.unchanged:
        _url, what, children = read.indexes[0]
        detail = f"{what} names {children} sitemaps; none lists an article URL"
        collected.reject(source.location, NO_ITEMS, detail)
    return collected.result()
