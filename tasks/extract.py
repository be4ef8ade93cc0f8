"""HTML -> Article: decode, parse once with lxml, read metadata, pick the body.

The body comes from, in order of precedence: the source's CSS selectors; trafilatura in
precision mode over a copy of our already-parsed tree (or its default mode, when precision
mode kept too little or the page's JSON-LD `articleBody` agrees with it better), fact boxes
left out (blocks classed `factbox`, `fact-box`, `infobox`, `info-box`, `faktenbox`: sidebars,
not the story); the JSON-LD `articleBody`; article HTML held in a script's JSON (pages
rendered by JavaScript). The chosen text is then filtered with what only the DOM knows:
paragraphs that are entirely one link (inline "related" headlines, link lists) and repeats
of the headline or the highlights are dropped. Text-level cleaning (boilerplate lines,
credit lines, Unicode and whitespace) is `tasks.clean`'s job.

Every page gives an `Article`; pages that are not articles say why in `page_kind`. Bytes that
hold no HTML document (a binary format, control characters that text never holds, text
without a single tag) raise `ExtractionError`, which the flow records as `parse_error`.

Per-source selectors are CSS in soupsieve's dialect (`:has()`, `:not()` ...), the one that
sources files use everywhere (`Selection`); pages of sources without selectors never pay for
the BeautifulSoup copy that takes. What discovery said of the URL (a feed's or a Google News
sitemap's title, dates, authors; a section page teaser's date) fills what the page does not
say, with that provenance (`feed`, `news_sitemap`, `section`); a news sitemap's title and
date also replace the `<title>` tag's and the URL path's; a news sitemap's keywords are
the article's `keywords`, its language a declared language and its publication name the
fallback site name. The publisher's keywords of every kind, with where each was read, are
`keyword_entries` (`tasks.keywords.publisher_keywords`).

Decoding is `tasks.charset`'s. The canonical URL is `tasks.urls.canonical_url` of the final
URL and of what the page declares (`tasks.metadata.declared_canonical`), so `article_id` and
the warehouse's URL matching see one spelling.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any

import trafilatura
from bs4 import BeautifulSoup
from lxml import etree
from lxml import html as lxml_html

from tasks import keywords, metadata, urls
from tasks.charset import decode_html
from tasks.dates import parse_date, zone
from tasks.language import detect_language
from tasks.records import Article, Discovered, Selectors
from tasks.sections import InvalidSelector, compile_selector

logger = logging.getLogger(__name__)

PAGE_KINDS = ("article", "index_page", "video_only", "javascript_shell", "error_page")
MIN_PRECISION_TOKENS = 50  # below this, trafilatura's precision mode is taken to have over-pruned
KEPT_SHARE = 0.5  # precision mode keeping less than this share of the story's words over-pruned
REFERENCE_SHARE = 0.8  # JSON-LD articleBody this long (vs the text) is a complete reference
REFERENCE_MIN_WORDS = 8  # shorter paragraphs are not judged against the reference
_OUTSIDE_BODY = frozenset({"nav", "header", "footer", "aside"})

_WORD = re.compile(r"\w+")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_LINK_PREFIX = re.compile(
    r"^\s*(related|read more|read also|see more|see also|more|also|watch|read|also on [\w.]+"
    r"|recommended|further reading|lees ook|lire aussi|voir aussi|leia também|mehr zum thema"
    r"|lesen sie auch|auch interessant|weiterlesen|les også|læs også|läs också|lue myös"
    r"|czytaj (?:więcej|też|także)|čtěte (?:také|též)|přečtěte si|leggi anche|lee también"
    r"|lea también|ver también|okuyun|devamı)"
    r"\s*[:|»>-]?\s*",
    re.I,
)
# A short label of any language before the link it introduces: "Schlafstörungen:", "LAPHA |".
_LABEL_BEFORE_LINK = re.compile(r"\s*[^:|»>\n]{1,40}?\s*[:|»>]\s*")
MIN_LINKED_HEADLINE_WORDS = 4  # "See it now: <a>Amazon</a>" is a shop link inside the story
_LINK_LABEL = re.compile(r"\s*\[[A-Z][A-Z ]{1,20}\]\W*$")  # "Headline [VIDEO]|"
_ERROR_TITLE = re.compile(
    r"\b(404|410|500|page not found|not found|no encontrada|introuvable|nicht gefunden|"
    r"internal server error|service unavailable|access denied|an error occurred)\b",
    re.I,
)
_JS_NOTICE = re.compile(
    r"(enable|activate|turn on)\s+javascript|javascript\s+(is\s+)?(required|disabled)", re.I
)
# Formats that are never HTML, by their first bytes.
_BINARY_MAGIC = (
    (b"\x7fELF", "an ELF executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\x00asm", "WebAssembly"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"RIFF", "a RIFF file (WebP, WAV, AVI)"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "gzip data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE document"),
)
# Control characters that text never holds (tab, line breaks, form feed and the escape of
# ISO-2022 are text); more than MAX_CONTROL_RATIO of them in a page is binary content.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
MAX_CONTROL_RATIO = 0.05
CONTROL_SAMPLE = 8192  # leading characters checked: binary content shows from the start
_MARKUP = re.compile(r"<[A-Za-z!?/]")


class ExtractionError(ValueError):
    """The bytes could not be parsed as an HTML document (flow reason: ``parse_error``)."""


def not_html(raw: bytes, text: str) -> str | None:
    """Why page bytes (and their decoded text) are not an HTML document; None when they may be.

    Cheap checks only: a known binary format's first bytes, control characters that text
    never holds, or text without a single tag.
    """
    for magic, kind in _BINARY_MAGIC:
        if raw.startswith(magic):
            return kind
    sample = text[:CONTROL_SAMPLE]
    controls = len(_CONTROL.findall(sample))
    if controls > MAX_CONTROL_RATIO * len(sample):
        return f"binary content ({controls} control characters in {len(sample)})"
    if not _MARKUP.search(text):
        return "text without markup"
    return None


def parse_html(raw: bytes, encoding: str | None = None) -> lxml_html.HtmlElement:
    """Parse page bytes into an lxml tree; `ExtractionError` when there is no document."""
    text = decode_html(raw, encoding)
    if not text.strip():
        raise ExtractionError("empty document")
    reason = not_html(raw, text)
    if reason is not None:
        raise ExtractionError(f"not HTML: {reason}")
    text = _XML_DECL.sub("", text).replace("\x00", "")
    parser = lxml_html.HTMLParser(huge_tree=False, remove_comments=True)
    try:
        root = lxml_html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc
    if root is None:
        raise ExtractionError("no document element")
    return root


def canonical_url(root: lxml_html.HtmlElement, meta: dict[str, str], base: str) -> str:
    """The article's canonical URL: `tasks.urls.canonical_url` of the page's URL and what the
    page declares. A page without an http(s) URL (a saved file) keeps its URL."""
    try:
        return urls.canonical_url(base, declared=metadata.declared_canonical(root, meta))
    except ValueError:
        return base


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text)).lower()


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3]")


def word_count(text: str) -> int:
    """Words in `text`; in scripts written without spaces, two characters count as a word."""
    words = len(_WORD.findall(text))
    cjk = len(_CJK.findall(text))
    return words + cjk // 2 if cjk > 20 else words


_NODE = "data-newsflow-node"  # marks each lxml element in the BeautifulSoup copy


class Selection:
    """A source's CSS selectors (soupsieve: `:has()`, `:not()` ...) on one page.

    soupsieve selects on a BeautifulSoup tree, so the page's lxml tree is copied into one,
    each element marked with its position; what a selector matches there is handed back as
    the lxml elements, and the rest of extraction goes on with the lxml tree. Built only for
    sources that have selectors: the copy costs about as much as the extraction itself.
    """

    def __init__(self, root: lxml_html.HtmlElement, selectors: Selectors) -> None:
        self.selectors = selectors
        self._elements = list(root.iter(etree.Element))
        for index, element in enumerate(self._elements):
            element.set(_NODE, str(index))
        try:
            markup = lxml_html.tostring(root, encoding="unicode")
        finally:
            for element in self._elements:
                element.attrib.pop(_NODE, None)
        self._soup = BeautifulSoup(markup, "lxml")

    @staticmethod
    def of(root: lxml_html.HtmlElement, selectors: Selectors | None) -> Selection | None:
        """The selection for a source's selectors; None when it has none (no copy made)."""
        if selectors is None or not (
            selectors.body
            or selectors.title
            or selectors.authors
            or selectors.published
            or selectors.drop
        ):
            return None
        return Selection(root, selectors)

    def select(self, css: str, *, remove: bool = False) -> list[Any]:
        """The lxml elements `css` matches, in document order; `remove` takes them out of
        the page (both trees). Raises `InvalidSelector`."""
        pattern = compile_selector(css)
        found: dict[int, Any] = {}
        for tag in pattern.select(self._soup):
            if tag.decomposed:
                continue  # inside an element removed before it
            mark = str(tag.get(_NODE) or "")
            if mark.isdigit() and int(mark) < len(self._elements):
                found.setdefault(int(mark), self._elements[int(mark)])
            if remove:
                tag.decompose()
        return list(found.values())


