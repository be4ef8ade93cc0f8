"""URL normalisation, canonicalisation and article ids."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.urls import article_id, canonical_url, normalize_url, resolve_url

ROOT = Path(__file__).resolve().parents[2]


def test_tracking_parameters_and_fragment_are_dropped_and_the_rest_sorted() -> None:
    url = "https://news.example/a?utm_source=x&b=2&fbclid=abc&a=1&gclid=9&mc_cid=z#top"
    assert normalize_url(url) == "https://news.example/a?a=1&b=2"


def test_scheme_and_host_are_lowercased_and_default_port_dropped() -> None:
    assert normalize_url("HTTPS://News.Example:443/Path") == "https://news.example/Path"
    assert normalize_url("http://news.example:80") == "http://news.example/"
    assert normalize_url("http://news.example:8080/x") == "http://news.example:8080/x"


def test_internationalised_host_is_idna_encoded() -> None:
    assert normalize_url("https://bücher.example/x") == "https://xn--bcher-kva.example/x"


def test_percent_encoding_is_normalised_without_changing_meaning() -> None:
    url = "https://news.example/%7euser/caf%c3%a9 menu/a%2Fb"
    assert normalize_url(url) == "https://news.example/~user/caf%C3%A9%20menu/a%2Fb"


def test_dot_segments_are_removed() -> None:
    assert normalize_url("https://news.example/a/./b/../c") == "https://news.example/a/c"


@pytest.mark.parametrize(
    ("path", "expected"),
    [  # RFC 3986 section 5.2.4
        ("/a/b/c/./../../g", "/a/g"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/..", "/"),
        ("/.", "/"),
        ("/a/../..", "/"),
    ],
)
def test_a_path_ending_in_a_dot_segment_names_its_directory(path: str, expected: str) -> None:
    assert normalize_url("https://news.example" + path) == "https://news.example" + expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/50%off", "/50%25off"), ("/a%4", "/a%254"), ("/a%", "/a%25"), ("/a%zz", "/a%25zz")],
)
def test_a_percent_sign_that_starts_no_escape_is_itself_escaped(path: str, expected: str) -> None:
    assert normalize_url("https://n.example" + path) == "https://n.example" + expected
    assert normalize_url("https://n.example/s?q" + path) == "https://n.example/s?q" + expected


def test_a_lone_surrogate_is_percent_encoded_like_any_other_character() -> None:
    # A str decoded with surrogateescape carries undecodable bytes as lone surrogates.
    assert normalize_url("https://n.example/a\udcff") == "https://n.example/a%ED%B3%BF"


def test_empty_parameters_are_dropped_and_a_valueless_one_is_kept_as_a_flag() -> None:
    got = normalize_url("https://n.example/s?x=1&&id&b=&=&")
    assert got == "https://n.example/s?b&id&x=1"


def test_ipv6_hosts_are_spelled_compressed_without_a_zone() -> None:
    assert normalize_url("http://[0:0:0:0:0:0:0:1]:8080/x") == "http://[::1]:8080/x"
    assert normalize_url("http://[FE80::A]/") == "http://[fe80::a]/"
    # A zone names a network interface of one machine, not part of the address.
    assert normalize_url("http://[fe80::1%25eth0]/x") == "http://[fe80::1]/x"


def test_a_bracketed_host_that_is_not_an_ipv6_address_is_refused() -> None:
    # An IPvFuture literal, not the DNS name v1.news.example: nothing here can fetch it.
    with pytest.raises(ValueError, match="IPv6"):
        normalize_url("http://[v1.news.example]/a")


def test_the_trailing_dot_of_a_fully_qualified_host_is_dropped() -> None:
    assert normalize_url("https://News.Example./a") == "https://news.example/a"


def test_a_host_of_253_characters_is_valid_and_a_longer_one_is_not() -> None:
    labels = ["a" * 63, "b" * 63, "c" * 63]
    longest = ".".join([*labels, "d" * 61])
    assert len(longest) == 253
    assert normalize_url(f"https://{longest}/") == f"https://{longest}/"
    with pytest.raises(ValueError, match="bad host"):
        normalize_url(f"https://{longest}d/")


def test_query_plus_and_escaped_separators_keep_their_meaning() -> None:
    assert normalize_url("https://n.example/s?q=a+b&x=%3d") == "https://n.example/s?q=a+b&x=%3D"


@pytest.mark.parametrize(
    "bad",
    ["ftp://news.example/a", "file:///etc/passwd", "/relative/path", "https://", "http://a:99999/"],
)
def test_non_http_or_malformed_urls_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalize_url(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://news.example/a",
        "https:///a",
        "https://news..example/a",
        "https://news.example../a",
        "https://-news.example/a",
        "https://new$.example/a",
        "https://bü..example/a",
        "http://[1:2:3]/a",
        "http://news.example:99999/a",
        "http://news.example:8o/a",
        "http://[v1.news.example]/a",
        "http://user[v1.x]@news.example/a",
    ],
)
def test_a_refused_url_is_named_in_its_error(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        normalize_url(bad)


@settings(max_examples=500)
@given(st.text())
def test_normalisation_of_arbitrary_text_is_idempotent_or_a_value_error(text: str) -> None:
    try:
        once = normalize_url(text)
    except ValueError:
        return
    assert normalize_url(once) == once


_piece = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
# Any text, lone surrogates (Cs) often in it. (st.text drops them from a one_of alphabet.)
_any_char = st.one_of(st.characters(), st.characters(categories=["Cs"]))
_any_text = st.lists(_any_char).map("".join)
_any_piece = st.lists(_any_char, max_size=12).map("".join)


@settings(max_examples=500)
@given(
    scheme=st.sampled_from(["http", "HTTPS", "https"]),
    host=st.sampled_from(["news.example", "WWW.News.Example", "bücher.example", "[::1]"]),
    port=st.sampled_from(["", ":80", ":443", ":8080"]),
    path=st.lists(_any_piece, max_size=4),
    query=st.lists(st.tuples(_any_piece, _any_piece), max_size=4),
    fragment=_any_piece,
)
def test_normalisation_of_generated_urls_never_raises_and_is_idempotent(
    scheme: str,
    host: str,
    port: str,
    path: list[str],
    query: list[tuple[str, str]],
    fragment: str,
) -> None:
    # The scheme, host and port are valid: whatever follows them, the URL has a normal spelling.
    url = f"{scheme}://{host}{port}/{'/'.join(path)}?{'&'.join(f'{k}={v}' for k, v in query)}"
    url += f"#{fragment}"
    once = normalize_url(url)
    assert once.isascii()
    assert normalize_url(once) == once
    assert "#" not in once
    assert canonical_url(canonical_url(url)) == canonical_url(url)


@settings(max_examples=300)
@given(declared=st.one_of(st.none(), st.text(), st.text().map(lambda t: "/story/" + t)))
def test_any_declared_canonical_gives_a_normalised_url_without_raising(
    declared: str | None,
) -> None:
    got = canonical_url("https://www.news.example/a/1?utm_source=x", declared=declared)
    assert normalize_url(got) == got
    assert got.startswith("https://")


def test_declared_canonical_on_another_server_of_the_same_host_is_ignored() -> None:
    assert canonical_url("http://127.0.0.1:8001/a/1", declared="http://127.0.0.1:8002/a/1") == (
        "http://127.0.0.1:8001/a/1"
    )
    assert canonical_url("http://127.0.0.1:8001/a/1", declared="http://127.0.0.1:8001/b/1") == (
        "http://127.0.0.1:8001/b/1"
    )


@pytest.mark.parametrize("prefix", ["www.", "m.", "amp.", "mobile."])
def test_declared_canonical_on_another_host_of_the_same_site_is_used(prefix: str) -> None:
    got = canonical_url(f"https://{prefix}news.example/s/1", declared="https://news.example/w/s-1")
    assert got == "https://news.example/w/s-1"
    got = canonical_url("https://news.example/s/1", declared=f"https://{prefix}news.example/w/1")
    assert got == f"https://{prefix.replace('amp.', '')}news.example/w/1"


def test_declared_canonical_on_another_subdomain_is_ignored() -> None:
    got = canonical_url("https://news.example.org/a/1", declared="https://blog.example.org/a/1")
    assert got == "https://news.example.org/a/1"


def test_declared_home_page_with_a_query_names_the_article() -> None:
    # WordPress without pretty links: every article is the home page with ?p=<id>.
    got = canonical_url("https://news.example/2026/05/slug/", declared="/?p=123")
    assert got == "https://news.example/?p=123"


def test_declared_canonical_of_an_amp_cache_page_is_used() -> None:
    page = "https://news-example.cdn.ampproject.org/c/s/news.example/amp/123"
    got = canonical_url(page, declared="https://news.example/world/story-1/")
    assert got == "https://news.example/world/story-1/"


def test_declared_canonical_on_the_same_site_is_used() -> None:
    got = canonical_url("https://m.news.example/s/1?ref=feed", declared="/world/story-1")
    assert got == "https://m.news.example/world/story-1"
    got = canonical_url("https://news.example/s/1", declared="https://www.news.example/w/s-1")
    assert got == "https://www.news.example/w/s-1"


@pytest.mark.parametrize(
    "declared",
    [
        "https://other.example/world/story-1",
        "https://news.example:8443/world/story-1",
        "https://news.example/",
        "javascript:alert(1)",
        "  ",
    ],
)
def test_declared_canonical_off_site_home_page_or_junk_is_ignored(declared: str) -> None:
    assert canonical_url("https://news.example/world/story-1", declared=declared) == (
        "https://news.example/world/story-1"
    )


@pytest.mark.parametrize(
    "variant",
    [
        "https://news.example/world/story-1/amp/",
        "https://news.example/amp/world/story-1/",
        "https://news.example/world/story-1/?amp=1",
        "https://news.example/world/story-1/?outputType=amp",
        "https://amp.news.example/world/story-1/",
        "https://news-example.cdn.ampproject.org/c/s/news.example/world/story-1/",
        "https://news-example.cdn.ampproject.org/v/s/news.example/world/story-1/",
        "https://news-example.cdn.ampproject.org/wp/s/news.example/world/story-1/",
        "https://news.example/world/story-1/print/",
        "https://news.example/print/world/story-1/",
        "https://news.example/world/story-1/?print=1",
        "https://news.example/world/story-1/?output=print&utm_medium=email",
    ],
)
def test_amp_and_print_variants_map_to_the_article(variant: str) -> None:
    assert canonical_url(variant) == "https://news.example/world/story-1/"


@pytest.mark.parametrize(
    ("variant", "article"),
    [
        ("/2026/story.amp.html", "/2026/story.html"),
        ("/story.amp.html", "/story.html"),
        ("/world/2026/story.AMP.html", "/world/2026/story.html"),
        ("/story-1.amp", "/story-1"),
        ("/world/2026/story-1.amp", "/world/2026/story-1"),
        ("/world/story-1.AMP", "/world/story-1"),
    ],
)
def test_amp_suffix_maps_to_the_article_page(variant: str, article: str) -> None:
    assert canonical_url("https://news.example" + variant) == "https://news.example" + article


def test_parameters_that_name_the_article_are_kept() -> None:
    assert canonical_url("https://news.example/story?id=42&amp=1&print=yes") == (
        "https://news.example/story?id=42"
    )
    # A variant switch with a value that selects no AMP or print view is part of the address.
    assert canonical_url("https://news.example/watch?v=7&format=video&output=amp") == (
        "https://news.example/watch?format=video&v=7"
    )


@pytest.mark.parametrize(
    ("cached", "article"),
    [
        ("/c/news.example/story-1", "http://news.example/story-1"),
        ("/c/s/news.example", "https://news.example/"),
        ("/c/s/news.example/story?id=42&amp=1", "https://news.example/story?id=42"),
    ],
)
def test_an_amp_cache_url_maps_to_the_publisher_url(cached: str, article: str) -> None:
    assert canonical_url("https://news-example.cdn.ampproject.org" + cached) == article


@pytest.mark.parametrize(
    "cached",
    ["/i/s/news.example/logo.png", "/c/s//story-1", "/c/s/", "/c/news.example", "/"],
)
def test_an_amp_cache_url_that_names_no_page_is_left_alone(cached: str) -> None:
    url = "https://news-example.cdn.ampproject.org" + cached
    assert canonical_url(url) == url


def test_same_canonical_url_gives_same_article_id_and_different_ones_differ() -> None:
    a = article_id(canonical_url("https://news.example/world/story-1/?utm_source=rss"))
    b = article_id(canonical_url("https://NEWS.example/world/story-1/amp/#comments"))
    c = article_id(canonical_url("https://news.example/world/story-2/"))
    assert a == b
    assert a != c
    assert len(a) == 32
    assert int(a, 16) >= 0


@settings(max_examples=200)
@given(_any_text)
def test_article_id_of_any_text_is_32_hex_digits(text: str) -> None:
    # A page without an http(s) URL keeps its URL, whatever it holds, as its canonical one.
    got = article_id(text)
    assert len(got) == 32
    assert int(got, 16) >= 0


def test_article_id_is_the_same_in_another_process() -> None:
    url = "https://news.example/world/story-1/"
    code = f"from tasks.urls import article_id; print(article_id({url!r}))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == article_id(url)


# ------------------------------------------------------------------ resolve_url (discovery)


def test_resolve_url_spells_a_link_once_and_keeps_its_query_as_written() -> None:
    got = resolve_url("HTTP://Example.COM:80/a b/./c?z=1&utm_source=feed&a=#top")
    assert got == "http://example.com/a%20b/c?z=1&utm_source=feed&a="
    assert resolve_url("https://bücher.de") == "https://xn--bcher-kva.de/"


def test_resolve_url_makes_relative_links_absolute_against_the_base() -> None:
    assert resolve_url("../c?b=2&a=1", "http://ex.org/a/b/") == "http://ex.org/a/c?b=2&a=1"
    assert resolve_url("//cdn.ex.org/x", "https://ex.org/a") == "https://cdn.ex.org/x"
    assert resolve_url("#frag", "https://ex.org/a?q=1") == "https://ex.org/a?q=1"


@pytest.mark.parametrize(
    "raw", ["mailto:someone@ex.org", "file:///etc/passwd", "gopher://ex.org/", "/relative"]
)
def test_resolve_url_refuses_what_is_not_an_absolute_http_url(raw: str) -> None:
    with pytest.raises(ValueError, match="http"):
        resolve_url(raw)


def test_resolve_url_names_the_link_as_written_in_its_error() -> None:
    for raw in ("mailto:someone@ex.org", "//bad..host/a"):
        with pytest.raises(ValueError, match=re.escape(repr(raw))):
            resolve_url(raw, "https://news.example/section/")


@settings(max_examples=300)
@given(st.text(max_size=100))
def test_resolve_url_of_arbitrary_text_is_idempotent_or_a_value_error(text: str) -> None:
    try:
        once = resolve_url(text, "https://news.example/section/")
    except ValueError:
        return
    assert resolve_url(once) == once
    assert resolve_url(once, "https://elsewhere.example/") == once


@settings(max_examples=300)
@given(
    scheme=st.sampled_from(["http", "HTTPS", "hTTp"]),
    host=st.sampled_from(["Example.COM", "ex.org.", "[::1]", "1.2.3.4", "bücher.de", "a-b.c"]),
    port=st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
    path=_piece,
    query=st.lists(st.tuples(_piece, _piece), max_size=4),
    fragment=_piece,
)
def test_resolve_url_agrees_with_normalize_url_up_to_the_query(
    scheme: str, host: str, port: str, path: str, query: list[tuple[str, str]], fragment: str
) -> None:
    url = f"{scheme}://{host}{port}/{path}?{'&'.join(f'{k}={v}' for k, v in query)}#{fragment}"
    try:
        once = resolve_url(url)
    except ValueError:
        with pytest.raises(ValueError, match=r"."):
            normalize_url(url)
        return
    assert resolve_url(once) == once
    assert "#" not in once
    assert normalize_url(once) == normalize_url(url)
