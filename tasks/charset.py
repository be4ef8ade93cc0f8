"""Charsets of fetched HTML and XML bodies: one order of evidence, one table of labels.

Both the fetcher (`detect_encoding`: which codec to store with a body) and extraction
(`decode_html`: the text of a page) ask `choose_encoding`, which weighs, in order:

1. a byte-order mark;
2. valid UTF-8 (valid multi-byte UTF-8 is practically never legacy text, so a wrong header
   such as ISO-8859-1 cannot turn it into mojibake), unless a quarter of the bytes are NUL,
   as in UTF-16 without a byte-order mark;
3. the transport's charset: the Content-Type header, or for extraction the charset the
   fetcher found;
4. the document's own `<meta charset>` (or `http-equiv`) or XML declaration;
5. charset-normalizer's guess; and UTF-8 when nothing else fits.

A declared label (3, 4) is used only when the body really decodes in it; a UTF-16/32 label
only when that many bytes are NUL (markup in UTF-16 is; a page whose `<meta>` can be read
as ASCII is not UTF-16). Labels are widened the way browsers read them (WHATWG
Encoding): latin-1 and ASCII are windows-1252, Shift_JIS is cp932, GB2312/GBK are GB18030,
EUC-KR is cp949, and so on. Pure: bytes in, a codec name or text out; never raises for
anything a server can send.
"""

from __future__ import annotations

import codecs
import email.message
import logging
import re

import charset_normalizer

logger = logging.getLogger(__name__)

SNIFF_BYTES = 4096  # where a <meta charset> or XML declaration is looked for
DETECT_BYTES = 200_000  # what charset detection reads

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels Python does not know, as WHATWG names them.
_LABELS = {
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "csshiftjis": "cp932",
    "x-gbk": "gb18030",
    "csgb2312": "gb18030",
    "windows-874": "cp874",
    "x-euc-jp": "euc_jp",
    "cseuckr": "cp949",
    "iso-8859-8-i": "iso8859_8",
    "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "unicode-1-1-utf-8": "utf_8",
}
# Python codecs that browsers replace with a wider encoding of the same family.
_WIDER = {
    "iso8859_1": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "iso8859_9": "cp1254",
    "tis_620": "cp874",
    "iso8859_11": "cp874",
    "big5": "big5hkscs",
}
_UNICODE_WIDE = ("utf_16", "utf_32")


def codec_for(label: str | bytes | None) -> str | None:
    """The Python codec (widened, WHATWG-style) for a charset label; None when the label is
    unknown or names something that is not a text encoding."""
    if not label:
        return None
    text = label.decode("ascii", "ignore") if isinstance(label, bytes) else label
    text = text.strip().strip("\"'").strip().lower()
    text = _LABELS.get(text, text)
    try:
        name = codecs.lookup(text).name.replace("-", "_")
        "<".encode(name)  # LookupError for base64, rot13 and other non-text codecs
    except (LookupError, UnicodeError, ValueError):
        return None
    return _WIDER.get(name, name)


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type value, as written; None when there is none."""
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


def choose_encoding(body: bytes, transport: str | None = None) -> str:
    """The codec to decode `body` with (see the module docstring for the order).

    `transport` is the charset label the body came with (Content-Type, or the fetcher's
    choice). The result decodes `body` without errors, except the last fallback, UTF-8:
    decode with ``errors="replace"``.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    head = body[:SNIFF_BYTES]
    wide = head.count(b"\x00") * 4 > len(head)
    if not wide and _decodes(body, "utf-8"):
        return "utf-8"
    meta = _META_CHARSET.search(head)
    xml = _XML_ENCODING.search(head)
    for label in (transport, meta.group(1) if meta else None, xml.group(1) if xml else None):
        codec = codec_for(label)
        if codec is None or codec == "utf_8":
            continue
        if codec.startswith(_UNICODE_WIDE) and not wide:
            continue
        if _decodes(body, codec):
            return codec
        logger.debug("Body does not decode as its declared %s", codec)
    best = charset_normalizer.from_bytes(body[:DETECT_BYTES]).best()
    if best is not None and best.encoding and _decodes(body, best.encoding):
        return str(best.encoding)
    return "utf-8"


def detect_encoding(body: bytes, content_type: str | None = None) -> str:
    """The codec for a fetched body, given its Content-Type header (for the fetcher)."""
    return choose_encoding(body, header_charset(content_type))


def decode_html(raw: bytes, encoding: str | None = None) -> str:
    """The text of page bytes; `encoding` is the charset the fetcher found, if any.

    A byte-order mark is not part of the text.
    """
    return raw.decode(choose_encoding(raw, encoding), errors="replace")


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
