"""Charsets: the fetcher's `detect_encoding` and extraction's `decode_html` agree, case by case.

Each case is page bytes, the Content-Type the server sent, and the text a reader must see.
The fetcher picks a codec from the bytes and the header; extraction decodes the bytes given
the header's charset (as `newsflow extract` of a saved page might), or given what the fetcher
picked (as the flow does). All three must give the expected text, without mojibake.
"""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.charset import codec_for, decode_html, detect_encoding, header_charset

JAPANESE = "港町の朝市、三年ぶりに再開 ①番出口"  # ① is in Windows-31J (cp932), not in Shift_JIS
WESTERN = "“Quoted” café – 5€ naïve"  # “ ” – € are in windows-1252, not in ISO-8859-1
UNICODE = "Ünïcödé – “quotes” and 日本"


def html(text: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body><p>{text}</p></body>"


SJIS_META = '<meta charset="Shift_JIS">'
CP1252_META = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'

CASES = {
    "utf8-without-header-charset": (html(UNICODE).encode(), "text/html", html(UNICODE)),
    "utf8-without-any-header": (html(UNICODE).encode(), None, html(UNICODE)),
    "shift-jis-by-meta": (
        html(JAPANESE, SJIS_META).encode("cp932"),
        "text/html",
        html(JAPANESE, SJIS_META),
    ),
    "windows-1252-by-meta": (
        html(WESTERN, CP1252_META).encode("cp1252"),
        "text/html",
        html(WESTERN, CP1252_META),
    ),
    "utf8-bom-beats-a-legacy-meta": (
        codecs.BOM_UTF8 + html(UNICODE, CP1252_META).encode(),
        "text/html",
        html(UNICODE, CP1252_META),
    ),
    "utf16-bom": (html(UNICODE).encode("utf-16"), "text/html", html(UNICODE)),
    "utf16-be-bom": (
        codecs.BOM_UTF16_BE + html(UNICODE).encode("utf-16-be"),
        "text/html",
        html(UNICODE),
    ),
    "wrong-latin1-header-on-utf8": (
        html(UNICODE).encode(),
        "text/html; charset=ISO-8859-1",
        html(UNICODE),
    ),
    "wrong-utf8-header-on-windows-1252": (
        html(WESTERN, CP1252_META).encode("cp1252"),
        "text/html; charset=utf-8",
        html(WESTERN, CP1252_META),
    ),
    "latin1-header-read-as-windows-1252": (
        html(WESTERN).encode("cp1252"),
        "text/html; charset=iso-8859-1",
        html(WESTERN),
    ),
    "latin1-meta-read-as-windows-1252": (
        html(WESTERN, '<meta charset="latin1">').encode("cp1252"),
        "text/html",
        html(WESTERN, '<meta charset="latin1">'),
    ),
    "header-charset-without-meta": (
        html("Größe – naïve").encode("cp1252"),
        "text/html; charset=windows-1252",
        html("Größe – naïve"),
    ),
}


@pytest.mark.parametrize(("body", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_fetcher_codec_decodes_without_mojibake(
    body: bytes, content_type: str | None, expected: str
) -> None:
    assert body.decode(detect_encoding(body, content_type)) == expected


@pytest.mark.parametrize(("body", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_extraction_decodes_with_the_header_charset_without_mojibake(
    body: bytes, content_type: str | None, expected: str
) -> None:
    assert decode_html(body, header_charset(content_type)) == expected


@pytest.mark.parametrize(("body", "content_type", "expected"), CASES.values(), ids=CASES.keys())
def test_extraction_decodes_with_the_fetcher_codec_without_mojibake(
    body: bytes, content_type: str | None, expected: str
) -> None:
    assert decode_html(body, detect_encoding(body, content_type)) == expected


def test_extraction_decodes_without_any_hint_by_meta() -> None:
    body, _, expected = CASES["shift-jis-by-meta"]
    assert decode_html(body) == expected
    body, _, expected = CASES["windows-1252-by-meta"]
    assert decode_html(body) == expected


@pytest.mark.parametrize("text", [UNICODE, "plain ASCII, which is also valid UTF-8 with NULs"])
def test_utf16_without_bom_is_read_when_the_header_says_so(text: str) -> None:
    body = html(text).encode("utf-16-le")
    assert body.decode(detect_encoding(body, "text/html; charset=utf-16le")) == html(text)
    assert decode_html(body, "utf-16le") == html(text)


def test_a_utf16_label_on_bytes_without_nul_is_not_believed() -> None:
    body = html(WESTERN, CP1252_META).encode("cp1252")
    assert body.decode(detect_encoding(body, "text/html; charset=utf-16")) == html(
        WESTERN, CP1252_META
    )
    assert decode_html(body, "utf-16") == html(WESTERN, CP1252_META)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("ISO-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("windows-1252", "cp1252"),
        ("Shift_JIS", "cp932"),
        ("sjis", "cp932"),
        ("x-sjis", "cp932"),
        ("windows-31j", "cp932"),
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("euc-kr", "cp949"),
        ("ks_c_5601-1987", "cp949"),
        ("iso-8859-9", "cp1254"),
        ("tis-620", "cp874"),
        ("windows-874", "cp874"),
        ("big5", "big5hkscs"),
        ("euc-jp", "euc_jp"),
        ("koi8-r", "koi8_r"),
        (" 'UTF-8' ", "utf_8"),
        ("base64", None),  # a codec, but not a text encoding
        ("rot13", None),
        ("bogus", None),
        ("", None),
        (None, None),
    ],
)
def test_labels_are_widened_as_browsers_read_them(label: str | None, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_widened_codecs_decode_what_the_narrow_ones_cannot() -> None:
    # Each text holds a character only the wider (WHATWG) code page has.
    for label, text, wide in [
        ("gb2312", "镕", "gb18030"),
        ("euc-kr", "똠", "cp949"),
        ("iso-8859-9", "€", "cp1254"),
        ("tis-620", "€", "cp874"),
    ]:
        body = html(text, f'<meta charset="{label}">').encode(wide)
        assert decode_html(body) == html(text, f'<meta charset="{label}">'), label
        assert body.decode(detect_encoding(body, f"text/html; charset={label}")) == html(
            text, f'<meta charset="{label}">'
        ), label


@given(st.binary(max_size=2000), st.sampled_from([None, "utf-8", "utf-16", "bogus", "cp1252"]))
def test_decode_html_never_raises_and_is_deterministic(body: bytes, hint: str | None) -> None:
    assert decode_html(body, hint) == decode_html(body, hint)