def _select(selection: Selection | None, css: str | None) -> list[Any]:
    if selection is None or not css:
        return []
    try:
        return selection.select(css)
    except InvalidSelector:
        logger.warning("Invalid CSS selector %r", css)
        return []


def _drop(selection: Selection | None) -> None:
    if selection is None:
        return
    for css in selection.selectors.drop:
        try:
            removed = selection.select(css, remove=True)
        except InvalidSelector:
            logger.warning("Invalid CSS selector %r", css)
            continue
        for el in removed:
            if el.getparent() is not None:
                el.drop_tree()


def _letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def link_only_texts(root: lxml_html.HtmlElement, wanted: set[str]) -> set[str]:
    """Those of the `wanted` normalised texts that the page shows as a block made of links.

    A block (paragraph, list item, heading) counts when it sits inside a link (a teaser card),
    or when at least 90% of its letters are inside links, ignoring a "Related:" style prefix,
    a short label ending in ":" or "|" before a linked headline of MIN_LINKED_HEADLINE_WORDS
    words or more, and a "[VIDEO]" style label: a related headline, a link list, a navigation
    item.
    """
    found = {n for n in (_norm(el.text_content()) for el in _BLOCKS_IN_LINKS(root)) if n in wanted}
    for el in _BLOCKS_WITH_LINKS(root):
        text = el.text_content()
        if len(text) > 400:
            continue  # long blocks with links are prose
        norm_text = _norm(text)
        if norm_text not in wanted:
            continue
        links = list(el.iter("a"))
        linked = sum(_letters(a.text_content()) for a in links)
        rest = _LINK_LABEL.sub("", _LINK_PREFIX.sub("", text))
        label = _LABEL_BEFORE_LINK.match(rest)
        headline = rest[label.end() :] if label else ""
        if (
            label
            and label.end() <= rest.find(links[0].text_content().strip())
            and len(headline.split()) >= MIN_LINKED_HEADLINE_WORDS
        ):
            rest = headline  # "Sleep: <a>Why one method still helps</a>", not "Buy: <a>Shop</a>"
        if linked >= 0.9 * _letters(rest):
            found.add(norm_text)
    return found


