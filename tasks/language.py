"""The language of an article as an ISO 639-1 code.

Declared languages (`<html lang>`, `og:locale`, `Content-Language`) are trusted when the text
does not clearly contradict them; otherwise a small stop-word vote over the body decides.
"""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"\w+")
_CODE = re.compile(r"^([a-zA-Z]{2})(?:$|[-_])")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Very frequent function words, chosen to be distinctive between the languages listed.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and of to is that for with was on are said by this from have his has"),
    "de": _words("der die und das ist nicht mit den sich auf für ein eine dem des auch wird"),
    "fr": _words("le la les et des est une que dans pour pas sur qui du au avec sont il"),
    "es": _words("el la los las que del por una con para es se lo como más pero fue"),
    "it": _words("il di che la per una sono non gli della con nel anche alla come è"),
    "pt": _words("o a os que de do da em para com não uma dos das se foi mais ao"),
    "nl": _words("de het een van en is dat niet op te met voor zijn er ook aan"),
    "ru": _words("и в не на что с по это как он к из но за от для"),
    "id": _words("yang dan di dengan untuk dari ini itu tidak dalam akan pada juga ke"),
    "pl": _words("i w nie na się z że do to jest jak o po od za"),
}


def declared_language(*values: str | None) -> str | None:
    """The first well-formed language code among declared values ("en-GB" -> "en")."""
    for value in values:
        if value:
            match = _CODE.match(value.strip())
            if match:
                return match[1].lower()
    return None


def guess_language(text: str) -> str | None:
    """A stop-word vote over the first words of `text`; None when too little text to tell."""
    words = _WORD.findall(text[:3000].lower())
    if len(words) < 20:
        if re.search(r"[\u3040-\u30ff]", text):
            return "ja"
        return None
    if re.search(r"[\u3040-\u30ff]", text[:2000]):
        return "ja"
    if len(re.findall(r"[\uac00-\ud7a3]", text[:2000])) > 20:
        return "ko"
    if len(re.findall(r"[\u4e00-\u9fff]", text[:2000])) > 50:
        return "zh"
    counts: Counter[str] = Counter()
    for word in words:
        for code, stop in STOPWORDS.items():
            if word in stop:
                counts[code] += 1
    if not counts:
        return None
    (best, hits), *rest = [*counts.most_common(2), ("", 0)]
    if hits < 3 or hits < 1.3 * rest[0][1]:
        return None
    return best


def detect_language(text: str, *declared: str | None) -> str | None:
    """Declared code unless the text clearly says otherwise; the guess when nothing is declared."""
    stated = declared_language(*declared)
    guessed = guess_language(text)
    if stated and (guessed is None or guessed == stated):
        return stated
    return guessed or stated
