"""Section and home pages: the article links an HTML page lists, its next page, its feeds.

Pure: page bytes, the page's URL and the source's options in, a `SectionPage` out. Pages are
parsed with BeautifulSoup (lxml parser) and per-source CSS selectors are soupsieve's, the
same dialect as the per-source `selectors` of extraction (`:has()`, `:not()`, `:is()` ...).

Which links are articles, without a selector:
- on the same site as the page (same host, or a subdomain of it, `www.` aside), http(s);
- not the page itself, an ancestor of it, the home page, a pagination link, an asset
  (image, PDF, feed ...) or a utility page (tag, author, search, login, about ...);
- not inside page furniture: `nav`, `aside`, `footer`, `form`, the page's own `header`,
  ARIA landmarks other than `main`, or elements whose class or id says navigation, menu,
  sidebar, "most read", popular, trending, related, promo, ad, newsletter, share ...;
- inside `<main>` (or `role=main`) when the page has one that holds any such link;
- and article-like: a score from the URL (a date in the path, a slug of several words, a
  numeric id, depth, an "article"/"story"/"news" segment or a numbered `article-12`, a page
  suffix such as `.html`) and its place (inside an
  `<article>` or a heading, a headline-length anchor text) reaches `MIN_SCORE`.
With a `links` selector, the selected anchors (or the anchors inside the selected elements)
are the candidates; they still have to be same-site, non-asset, non-utility links, but page
furniture and the score are the selector's business.

A link's teaser (the block around it that links to no other article) often shows the
story's date in a `<time datetime>`: that date comes with the link (`SectionPage.dates`),
so that backfills can leave undated-looking section links to the runs of their dates.

The next page is the per-source `next` selector's link when one is given, else a
`rel="next"` link, else a "next"/"older" link inside a pagination block; always on the
same site and never the page itself. Bounding how many pages are read is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

import soupsieve
from bs4 import BeautifulSoup, Tag

from tasks.charset import decode_html
from tasks.dates import parse_date
from tasks.urls import site_key

MIN_SCORE = 3  # the article-likeness a link needs (see `_url_score` and `_place_score`)
MAX_LINKS = 500  # article links taken from one page
MAX_PAGE_BYTES = 10 * 1024 * 1024  # larger pages are not parsed (`too_large`)

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})

_FURNITURE_TAGS = frozenset({"nav", "aside", "footer", "form", "menu", "dialog", "template"})
_FURNITURE_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog"}
)
_FURNITURE_WORDS = frozenset(
    {
        "nav", "navbar", "navigation", "subnav", "menu", "footer", "sidebar", "aside", "rail",
        "related", "recommended", "recommendations", "popular", "trending", "mostread",
        "mostpopular", "mostviewed", "promo", "promos", "promoted", "sponsored", "sponsor",
        "advert", "adverts", "advertisement", "ad", "ads", "newsletter", "share", "sharing",
        "social", "breadcrumb", "breadcrumbs", "cookie", "cookies", "consent", "masthead",
        "toolbar", "topbar", "pagination", "pager", "comments", "outbrain", "taboola", "skip",
    }
)  # fmt: skip
_MOST = frozenset({"read", "viewed", "popular", "shared", "commented", "watched", "emailed"})
_PAGINATION_WORDS = frozenset({"pagination", "pager", "paging"})
_NEXT_TEXT = re.compile(r"^\s*(next|older|more stories|›|»|→|>)", re.IGNORECASE)
_UTILITY_SEGMENTS = frozenset(
    {
        "tag", "tags", "topic", "topics", "category", "categories", "author", "authors",
        "search", "login", "signin", "sign-in", "logout", "register", "account", "subscribe",
        "subscription", "newsletter", "newsletters", "about", "about-us", "contact",
        "contact-us", "privacy", "privacy-policy", "terms", "cookies", "cookie-policy", "feed",
        "rss", "page", "user", "users", "profile", "help", "faq", "jobs", "careers", "advertise",
        "wp-admin", "wp-login.php", "cdn-cgi",
    }
)  # fmt: skip
_ASSET = re.compile(
    r"\.(jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|pdf|zip|gz|tgz|rar|7z|mp3|mp4|m4a|wav|ogg"
    r"|webm|mov|avi|css|js|json|xml|rss|atom|txt|csv|docx?|xlsx?|pptx?|epub|ics)$",
    re.IGNORECASE,
)
_ARTICLE_SEGMENTS = frozenset(
    {"article", "articles", "story", "stories", "news", "post", "posts", "a", "p", "item"}
)
_DATE = re.compile(
    r"/(19|20)\d\d[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(/|$|[-_])"
    r"|(?<![0-9])(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?![0-9])"
)
_NUMBERED = re.compile(r"^(article|story|post|item|news)[-_]?\d+$")  # article-12, story7
_PAGE_SUFFIX = re.compile(r"\.(s?html?|php|aspx?|jsp)$", re.IGNORECASE)
_PAGINATION_QUERY = re.compile(r"(^|&)(page|p|pg|paged|offset|start)=\d+(&|$)", re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9]+")
_HEADINGS = re.compile(r"^h[1-4]$")


class InvalidSelector(ValueError):
    """A CSS selector soupsieve cannot compile; the message says why, on one line."""


@lru_cache(maxsize=256)
def compile_selector(css: str) -> soupsieve.SoupSieve:
    """The compiled soupsieve selector, or `InvalidSelector` naming the problem."""
    try:
        return soupsieve.compile(css)
    except soupsieve.SelectorSyntaxError as error:
        first = str(error).splitlines()[0] if str(error) else "syntax error"
        raise InvalidSelector(f"invalid CSS selector {css!r}: {first}") from None


@dataclass(frozen=True, slots=True)
class SectionPage:
    """What one section or home page lists."""

    links: tuple[str, ...]  # article links, absolute, in page order, each once
    next_url: str | None  # the next page of the section, if the page names one
    feeds: tuple[str, ...]  # RSS/Atom feeds the page declares (<link rel="alternate">)
    anchors: int  # links of any kind on the page (for the detail of a rejection)
    dates: Mapping[str, datetime] = field(default_factory=dict)  # link -> its teaser's date


def parse_page(html: bytes, encoding: str | None = None) -> BeautifulSoup:
    """Page bytes as a BeautifulSoup tree (lxml parser), decoded as `tasks.charset` does."""
    return BeautifulSoup(decode_html(html, encoding), "lxml")


def read_page(
    html: bytes,
    url: str,
    *,
    encoding: str | None = None,
    links: str | None = None,
    next_selector: str | None = None,
) -> SectionPage:
    """The article links, next page and feeds of the page at `url` (see the module doc).

    Raises `InvalidSelector` for a selector soupsieve cannot compile (sources files are
    checked when loaded, so this is a caller's bug).
    """
    soup = parse_page(html, encoding)
    base = _base_url(soup, url)
    anchors = [a for a in soup.find_all("a", href=True) if isinstance(a, Tag)]
    if links:
        chosen = _selected_anchors(soup, links)
        found = [(u, a) for a in chosen if (u := _candidate(a, base, url)) is not None]
    else:
        found = _generic_links(anchors, base, url)
    first = dict(reversed(found))  # url -> its first anchor
    kept = tuple(dict.fromkeys(u for u, _ in found))[:MAX_LINKS]
    dates = {u: when for u in kept if (when := _teaser_date(first[u], u, base, url))}
    return SectionPage(
        links=kept,
        next_url=_next_url(soup, anchors, base, url, next_selector),
        feeds=_feeds(soup, base),
        anchors=len(anchors),
        dates=dates,
    )


# ------------------------------------------------------------------ URLs


def _absolute(href: str, base: str) -> str | None:
    try:
        parts = urlsplit(urljoin(base, href.strip()))
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts._replace(fragment=""))


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        href = _absolute(_attr(base, "href"), url)
        if href:
            return href
    return url


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = parts.port if parts.port not in (None, default) else None
    return site_key((parts.hostname or "").lower().rstrip(".")), port


def same_site(url: str, page: str) -> bool:
    """Whether `url` is on the site of `page`: its host (`www.` aside) or a subdomain of it."""
    try:
        (host, port), (page_host, page_port) = _origin(url), _origin(page)
    except ValueError:
        return False
    if port != page_port or not host:
        return False
    return host == page_host or host.endswith("." + page_host) or page_host.endswith("." + host)


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _candidate(anchor: Tag, base: str, page: str) -> str | None:
    """The anchor's absolute URL when it may name an article of the page's site."""
    url = _absolute(_attr(anchor, "href"), base)
    if url is None or not same_site(url, page):
        return None
    parts, here = urlsplit(url), urlsplit(page)
    path = parts.path or "/"
    segments = _segments(path)
    if not segments or _ASSET.search(path):
        return None
    if any(s.lower() in _UTILITY_SEGMENTS for s in segments):
        return None
    own = here.path or "/"
    if path.rstrip("/") == own.rstrip("/") and (
        parts.query == here.query or _PAGINATION_QUERY.search(parts.query)
    ):
        return None  # the page itself, or another page of it
    if own.startswith(path.rstrip("/") + "/") and not parts.query:
        return None  # a section above this one
    return url


def _url_score(url: str) -> int:
    path = urlsplit(url).path
    segments = _segments(path)
    stem = _PAGE_SUFFIX.sub("", segments[-1]).lower()
    words = [w for w in re.split(r"[-_+.]+", stem) if w and not w.isdigit()]
    score = 2 if _DATE.search(path) else 0
    score += 2 if len(words) >= 3 else len(words) == 2
    score += bool(re.search(r"\d{4,}", stem))
    score += len(segments) >= 2
    score += any(s.lower() in _ARTICLE_SEGMENTS for s in segments[:-1]) or bool(
        _NUMBERED.match(stem)
    )
    score += bool(_PAGE_SUFFIX.search(segments[-1])) and stem not in ("index", "default")
    return score


# ------------------------------------------------------------------ page furniture


@dataclass(frozen=True, slots=True)
class _Place:
    furniture: bool = False  # inside navigation, footer, a "most read" box ...
    main: bool = False  # inside <main> or role=main
    content: bool = False  # inside <main> or an <article>
    article: bool = False  # inside an <article>
    heading: bool = False  # inside h1-h4


def _tokens(tag: Tag) -> set[str]:
    return set(_WORDS.findall(f"{_attr(tag, 'class')} {_attr(tag, 'id')}".lower()))


def _attr(tag: Tag, name: str) -> str:
    """An attribute as one string (bs4 gives multi-valued ones such as class as a list)."""
    value: object = tag.get(name)
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value) if value is not None else ""


def _furniture(tag: Tag, parent: _Place) -> bool:
    name = tag.name
    if name in _FURNITURE_TAGS:
        return True
    if name in ("html", "body", "main", "article"):
        return False
    role = _attr(tag, "role").strip().lower()
    if role in _FURNITURE_ROLES:
        return True
    if name == "header" and not parent.content:
        return True  # the page's header; an article's own <header> is content
    tokens = _tokens(tag)
    if tokens & _FURNITURE_WORDS or ("most" in tokens and tokens & _MOST):
        return True
    return bool(tokens & {"header", "masthead"}) and not parent.content


def _place(tag: Tag, memo: dict[int, _Place]) -> _Place:
    """Where `tag` sits on the page, from its ancestors (memoised per element, no recursion:
    pages can nest deeper than Python's stack)."""
    chain: list[Tag] = []
    node: object = tag
    while isinstance(node, Tag) and node.name != "[document]" and id(node) not in memo:
        chain.append(node)
        node = node.parent
    place = memo[id(node)] if isinstance(node, Tag) and id(node) in memo else _Place()
    for element in reversed(chain):
        role = _attr(element, "role").strip().lower()
        main = place.main or element.name == "main" or role == "main"
        place = _Place(
            furniture=place.furniture or _furniture(element, place),
            main=main,
            content=place.content or main or element.name == "article",
            article=place.article or element.name == "article",
            heading=place.heading or element.name in ("h1", "h2", "h3", "h4"),
        )
        memo[id(element)] = place
    return place


def _place_score(anchor: Tag, place: _Place) -> int:
    score = int(place.heading or place.article or anchor.find(_HEADINGS) is not None)
    return score + (len(anchor.get_text(" ", strip=True).split()) >= 4)


def _generic_links(anchors: list[Tag], base: str, page: str) -> list[tuple[str, Tag]]:
    memo: dict[int, _Place] = {}
    scored: list[tuple[str, Tag, bool]] = []  # (url, anchor, inside main)
    for anchor in anchors:
        url = _candidate(anchor, base, page)
        if url is None:
            continue
        place = _place(anchor, memo)
        if place.furniture or _url_score(url) + _place_score(anchor, place) < MIN_SCORE:
            continue
        scored.append((url, anchor, place.main))
    in_main = any(main for *_, main in scored)
    return [(url, anchor) for url, anchor, main in scored if main or not in_main]


def _teaser_date(anchor: Tag, url: str, base: str, page: str) -> datetime | None:
    """The `<time datetime>` of the block around a link that links to no other article."""
    node: object = anchor
    for _ in range(4):
        node = node.parent if isinstance(node, Tag) else None
        if not isinstance(node, Tag) or node.name in ("html", "body", "main"):
            return None
        for other in node.find_all("a", href=True):
            if isinstance(other, Tag) and _candidate(other, base, page) not in (None, url):
                return None  # the block is a list of stories, not this story's teaser
        time = node.find("time", attrs={"datetime": True})
        if isinstance(time, Tag):
            return parse_date(_attr(time, "datetime"))
    return None


def _selected_anchors(soup: BeautifulSoup, css: str) -> list[Tag]:
    anchors: list[Tag] = []
    for tag in compile_selector(css).select(soup):
        if tag.name == "a" and tag.get("href"):
            anchors.append(tag)
        else:
            anchors += [a for a in tag.find_all("a", href=True) if isinstance(a, Tag)]
    return anchors


# ------------------------------------------------------------------ next page, feeds


def _rel(tag: Tag) -> set[str]:
    return set(_attr(tag, "rel").lower().split())


def _next_url(
    soup: BeautifulSoup, anchors: list[Tag], base: str, page: str, css: str | None
) -> str | None:
    candidates: list[Tag] = []
    if css:
        for tag in compile_selector(css).select(soup):
            inner = tag.find("a", href=True) if not tag.get("href") else tag
            if isinstance(inner, Tag):
                candidates.append(inner)
    else:
        candidates += [t for t in soup.find_all(["link", "a"], href=True) if isinstance(t, Tag)]
        candidates = [t for t in candidates if "next" in _rel(t)]
        candidates += [a for a in anchors if _says_next(a) and _in_pagination(a)]
    here = _absolute(page, page)
    for tag in candidates:
        url = _absolute(_attr(tag, "href"), base)
        if url and url != here and same_site(url, page):
            return url
    return None


def _says_next(anchor: Tag) -> bool:
    label = " ".join(
        [anchor.get_text(" ", strip=True), _attr(anchor, "aria-label")]
    ).strip()
    return bool(_NEXT_TEXT.match(label)) or "next" in _tokens(anchor)


def _in_pagination(tag: Tag) -> bool:
    node: object = tag
    for _ in range(6):  # the anchor, its list item, the list, the block around it ...
        if not isinstance(node, Tag):
            return False
        if _tokens(node) & _PAGINATION_WORDS or "pagination" in _attr(node, "aria-label"):
            return True
        node = node.parent
    return False


def _feeds(soup: BeautifulSoup, base: str) -> tuple[str, ...]:
    found: list[str] = []
    for link in soup.find_all("link", href=True):
        if not isinstance(link, Tag) or "alternate" not in _rel(link):
            continue
        kind = _attr(link, "type").split(";")[0].strip().lower()
        if kind not in FEED_TYPES or "comment" in _attr(link, "title").lower():
            continue
        url = _absolute(_attr(link, "href"), base)
        if url:
            found.append(url)
    return tuple(dict.fromkeys(found))