def _block_paragraphs(nodes: list[Any]) -> list[str]:
    """Paragraph texts inside selected nodes: block descendants, or the node's own text."""
    blocks = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")
    paragraphs: list[str] = []
    for node in nodes:
        found = [
            el for el in node.iter(*blocks) if not any(a.tag in blocks for a in el.iterancestors())
        ]
        for el in found or [node]:
            text = " ".join(el.text_content().split())
            if text:
                paragraphs.append(text)
    return paragraphs


_BOXES = etree.XPath('//*[contains(@class, "box")]')
_FACT_BOX_CLASS = re.compile(r"fa(?:c|k)t(?:en)?-?box|info-?box", re.I)


def _trafilatura_text(root: lxml_html.HtmlElement, url: str, *, precision: bool) -> str:
    # trafilatura prunes the tree it is given: hand it a copy of ours instead of re-parsing.
    tree = copy.deepcopy(root)
    for box in _BOXES(tree):
        if _FACT_BOX_CLASS.search(box.get("class", "")) and box.getparent() is not None:
            box.drop_tree()
    text = trafilatura.extract(
        tree,
        url=url or None,
        favor_precision=precision,
        include_comments=False,
        include_tables=True,
        deduplicate=False,
    )
    return text or ""


def _story_paragraph_words(root: lxml_html.HtmlElement) -> int:
    """Words in the page's `<p>` elements outside navigation, page header, footer and asides."""
    total = 0
    for p in root.iter("p"):
        if not any(a.tag in _OUTSIDE_BODY for a in p.iterancestors()):
            total += word_count(p.text_content())
    return total


