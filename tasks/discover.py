"""Discovery: the article URLs a source names today, from feeds, sitemaps or a URL list.

`discover` fetches a source's feed or sitemap through the `Fetcher` (so it is polite,
bounded and guarded like every other request), with the stored ETag/Last-Modified as a
conditional GET, and parses it with `parse_document`.

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
one) is a `no_items` rejection of the document's URL, with what was seen in the detail.
A 304 answer is not a failure: nothing new is normal.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

from lxml import etree

from tasks.dates import parse_date
from tasks.fetch import Fetcher, FetchOutcome
from tasks.reasons import NO_ITEMS, NOT_MODIFIED, STAGE_DISCOVER, ReasonCode
from tasks.records import Discovered, FetchLogEntry, Rejected, Source
from tasks.urls import resolve_url

logger = logging.getLogger(__name__)

DocumentKind = Literal["feed", "urlset", "sitemapindex"]
Validators = tuple[str | None, str | None]

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the sitemap protocol's limit, uncompressed
MAX_SITEMAPS = 50  # child sitemaps fetched from one source's index(es)

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
    )


def _sitemap_entry(element: etree._Element) -> Entry | None:
    link = _first_text(element, "loc")
    if not link:
        return None
    return Entry(link=link, modified_at=parse_date(_first_text(element, "lastmod")))


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
    seen: set[str] = field(default_factory=set)

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

    def add(self, raw: str, found_in: str, entry: Entry | None = None) -> bool:
        """Discover a link (once); False when it cannot be fetched (then it is refused)."""
        base = found_in if found_in.startswith(("http://", "https://")) else ""
        try:
            url = resolve_link(raw, base)
        except DocumentError as exc:
            self.refuse(raw, "article", exc)
            return False
        if url in self.seen:
            return True
        self.seen.add(url)
        self.discovered.append(
            Discovered(
                url=url,
                source_id=self.source.id,
                found_in=found_in,
                title=entry.title if entry else None,
                published_at=entry.published_at if entry else None,
                modified_at=entry.modified_at if entry else None,
                authors=entry.authors if entry else (),
            )
        )
        return True

    def record(self, outcome: FetchOutcome) -> None:
        if outcome.robots_log is not None:
            self.log.append(outcome.robots_log)
        self.log.append(outcome.log)

    def result(self) -> Discovery:
        return Discovery(
            tuple(self.discovered), tuple(self.log), tuple(self.rejected), tuple(self.unfetched)
        )


_KIND_NAMES = {"feed": "feed", "urlset": "sitemap", "sitemapindex": "sitemap index"}
_ENTRY_NAMES = {"feed": "items", "urlset": "<url> entries", "sitemapindex": "sitemaps"}


def _nothing_listed(what: str, document: Document) -> str:
    """The detail of a `no_items` rejection: what the document was and what it listed."""
    entries = _ENTRY_NAMES[document.kind]
    if not document.entries:
        return f"{what} lists no {entries}"
    return f"{what} lists {len(document.entries)} {entries}, none with a link that can be fetched"


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
    answer discovers nothing from that document. Every feed and sitemap fetch is in `log`
    (with the validators to store once the run is published); links that cannot be fetched
    (other schemes, malformed URLs), documents that cannot be parsed and documents that list
    no article URL (`no_items`) are in `rejected`, and those links are also in `unfetched`
    as `fetch_log` rows.
    """
    collected = _Collector(source, now)
    for raw in source.urls:
        collected.add(raw, found_in=f"list:{source.id}")
    if source.kind == "urls" or not source.location:
        if source.kind != "urls":
            raise ValueError(f"source {source.id!r} of kind {source.kind!r} has no location")
        return collected.result()
    purpose = "feed" if source.kind == "feed" else "sitemap"
    pending = [source.location]
    fetched: set[str] = set()
    index: tuple[str, int] | None = None  # the source's own sitemap index: (what, sitemaps)
    listed = 0  # links that can be fetched, from every feed and sitemap of the source
    unchanged = False  # a document answered 304: finding nothing new is normal then
    while pending:
        location = pending.pop(0)
        if location in fetched:
            continue
        fetched.add(location)
        outcome = fetcher.fetch(
            location,
            source_id=source.id,
            purpose=purpose,
            validators=validators.get(location),
            now=now,
        )
        collected.record(outcome)
        unchanged = unchanged or outcome.log.reason == NOT_MODIFIED
        if not outcome.ok or outcome.body is None:
            continue
        seen = f"{len(outcome.body)} bytes, {outcome.log.content_type or 'no content type'}"
        try:
            document = parse_document(outcome.body, max_bytes=max_bytes)
        except DocumentError as exc:
            collected.reject(location, exc.reason, f"{exc.detail} ({seen})")
            continue
        what = f"{_KIND_NAMES[document.kind]} ({seen})"
        if document.error:
            what += f", read up to a parser error ({document.error})"
        if document.kind == "sitemapindex":
            children = 0
            for entry in document.entries:
                if len(fetched) + len(pending) >= max_sitemaps + 1:
                    collected.reject(entry.link, "too_large", f"over {max_sitemaps} sitemaps")
                    continue
                try:
                    pending.append(resolve_link(entry.link, outcome.log.final_url or location))
                except DocumentError as exc:
                    collected.refuse(entry.link, "sitemap", exc)
                    continue
                children += 1
            if not children:
                collected.reject(location, NO_ITEMS, _nothing_listed(what, document))
            elif location == source.location:
                index = (what, children)
            purpose = "sitemap"
            continue
        found_in = outcome.log.final_url or location
        usable = [collected.add(e.link, found_in=found_in, entry=e) for e in document.entries]
        listed += sum(usable)
        if not any(usable):
            collected.reject(location, NO_ITEMS, _nothing_listed(what, document))
    if index is not None and not listed and not unchanged:
        what, children = index
        detail = f"{what} names {children} sitemaps; none lists an article URL"
        collected.reject(source.location, NO_ITEMS, detail)
    return collected.result()
