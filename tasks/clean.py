"""Text cleaning of an extracted Article.

- Unicode NFC, whitespace collapsed inside paragraphs, invisible characters removed; curly
  quotes and other typography are kept.
- Boilerplate lines ("Advertisement", "Share this article", comment counters, "Related: ...";
  "read more" alone, embed placeholders, trial offers and paywall notices in other languages:
  "Weiterlesen", "Link zum YouTube-Inhalt", "Il vous reste 57 % de cet article à lire") are
  dropped, and the body ends where a comment section starts.
- Credit lines ("Additional reporting by Reuters", "Reporting by X; Editing by Y",
  "X contributed reporting") move from the body into `credit_lines`; wire datelines such as
  "MOSCOW (Reuters) -" stay in the text.

Inline "related" headlines that are links are removed by `tasks.extract`, which still has the DOM.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

from tasks.records import Article

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"\s+")

_BOILERPLATE = re.compile(
    r"^(?:\d+\s+)?(?:"
    r"comments?|loading comments\.*|leave a (?:reply|comment)|post a comment|add a comment"
    r"|all comments|related(?: posts?| articles?| stories| coverage| content)?:?"
    r"|you may also like\.*:?|recommended(?: for you)?:?"
    r"|read more:?|see more:?|more:|also:|don'?t miss:?|most (?:read|popular):?|trending(?: now)?:?"
    r"|share(?: this(?: article| story)?)?:?|advertisement|advertising|sponsored(?: content)?|ad"
    r"|article content|story continues below(?: advertisement)?|anzeige|werbung|publicidad"
    r"|publicité|pubblicità"
    r"|join (?:the )?discussion|tell us what you think\.*|want to join the discussion\?"
    r"|feel free to contribute!"
    r"|sign up for our newsletter\.*|subscribe(?: now)?\.*|print|email|facebook|twitter|whatsapp"
    r"|(?:subscribe|sign in|log in|register) to (?:continue|keep) reading(?: this article)?\.*"
    r"|already a subscriber\?.*"
    r"|this (?:article|content) is (?:for|available to) subscribers(?: only)?\.*"
    r"|like this (?:story|article)\?.*"
    r"|this is a breaking news? story\b.{0,60}|more to follow\.?"
    r"|this (?:story|article) (?:is developing|will be updated)\b.{0,60}"
    r"|fehler gefunden\?\s*jetzt melden\.?"
    r"|bitte markieren sie die entsprechenden wörter im text\b.*"
    # "read more" alone, in the languages of the related-link prefixes below
    r"|weiterlesen|lire la suite|leggi (?:anche|tutto)|lees meer|läs mer|les mer|læs mere"
    r"|lue lisää|czytaj (?:więcej|też|także)|čtěte (?:více|také)|leia mais|lee más|ver más"
    # an embed's placeholder, a trial offer, what a paywall hides
    r"|link zu[mr]? [\w-]+-inhalt(?:en)?"
    r"|(?:jetzt )?\d+ (?:tage|wochen|monate) (?:kostenlos|gratis) testen"
    r"|il vous reste \d+(?:[.,]\d+)? ?% de cet article à lire\b.*"
    r")$",
    re.I,
)
_RELATED_PREFIX = re.compile(
    r"^(?:related|read more|read also|see also|see more|also read|more on this|watch|listen"
    r"|lesen sie auch|auch interessant|mehr zum thema|lire aussi|voir aussi|lees ook"
    r"|les også|læs også|läs också|lue myös|czytaj (?:więcej|też|także)|čtěte (?:také|též)"
    r"|leggi anche|lee también|lea también|ver también|leia também)"
    r"\s*[:|»]\s*\S",
    re.I,
)
# Calls to follow or share on social networks; CMS shortcodes such as [button link="..."].
_SOCIAL = re.compile(
    r"^(?:follow|like|share|join|connect with)\b.{0,200}\b(?:facebook|twitter|instagram|youtube"
    r"|linkedin|tiktok|whatsapp|telegram|flipboard|pinterest|google news|bluesky|threads)\b",
    re.I,
)
_SHORTCODE = re.compile(r"^\[[a-z_][\w-]*(?:\s+[\w-]+=[^\]]*)?\]")
_MAX_BOILERPLATE_WORDS = 40
# Lines that only label the page: tag lists, "Filed under", contact lines with an e-mail
# address, a stamp of date and time that is not a sentence. (Lone URLs are often real content.)
_LABEL_LINE = re.compile(
    r"^(?:tags?|tagged(?: with)?|filed under|categor(?:y|ies)|topics|posted in)\s*:|^tags$", re.I
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_CLOCK_OR_NUMERIC_DATE = re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b")
_SENTENCE_END = re.compile(r"[.!?…\"”’)]$")
_MAX_LABEL_WORDS = 15
# A picture's credit left in the text: "Photo: AFP", "Image: eThekwini Municipality / Facebook".
_PICTURE_CREDIT = re.compile(
    r"^(?:photo|image|picture|pic|foto|bild|imagen|immagine|credit)s?(?:\s+credit)?\s*:\s*\S",
    re.I,
)
MAX_PICTURE_CREDIT_WORDS = 8
# A Japanese or Chinese time stamp: "2025年1月14日 01時28分 (1月14日 01時40分更新)".
_CJK_STAMP = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*\d{1,2}\s*[時时:]\s*\d{1,2}")
_CJK_STAMP_CHARS = re.compile(r"[\d\s年月日時时分秒:()（）、,]|更新|公開|配信|発表|发布|修改|最終")
MAX_STAMP_REST = 4  # characters a time stamp line may hold besides the date and its labels
_CLICK_TO_TWEET = re.compile(r"\s*click to tweet$", re.I)
_COMMENTS_START = re.compile(
    r"^(?:\d+\s+)?(?:comments?|leave a (?:reply|comment)|loading comments\.*|all comments"
    r"|post a comment|join (?:the )?discussion|tinggalkan balasan|комментарии|kommentare"
    r"|commentaires|comentários|comentarios)$",
    re.I,
)
# A heading that opens the list of other stories under an article ("Popular", "Most read").
_RECIRCULATION_START = re.compile(
    r"^(?:popular|most (?:popular|read|viewed|shared)|read next|trending now|meistgelesen"
    r"|lo más leído|les plus lus|più letti|mest lest|mest läst|najczęściej czytane)\s*:?$",
    re.I,
)
_CREDIT = re.compile(
    r"^\(?\s*(?:"
    r"(?:additional|with|further|also)\s+reporting\s+by\b"
    r"|reporting\s+by\b|editing\s+by\b|writing\s+by\b|compiled\s+by\b|edited\s+by\b|translated\s+by\b"
    r"|[\w .,'’&-]{2,120}?\s+contributed\s+(?:reporting|to\s+this\s+(?:report|story|article))\b"
    r"|source:\s"
    r")",
    re.I,
)
_MAX_CREDIT_WORDS = 45
_COPYRIGHT = re.compile(r"^[<(\[]?\s*(?:copyright\b|©|ⓒ|\(c\)\s)", re.I)
MAX_COPYRIGHT_WORDS = 12  # longer ones are licence notices the story carries
# Lower-case words a credit line may hold besides names: "Reporting by X in Y; Editing by Z".
_CREDIT_WORDS = frozenset(
    [
        "by",
        "and",
        "with",
        "reporting",
        "editing",
        "writing",
        "additional",
        "further",
        "also",
        "compiled",
        "edited",
        "translated",
        "in",
        "from",
        "of",
        "the",
        "at",
        "for",
        "contributed",
        "to",
        "this",
        "report",
        "story",
        "article",
        "source",
        "sources",
        "staff",
        "writer",
        "writers",
        "correspondent",
        "correspondents",
        "graphics",
        "research",
        "de",
        "da",
        "del",
        "van",
        "von",
    ]
)
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][\w'’-]*")


def normalise_text(text: str) -> str:
    """NFC, invisible characters out, runs of whitespace as one space."""
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    return _SPACES.sub(" ", text).strip()


def is_credit_line(paragraph: str) -> bool:
    """A short "Reporting by ...; Editing by ..." line: names and credit words only; or a
    short copyright line ("© dpa-infocom", "Copyright: Project Syndicate, 2025")."""
    if _COPYRIGHT.match(paragraph) and len(paragraph.split()) <= MAX_COPYRIGHT_WORDS:
        return True
    if not _CREDIT.match(paragraph) or len(paragraph.split()) > _MAX_CREDIT_WORDS:
        return False
    return all(word in _CREDIT_WORDS for word in _LOWER_WORD.findall(paragraph))


def is_boilerplate(paragraph: str) -> bool:
    """A navigation, sharing or "related" line rather than article text."""
    if _BOILERPLATE.match(paragraph) or _RELATED_PREFIX.match(paragraph):
        return True
    if len(paragraph.split()) > _MAX_BOILERPLATE_WORDS:
        return False
    if _SOCIAL.match(paragraph) or _SHORTCODE.match(paragraph) or _LABEL_LINE.match(paragraph):
        return True
    if _PICTURE_CREDIT.match(paragraph) and len(paragraph.split()) <= MAX_PICTURE_CREDIT_WORDS:
        return not _SENTENCE_END.search(paragraph)
    return len(paragraph.split()) <= _MAX_LABEL_WORDS and is_label_line(paragraph)


def is_label_line(paragraph: str) -> bool:
    """A contact line with an e-mail address, or a date-and-time stamp that is not a sentence
    (in Japanese and Chinese: a stamp with little else, "2025年1月14日 01時28分 (... 更新)")."""
    if _EMAIL.search(paragraph):
        return True
    if _CJK_STAMP.search(paragraph) and len(_CJK_STAMP_CHARS.sub("", paragraph)) <= MAX_STAMP_REST:
        return True
    return bool(
        _YEAR.search(paragraph)
        and _CLOCK_OR_NUMERIC_DATE.search(paragraph)
        and not _SENTENCE_END.search(paragraph)
    )


def split_body(body: str) -> tuple[list[str], list[str]]:
    """Body paragraphs and credit lines, boilerplate dropped, cut at a comment section or at a
    "Popular" / "Most read" heading over other stories (after three paragraphs at least)."""
    kept: list[str] = []
    credits: list[str] = []
    for raw in re.split(r"\n\s*\n|\n", body):
        paragraph = _CLICK_TO_TWEET.sub("", normalise_text(raw))
        if not paragraph:
            continue
        if (_COMMENTS_START.match(paragraph) or _RECIRCULATION_START.match(paragraph)) and len(
            kept
        ) >= 3:
            break
        if is_boilerplate(paragraph):
            continue
        if is_credit_line(paragraph):
            credit = paragraph.strip("() ")
            if credit not in credits:
                credits.append(credit)
            continue
        kept.append(paragraph)
    return kept, credits


def _optional(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = normalise_text(text)
    return cleaned or None


def clean_article(article: Article) -> Article:
    """Normalised text, boilerplate out, credit lines moved into `credit_lines`."""
    paragraphs, credits = split_body(article.body)
    credit_lines = list(article.credit_lines)
    for credit in credits:
        if credit not in credit_lines:
            credit_lines.append(credit)
    return dataclasses.replace(
        article,
        title=_optional(article.title),
        body="\n\n".join(paragraphs),
        lead=_optional(article.lead),
        highlights=tuple(h for h in (normalise_text(h) for h in article.highlights) if h),
        section=_optional(article.section),
        site_name=_optional(article.site_name),
        authors=tuple(a for a in (normalise_text(a) for a in article.authors) if a),
        credited_organisations=tuple(
            o for o in (normalise_text(o) for o in article.credited_organisations) if o
        ),
        credit_lines=tuple(credit_lines),
    )