def bag_of_words(text: str) -> Counter[str]:
    return Counter(_WORD.findall(text.lower()))


def _overlap_f1(a: Counter[str], b: Counter[str]) -> float:
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def _lines(text: str) -> list[str]:
    return [p for p in (line.strip() for line in text.splitlines()) if p]


def agrees_with(paragraphs: list[str], reference: Counter[str]) -> list[str]:
    """The paragraphs whose words are mostly in the publisher's own body text."""
    kept = []
    for paragraph in paragraphs:
        words = bag_of_words(paragraph)
        total = sum(words.values())
        if total < REFERENCE_MIN_WORDS or sum((words & reference).values()) >= 0.5 * total:
            kept.append(paragraph)
    return kept


# A JSON string literal long enough to hold an article's HTML.
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.){200,}"')
_ESCAPED_PARAGRAPH = re.compile(r"<p[\s>]|\\u003cp[\s>\\]", re.I)
MIN_EMBEDDED_PARAGRAPHS = 3


def _html_strings(code: str, depth: int = 0) -> Iterator[str]:
    """JSON string values in `code` that hold paragraph HTML, looking inside strings that
    themselves hold encoded JSON (at most three levels deep)."""
    for match in _JSON_STRING.finditer(code):
        try:
            value = json.loads(match.group(0))
        except (ValueError, RecursionError):
            continue
        if not isinstance(value, str):
            continue
        if len(re.findall(r"<p[\s>]", value)) >= MIN_EMBEDDED_PARAGRAPHS:
            yield value
        elif depth < 2 and _ESCAPED_PARAGRAPH.search(value):
            yield from _html_strings(value, depth + 1)


# Figures and their captions: picture credits, not story text.
_CAPTIONS = etree.XPath('.//figure | .//figcaption | .//*[contains(@class, "caption")]')


def embedded_paragraphs(root: lxml_html.HtmlElement) -> list[str]:
    """The paragraphs of the longest article HTML held in a JSON string of an inline script.

    Pages rendered by JavaScript often ship the story only in their serialised state
    (`__NEXT_DATA__`, `self.__next_f.push(...)`): HTML inside a JSON string, sometimes
    encoded twice. Strings with fewer than MIN_EMBEDDED_PARAGRAPHS `<p>` are not stories.
    Figures and captions are left out.
    """
    best: list[str] = []
    for script in root.iter("script"):
        code = script.text or ""
        if script.get("src") or not _ESCAPED_PARAGRAPH.search(code):
            continue
        for value in _html_strings(code):
            try:
                fragment = lxml_html.fragment_fromstring(value, create_parent="div")
            except (etree.ParserError, ValueError):
                continue
            for caption in _CAPTIONS(fragment):
                if caption.getparent() is not None:
                    caption.drop_tree()
            paragraphs = _block_paragraphs([fragment])
            if word_count(" ".join(paragraphs)) > word_count(" ".join(best)):
                best = paragraphs
    return best


def over_pruned(kept_words: int, story_words: int) -> bool:
    """Whether precision mode kept too little: almost nothing, or under KEPT_SHARE of the
    words in the page's story paragraphs."""
    return kept_words < MIN_PRECISION_TOKENS or kept_words < KEPT_SHARE * story_words


def prefer_default(precision: str, default: str, reference: Counter[str] | None) -> bool:
    """Whether trafilatura's default-mode text should replace its precision-mode text.

    With the page's own body text as `reference`: when its words agree with it better.
    Without: when it is longer and precision mode kept almost nothing or under KEPT_SHARE
    of it.
    """
    if reference is not None:
        agree_default = _overlap_f1(bag_of_words(default), reference)
        return agree_default > _overlap_f1(bag_of_words(precision), reference)
    kept, offered = word_count(precision), word_count(default)
    return offered > kept and (kept < MIN_PRECISION_TOKENS or kept < KEPT_SHARE * offered)


