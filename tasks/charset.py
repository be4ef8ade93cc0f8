"""Charset detection for fetched HTML and XML bodies: text without mojibake.

`detect_encoding` picks the codec to decode a body with, from (in order) a byte-order mark,
valid UTF-8, the Content-Type charset, `<meta charset>` or the XML declaration (each used
only when the body really decodes in it) and a statistical guess. Labels are widened the way
browsers read them (WHATWG Encoding): latin-1 is windows-1252, Shift_JIS is cp932, and so on.
Pure: bytes in, a codec name out.
"""

from __future__ import annotations

import codecs
import email.message
import re

import charset_normalizer

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that browsers (WHATWG Encoding) read as a wider encoding than Python's codec of
# the same name: pages labelled latin-1 are in practice windows-1252, and so on.
_WIDER = {
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "iso8859_9": "cp1254",
    "tis_620": "cp874",
}


def _codec(label: str | bytes | None) -> str | None:
    """The Python codec for a charset label, or None when unknown or not a text encoding."""
    if not label:
        return None
    text = label.decode("ascii", "ignore") if isinstance(label, bytes) else label
    text = text.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(text).name
        b"".decode(name)
    except (LookupError, ValueError):
        return None
    name = name.replace("-", "_")
    return _WIDER.get(name, name)


def _header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def detect_encoding(body: bytes, content_type: str | None = None) -> str:
    """The charset to decode an HTML/XML body with, so that the text has no mojibake.

    Order: a byte-order mark; UTF-8 when the bytes are valid UTF-8 (a wrong header charset
    such as ISO-8859-1 cannot turn valid UTF-8 into mojibake); the header charset and then
    the `<meta charset>` or XML declaration, each only if the body decodes in it; then
    charset-normalizer's guess. Decode with ``errors="replace"``: the last fallback is UTF-8.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if _decodes(body, "utf-8"):
        return "utf-8"
    head = body[:4096]
    meta = _META_CHARSET.search(head)
    xml = _XML_ENCODING.search(head)
    for label in (
        _header_charset(content_type),
        meta.group(1) if meta else None,
        xml.group(1) if xml else None,
    ):
        codec = _codec(label)
        if codec and codec != "utf_8" and _decodes(body, codec):
            return codec
    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is not None and best.encoding and _decodes(body, best.encoding):
        return str(best.encoding)
    return "utf-8"