def body_paragraphs(
    root: lxml_html.HtmlElement,
    url: str,
    selection: Selection | None,
    jsonld_body: str | None,
) -> tuple[list[str], str]:
    """The body's paragraphs before DOM filtering, and the method that produced them.

    trafilatura's precision mode first; its default mode too when precision mode may have
    over-pruned (`over_pruned`) or the page carries its own body text (JSON-LD `articleBody`)
    to judge by, and `prefer_default` decides. Against a reference about as long as the text
    (so that a teaser cannot cut a story), paragraphs mostly not in it are dropped. A body
    still almost empty comes from the JSON-LD text, else from the article HTML that a script
    holds (`embedded_paragraphs`).
    """
    if selection is not None and selection.selectors.body:
        nodes = _select(selection, selection.selectors.body)
        if nodes:
            return _block_paragraphs(nodes), "selector"
    text = _trafilatura_text(root, url, precision=True)
    method = "trafilatura_precision"
    reference = bag_of_words(jsonld_body) if jsonld_body else Counter()
    usable = sum(reference.values()) >= MIN_PRECISION_TOKENS
    if usable or over_pruned(word_count(text), _story_paragraph_words(root)):
        fallback = _trafilatura_text(root, url, precision=False)
        if prefer_default(text, fallback, reference if usable else None):
            text, method = fallback, "trafilatura"
    if (
        word_count(text) < MIN_PRECISION_TOKENS
        and jsonld_body
        and word_count(jsonld_body) > word_count(text)
    ):
        return _lines(jsonld_body), "jsonld"
    if word_count(text) < MIN_PRECISION_TOKENS:
        embedded = embedded_paragraphs(root)
        if word_count(" ".join(embedded)) > word_count(text):
            return embedded, "script_state"
    paragraphs = _lines(text)
    if usable and sum(reference.values()) >= REFERENCE_SHARE * word_count(text):
        paragraphs = agrees_with(paragraphs, reference) or paragraphs
    return paragraphs, method


MIN_STANDFIRST_WORDS = 5  # shorter descriptions ("Live updates") are labels, not a lead
_STANDFIRST_PROBE = 24  # leading characters of a description looked up in the page's text
_NOT_STANDFIRST = frozenset(
    {"head", "script", "style", "noscript", "template", "a", "nav", "footer", "aside", "button"}
    | {"figure", "figcaption", "picture"}
)


def standfirst(root: lxml_html.HtmlElement, descriptions: list[str]) -> str | None:
    """The page's summary as it shows it above the story, when it shows it at all.

    Publishers put the standfirst (dek, teaser) in a block apart from the story's paragraphs,
    where body extraction leaves it behind, and repeat it as the page's description. A
    description counts when a block of the page's body holds exactly its words, outside links,
    navigation, footers, asides, figures and scripts; the longest description shown wins (a
    `description` may give only the first sentence of a longer `og:description`). Returns that
    block's text as the page writes it.
    """
    for description in sorted(dict.fromkeys(descriptions), key=len, reverse=True):
        wanted = _norm(description)
        if len(wanted.split()) < MIN_STANDFIRST_WORDS:
            continue
        probe = " ".join(description.split())[:_STANDFIRST_PROBE]
        for node in root.xpath("//body//text()[contains(., $probe)]", probe=probe):
            el = node.getparent()
            if el is None or any(a.tag in _NOT_STANDFIRST for a in (el, *el.iterancestors())):
                continue
            while el is not None:
                found = _norm(el.text_content())
                if found == wanted:
                    return metadata.separated_text(el, " ")
                if len(found) > len(wanted):
                    break
                el = el.getparent()
    return None


def shown_text(article: Article) -> str:
    """The story as the page shows it: the standfirst, then the body.

    The standfirst is the article's `lead` when the page shows it (provenance ``lead: page``)
    and the body does not hold it already (whole anywhere, or most of its words in the first
    three paragraphs); the body alone otherwise.
    """
    lead = article.lead
    if lead is None or dict(article.provenance).get("lead") != "page":
        return article.body
    paragraphs = _lines(article.body)
    if _norm(lead) in _norm(article.body):
        return article.body
    words = bag_of_words(lead)
    top = bag_of_words(" ".join(paragraphs[:3]))
    if sum((words & top).values()) >= 0.8 * sum(words.values()):
        return article.body
    return f"{lead}\n\n{article.body}" if article.body else lead


def filter_paragraphs(
    paragraphs: list[str], link_only: set[str], headlines: set[str], highlights: set[str]
) -> list[str]:
    """Drop link-only paragraphs anywhere and headline/highlight repeats near the top."""
    kept: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        norm_text = _norm(paragraph.lstrip("-•* "))
        if not norm_text:
            continue
        if norm_text in link_only:
            continue
        if norm_text in highlights:
            continue
        near_top = len(kept) < 3 and index < 6
        if near_top and (
            norm_text in headlines or any(len(norm_text) > 20 and norm_text in h for h in headlines)
        ):
            continue
        kept.append(paragraph)
    return kept


def _title(
    root: lxml_html.HtmlElement,
    selection: Selection | None,
    article_ld: dict[str, Any] | None,
    meta: dict[str, str],
    names: set[str],
) -> tuple[str | None, str | None]:
    if selection is not None and selection.selectors.title:
        nodes = _select(selection, selection.selectors.title)
        if nodes:
            return metadata.first_text(nodes[0].text_content()), "selector"
    return metadata.choose_title(root, article_ld, meta, names)


def _headlines(root: lxml_html.HtmlElement, title: str | None, meta: dict[str, str]) -> set[str]:
    found = {_norm(t) for t in (title, meta.get("og:title"), meta.get("twitter:title")) if t}
    for el in root.iter("h1", "title"):
        found.add(_norm(el.text_content()))
    found.discard("")
    return found


_HIGHLIGHT_CONTAINERS = etree.XPath(
    '(//ul | //ol | //div | //section | //aside)[contains(@class, "highlights")'
    ' or contains(@class, "key-points") or contains(@class, "keypoints")'
    ' or contains(@class, "summary-list") or contains(@class, "takeaways")][1]'
)
# Blocks inside a link: the headline and summary of a teaser card that links elsewhere.
_BLOCKS_IN_LINKS = etree.XPath("//a//p | //a//li | //a//h2 | //a//h3 | //a//h4")
_BLOCKS_WITH_LINKS = etree.XPath(
    "//p[.//a] | //li[.//a] | //h2[.//a] | //h3[.//a] | //h4[.//a] | //h5[.//a] | //h6[.//a]"
    " | //dt[.//a] | //dd[.//a]"
)


def _highlights(root: lxml_html.HtmlElement) -> tuple[str, ...]:
    """Bullet points a page shows above the story ("story highlights", "key points")."""
    containers = _HIGHLIGHT_CONTAINERS(root)
    items: list[str] = []
    for container in containers[:1]:
        for li in container.iter("li"):
            text = " ".join(li.text_content().split())
            if text and text not in items:
                items.append(text)
    return tuple(items)


def _people_from_selector(selection: Selection | None, orgs: set[str]) -> tuple[str, ...]:
    if selection is None or not selection.selectors.authors:
        return ()
    return metadata.clean_people(
        [el.text_content() for el in _select(selection, selection.selectors.authors)], orgs
    )


def _published_from_selector(
    selection: Selection | None, fetched_at: datetime
) -> metadata.DatedValue | None:
    if selection is None or not selection.selectors.published:
        return None
    for el in _select(selection, selection.selectors.published):
        value = parse_date(el.get("datetime") or el.get("content") or el.text_content())
        if value is not None and value <= fetched_at:
            return metadata.DatedValue(value, "time_element" if el.tag == "time" else "meta")
    return None


def _listed_by(discovered: Discovered) -> str:
    """The provenance of a value taken from what discovery said of the URL: `feed` (feeds
    and sitemaps, as before), `news_sitemap`, or `section` (a section page's teaser)."""
    return discovered.found_by if discovered.found_by in ("news_sitemap", "section") else "feed"


def _outranks(discovered: Discovered, method: str | None) -> bool:
    """Whether what discovery said beats what the page gave (found by `method`): always when
    the page gave nothing; a news sitemap's title and date, the publisher's own statements,
    also beat the guesses that the `<title>` tag and a date in the URL path are."""
    if method is None:
        return True
    return discovered.found_by == "news_sitemap" and method in ("title_tag", "url")


def _listed_date(
    discovered: Discovered, value: datetime | None, fetched_at: datetime, local: tzinfo | None
) -> metadata.DatedValue | None:
    dated = metadata.feed_date(value, fetched_at, local)
    if dated is None or dated.source == _listed_by(discovered):
        return dated
    return metadata.DatedValue(dated.value, _listed_by(discovered))


def linked_headlines(root: lxml_html.HtmlElement) -> int:
    """Headings that are links to other pages: the teasers of a section front or list."""
    count = 0
    for heading in root.iter("h2", "h3", "h4"):
        text = _norm(heading.text_content())
        if len(text.split()) < 3:
            continue
        in_link = any(a.tag == "a" for _, a in zip(range(3), heading.iterancestors(), strict=False))
        if in_link or " ".join(_norm(a.text_content()) for a in heading.iter("a")) == text:
            count += 1
    return count


def page_kind(
    root: lxml_html.HtmlElement,
    body_words: int,
    title: str | None,
    meta: dict[str, str],
    objects: list[dict[str, Any]],
    article_ld: dict[str, Any] | None,
) -> str:
    """`article`, or why the page is not one."""
    h1 = root.find(".//h1")
    heading = " ".join(filter(None, [title, h1.text_content() if h1 is not None else None]))
    if body_words < 150 and heading and _ERROR_TITLE.search(heading):
        return "error_page"
    body_el = root.find("body")
    if body_words < 30:
        page_words = word_count(body_el.text_content()) if body_el is not None else 0
        noscript = " ".join(n.text_content() for n in root.iter("noscript"))
        scripts = sum(1 for _ in root.iter("script"))
        if _JS_NOTICE.search(noscript) or (page_words < 40 and scripts > 0):
            return "javascript_shell"
    kinds = {k for o in objects for k in metadata.types_of(o)}
    og_type = (meta.get("og:type") or "").lower()
    has_player = root.find(".//video") is not None or any(
        re.search(r"youtube|vimeo|dailymotion|jwplayer|brightcove", f.get("src") or "")
        for f in root.iter("iframe")
    )
    if body_words < 80 and (
        og_type.startswith("video") or ("videoobject" in kinds and article_ld is None) or has_player
    ):
        return "video_only"
    if article_ld is None and (kinds & metadata.LISTING_TYPES) and body_words < 300:
        return "index_page"
    article_markup = (
        article_ld is not None or og_type == "article" or "article:published_time" in meta
    )
    if not article_markup:
        teasers = linked_headlines(root)
        if teasers >= 4 or (teasers >= 1 and og_type == "website" and body_words < 150):
            return "index_page"
    if body_words < 30:
        if article_markup and any(s.get("src") or s.text for s in root.iter("script")):
            return "javascript_shell"  # an article whose text only scripts put on the page
        links = sum(1 for _ in root.iter("a"))
        return "index_page" if links >= 10 else "error_page"
    return "article"


def extract_article(
    html: bytes,
    url: str,
    *,
    fetched_at: datetime,
    final_url: str | None = None,
    selectors: Selectors | None = None,
    discovered: Discovered | None = None,
    source_id: str = "",
    raw_record_id: str | None = None,
    encoding: str | None = None,
    timezone: str | None = None,
) -> Article:
    """Extract one page. Pure: the same bytes and arguments give the same Article.

    `encoding` is the fetcher's charset for the bytes, used when they are not UTF-8.
    `timezone` is the publisher's IANA zone ("Europe/Berlin"): dates the page writes without
    an offset are its local time (without it, the page's own hints, else UTC).
    Raises `ExtractionError` when the bytes hold no HTML document at all.
    """
    base = final_url or url
    root = parse_html(html, encoding)
    selection = Selection.of(root, selectors)
    _drop(selection)
    objects = metadata.jsonld_objects(root)
    article_ld = metadata.main_jsonld(objects)
    meta = metadata.meta_map(root)
    provenance: list[tuple[str, str]] = []

    site_name = metadata.site_name(objects, article_ld, meta)
    publisher = metadata.text_of(article_ld.get("publisher")) if article_ld else None
    orgs = {n for n in (site_name, publisher, metadata.domain_label(base)) if n}
    title, title_method = _title(
        root, selection, article_ld, meta, orgs | metadata.site_names(base, article_ld, meta)
    )
    if discovered is not None and discovered.title and _outranks(discovered, title_method):
        title, title_method = discovered.title, _listed_by(discovered)
    if title_method:
        provenance.append(("title", title_method))

    highlights = _highlights(root)
    jsonld_body = article_ld.get("articleBody") if article_ld else None
    paragraphs, body_method = body_paragraphs(
        root, url, selection, jsonld_body if isinstance(jsonld_body, str) else None
    )
    paragraphs = filter_paragraphs(
        paragraphs,
        link_only_texts(root, {_norm(p.lstrip("-•* ")) for p in paragraphs}),
        _headlines(root, title, meta),
        {_norm(h) for h in highlights},
    )
    body = "\n\n".join(paragraphs)
    provenance.append(("body", body_method))

    people = _people_from_selector(selection, orgs)
    people_method = "selector" if people else None
    organisations: tuple[str, ...] = ()
    if not people:
        credited = metadata.credits(root, article_ld, meta, orgs)
        people, organisations, people_method = (
            credited.people,
            credited.organisations,
            credited.method,
        )
    if not people and (signed := metadata.signature(root, paragraphs, orgs)) is not None:
        # The outlet crediting itself gives way to the person who signed (`sort_credits`).
        people, organisations = metadata.sort_credits(
            [signed, *organisations], orgs, typed_organisations=frozenset(organisations)
        )
        people_method = "signature"
        body = "\n\n".join(paragraphs[:-1])
    if not people and discovered is not None and discovered.authors:
        people, people_method = metadata.clean_people(list(discovered.authors), orgs), "feed"
    if people and people_method:
        provenance.append(("authors", people_method))
    elif organisations and people_method:
        provenance.append(("credited_organisations", people_method))

    local = zone(timezone) if timezone else None
    # The zone of times the page writes without an offset: the source's, else the page's own.
    page_local = local or metadata.page_zone(root, article_ld, meta)
    published = _published_from_selector(selection, fetched_at) or metadata.published_date(
        root, article_ld, meta, base, fetched_at, page_local
    )
    if discovered is not None and _outranks(discovered, published.source if published else None):
        listed = _listed_date(discovered, discovered.published_at, fetched_at, local)
        published = listed or published
    modified = metadata.modified_date(
        article_ld,
        meta,
        fetched_at,
        page_local or metadata.locale_zone(root, meta),
    )
    if modified is None and discovered is not None:
        modified = _listed_date(discovered, discovered.modified_at, fetched_at, local)
    if published is not None:
        provenance.append(("published_at", published.source))
    if modified is not None:
        provenance.append(("modified_at", modified.source))

    descriptions = [
        d
        for d in (
            meta.get("description"),
            meta.get("og:description"),
            metadata.text_of(article_ld.get("description")) if article_ld else None,
        )
        if d and d.strip()
    ]
    shown = standfirst(root, descriptions)
    lead = shown or metadata.first_text(*descriptions)
    if lead:
        provenance.append(("lead", "page" if shown else "meta"))
    html_el = root if root.tag == "html" else root.find(".//html")
    language = detect_language(
        body or lead or "",
        html_el.get("lang") if html_el is not None else None,
        meta.get("content-language"),
        meta.get("og:locale"),
        metadata.text_of(article_ld.get("inLanguage")) if article_ld else None,
        discovered.language if discovered is not None else None,  # news:language
    )
    kind = page_kind(root, word_count(body), title, meta, objects, article_ld)
    canonical = canonical_url(root, meta, base)

    return Article(
        source_id=source_id or (discovered.source_id if discovered else ""),
        url=url,
        final_url=base,
        canonical_url=canonical,
        title=title,
        body=body,
        fetched_at=fetched_at,
        authors=people,
        credited_organisations=organisations,
        published_at=published.value if published else None,
        published_source=published.source if published else None,
        modified_at=modified.value if modified else None,
        modified_source=modified.source if modified else None,
        lead=lead,
        highlights=highlights,
        section=metadata.section(article_ld, meta),
        keywords=discovered.keywords if discovered is not None else (),
        language=language,
        site_name=site_name or (discovered.publication if discovered is not None else None),
        image_url=metadata.image_url(article_ld, meta, base),
        credit_lines=(),
        paywalled=metadata.is_paywalled(root, article_ld, meta),
        page_kind=kind,
        provenance=tuple(provenance),
        raw_record_id=raw_record_id,
        keyword_entries=keywords.publisher_keywords(root, article_ld, discovered),
    )
