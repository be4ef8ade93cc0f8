"""Discovery from feeds, sitemaps and lists against real servers (RELIABILITY.md 11, 15, 16, 19)."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import LoopbackServer, Reply, Request, gzipped, loopback_fetcher, robots

from tasks.discover import (
    Discovery,
    DocumentError,
    discover,
    parse_date,
    parse_document,
)
from tasks.fetch import HttpFetcher, fetch_batch
from tasks.records import Source

XML = "application/xml"


def now() -> datetime:
    return datetime.now(UTC)


def fetcher_for(*servers: LoopbackServer, **changes: Any) -> HttpFetcher:
    policy: dict[str, Any] = {"deadline_s": 2.0, "max_retries": 1, **changes}
    fetcher: HttpFetcher = loopback_fetcher(*servers, seed=3, **policy)
    return fetcher


def rss(*links: str, extra: str = "") -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>{link}</link>"
        f"<pubDate>Tue, 10 Mar 2026 08:0{i % 10}:00 +0100</pubDate>"
        f"<dc:creator>Reporter {i}</dc:creator></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Feed</title>{extra}{items}</channel></rss>"
    ).encode()


def run(source: Source, fetcher: HttpFetcher, **validators: Any) -> Discovery:
    return discover(source, fetcher, validators=validators.get("validators", {}), now=now)


# ---------------------------------------------------------------- kinds


def test_rss_items_become_discovered_urls_with_their_metadata() -> None:
    feed = rss("/news/1", "https://example.com/news/2#comments", "/news/1")
    with LoopbackServer({"/feed.xml": Reply(body=feed, content_type=XML)}) as srv:
        source = Source(id="s", kind="feed", location=srv.url("/feed.xml"))
        found = run(source, fetcher_for(srv))
    urls = [d.url for d in found.discovered]
    assert urls == [srv.url("/news/1"), "https://example.com/news/2"]
    first = found.discovered[0]
    assert first.title == "Story 0"
    assert first.authors == ("Reporter 0",)
    assert first.published_at == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    assert first.found_in == srv.url("/feed.xml")
    assert [e.purpose for e in found.log] == ["robots", "feed"]
    assert found.log[-1].reason == "ok"


def test_discovered_urls_keep_their_query_as_the_feed_wrote_it() -> None:
    feed = rss("/s/1?id=7&utm_source=rss&a=", "/s/2?b=2&a=1").replace(b"&", b"&amp;")
    with LoopbackServer({"/feed.xml": Reply(body=feed, content_type=XML)}) as srv:
        source = Source(id="s", kind="feed", location=srv.url("/feed.xml"))
        found = run(source, fetcher_for(srv))
    assert [d.url for d in found.discovered] == [
        srv.url("/s/1?id=7&utm_source=rss&a="),
        srv.url("/s/2?b=2&a=1"),
    ]


def test_atom_entries_use_the_alternate_link() -> None:
    atom = b"""<?xml version="1.0"?>
    <feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><title>One</title>
        <link rel="edit" href="/edit/1"/><link rel="alternate" href="https://ex.org/a/1"/>
        <published>2026-03-10T08:00:00Z</published><updated>2026-03-11T09:00:00+02:00</updated>
        <author><name>Ann Author</name></author></entry>
      <entry><title>Two</title><link href="/a/2"/></entry>
    </feed>"""
    document = parse_document(atom)
    assert document.kind == "feed"
    assert [e.link for e in document.entries] == ["https://ex.org/a/1", "/a/2"]
    assert document.entries[0].authors == ("Ann Author",)
    assert document.entries[0].modified_at == datetime(2026, 3, 11, 7, 0, tzinfo=UTC)


def test_rss_1_rdf_items_are_read() -> None:
    rdf = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>t</title></channel>
      <item rdf:about="https://ex.org/1"><title>One</title><link>https://ex.org/1</link></item>
    </rdf:RDF>"""
    assert [e.link for e in parse_document(rdf).entries] == ["https://ex.org/1"]


def test_feed_items_carry_their_categories_rss_atom_and_dublin_core() -> None:
    feed = b"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
      <item><link>https://ex.org/1</link><category>World</category>
        <category domain="https://ex.org/tags">  Asia
          Pacific </category><category>World</category><category/><dc:subject>Trade</dc:subject>
      </item><item><link>https://ex.org/2</link></item></channel></rss>"""
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><link href="https://ex.org/3"/><category term="biz" label="Business"/>
        <category term="Economic development"/></entry></feed>"""
    rss_entries = parse_document(feed).entries
    assert [e.categories for e in rss_entries] == [("World", "Asia Pacific", "Trade"), ()]
    (entry,) = parse_document(atom).entries
    assert entry.categories == ("Business", "Economic development")


@pytest.mark.parametrize("news_first", [False, True], ids=["feed-first", "news-first"])
def test_a_feeds_categories_reach_the_discovered_url_beside_news_sitemap_keywords(
    news_first: bool,
) -> None:
    with LoopbackServer() as srv:
        feed = rss("/a/1", extra="").replace(
            b"</dc:creator>", b"</dc:creator><category>Harbours</category>"
        )
        news = news_sitemap((srv.url("/a/1"), "One", "2026-03-10T09:00:00Z", "en", "trade"))
        documents = (
            f"<sitemap><loc>{srv.url(path)}</loc></sitemap>"
            for path in (("/news.xml", "/feed.xml") if news_first else ("/feed.xml", "/news.xml"))
        )
        index = f"<sitemapindex {NEWS_NS}>{''.join(documents)}</sitemapindex>".encode()
        srv.route("/", Reply(body=home_page()))
        srv.route("/robots.txt", robots(f"User-agent: *\nSitemap: {srv.url('/i.xml')}"))
        srv.route("/i.xml", Reply(body=index, content_type=XML))
        srv.route("/feed.xml", Reply(body=feed, content_type=XML))
        srv.route("/news.xml", Reply(body=news, content_type=XML))
        found = run(Source(id="s", kind="site", location=srv.url("/")), fetcher_for(srv))
    (item,) = found.discovered
    assert (item.found_by, item.keywords, item.categories) == (
        "news_sitemap",
        ("trade",),
        ("Harbours",),
    )


def test_sitemap_index_with_gzipped_child_sitemaps() -> None:
    def urlset(*paths: str) -> bytes:
        urls = "".join(f"<url><loc>{p}</loc><lastmod>2026-03-01</lastmod></url>" for p in paths)
        return (
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
        )

    with LoopbackServer() as srv:
        index = (
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{srv.url('/a.xml.gz')}</loc></sitemap>"
            "<sitemap><loc>/b.xml</loc></sitemap>"
            "<sitemap><loc>file:///etc/passwd</loc></sitemap>"
            "</sitemapindex>"
        ).encode()
        srv.route("/index.xml", Reply(body=index, content_type=XML))
        srv.route(
            "/a.xml.gz",
            Reply(
                body=gzipped(urlset(srv.url("/1"), srv.url("/2"))), content_type="application/gzip"
            ),
        )
        srv.route("/b.xml", Reply(body=urlset(srv.url("/3"), srv.url("/1")), content_type=XML))
        source = Source(id="s", kind="sitemap", location=srv.url("/index.xml"))
        found = run(source, fetcher_for(srv))
    assert [d.url for d in found.discovered] == [srv.url(f"/{i}") for i in (1, 2, 3)]
    assert found.discovered[0].modified_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert [e.url for e in found.log if e.purpose == "sitemap"] == [
        srv.url("/index.xml"),
        srv.url("/a.xml.gz"),
        srv.url("/b.xml"),
    ]
    assert [(r.url, r.reason) for r in found.rejected] == [
        ("file:///etc/passwd", "blocked_address")
    ]
    assert [(e.url, e.reason, e.purpose) for e in found.unfetched] == [
        ("file:///etc/passwd", "blocked_address", "sitemap")
    ]


def test_url_lists_need_no_fetch() -> None:
    source = Source(
        id="s", kind="urls", urls=("https://Ex.org:443/a", "ftp://ex.org/b", "https://ex.org/a")
    )
    fetcher = fetcher_for()
    found = run(source, fetcher)
    assert [d.url for d in found.discovered] == ["https://ex.org/a"]
    assert [r.reason for r in found.rejected] == ["blocked_address"]
    assert found.log == ()


def test_a_failing_feed_is_logged_with_its_reason() -> None:
    with LoopbackServer({"/feed.xml": Reply(status=410)}) as srv:
        found = run(Source(id="s", kind="feed", location=srv.url("/feed.xml")), fetcher_for(srv))
    assert found.discovered == ()
    assert found.log[-1].reason == "http_410"


def test_a_page_that_is_not_a_feed_is_a_parse_error() -> None:
    with LoopbackServer({"/feed.xml": Reply(body=b"<html><body>hi</body></html>")}) as srv:
        found = run(Source(id="s", kind="feed", location=srv.url("/feed.xml")), fetcher_for(srv))
    assert [(r.url, r.reason, r.stage) for r in found.rejected] == [
        (srv.url("/feed.xml"), "parse_error", "discover")
    ]


# ---------------------------------------------------------------- row 23: fetched ok, no URL


def one_document(body: bytes, content_type: str | None = XML, **policy: Any) -> Discovery:
    """Discovery of a feed source whose feed answers 200 with `body`."""
    reply = Reply(body=body, content_type=content_type)
    with LoopbackServer({"/feed.xml": reply}) as srv:
        source = Source(id="s", kind="feed", location=srv.url("/feed.xml"))
        found = run(source, fetcher_for(srv, **policy))
    assert found.log[-1].reason == "ok"  # the fetch itself went well
    assert found.discovered == ()
    return found


def rejection(found: Discovery) -> tuple[str, str, str]:
    """(stage, reason, detail) of the one rejection of the source's own document."""
    own = [r for r in found.rejected if r.url.endswith("/feed.xml")]
    assert len(own) == 1, found.rejected
    return own[0].stage, own[0].reason, own[0].detail


def test_a_feed_without_items_is_rejected_as_no_items() -> None:
    body = rss()
    stage, reason, detail = rejection(one_document(body))
    assert (stage, reason) == ("discover", "no_items")
    assert detail == f"feed ({len(body)} bytes, application/xml) lists no items"


def test_a_sitemap_without_url_entries_is_rejected_as_no_items() -> None:
    body = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>'
    with LoopbackServer({"/sitemap.xml": Reply(body=body, content_type="text/xml")}) as srv:
        source = Source(id="s", kind="sitemap", location=srv.url("/sitemap.xml"))
        found = run(source, fetcher_for(srv))
    assert [(r.url, r.stage, r.reason, r.detail) for r in found.rejected] == [
        (
            srv.url("/sitemap.xml"),
            "discover",
            "no_items",
            f"sitemap ({len(body)} bytes, text/xml) lists no <url> entries",
        )
    ]


def test_a_feed_whose_links_all_are_unfetchable_is_rejected_as_no_items() -> None:
    found = one_document(rss("file:///etc/passwd", "javascript:alert(1)"))
    assert rejection(found)[1:] == (
        "no_items",
        f"feed ({len(rss('file:///etc/passwd', 'javascript:alert(1)'))} bytes, application/xml) "
        "lists 2 items, none with a link that can be fetched",
    )
    assert [r.reason for r in found.rejected if r.url != found.log[-1].url] == [
        "blocked_address",
        "blocked_address",
    ]


def test_an_empty_body_is_a_parse_error_saying_so() -> None:
    assert rejection(one_document(b"", content_type=None)) == (
        "discover",
        "parse_error",
        "empty document (0 bytes, no content type)",
    )


@pytest.mark.parametrize(
    "page",
    [
        b"<!doctype html>\n<html lang=en><head><script>if (a < b && c) {}</script></head>"
        b"<body><div>Latest stories</div>",
        b"\xef\xbb\xbf  <HTML><BODY>Moved</BODY></HTML>",
        b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><body/></html>",
    ],
    ids=["html5", "bom-upper-case", "xhtml"],
)
def test_html_served_for_a_feed_is_a_parse_error_naming_html(page: bytes) -> None:
    found = one_document(page, content_type="text/html; charset=utf-8")
    assert rejection(found) == (
        "discover",
        "parse_error",
        f"an HTML page, not a feed or sitemap ({len(page)} bytes, text/html; charset=utf-8)",
    )


def test_a_304_feed_is_no_failure() -> None:
    def unchanged(request: Request) -> Reply:
        return Reply(status=304, content_type=None)

    with LoopbackServer({"/feed.xml": unchanged}) as srv:
        url = srv.url("/feed.xml")
        found = run(
            Source(id="s", kind="feed", location=url),
            fetcher_for(srv),
            validators={url: ('"v1"', None)},
        )
    assert found.log[-1].reason == "not_modified"
    assert found.rejected == ()


def test_a_sitemap_index_whose_sitemaps_list_nothing_is_rejected_as_no_items() -> None:
    empty = b"<urlset></urlset>"
    with LoopbackServer() as srv:
        index = (
            "<sitemapindex>"
            f"<sitemap><loc>{srv.url('/a.xml')}</loc></sitemap>"
            "<sitemap><loc>/b.xml</loc></sitemap>"
            "</sitemapindex>"
        ).encode()
        srv.route("/index.xml", Reply(body=index, content_type=XML))
        srv.route("/a.xml", Reply(body=empty, content_type=XML))
        srv.route("/b.xml", Reply(body=empty, content_type=XML))
        source = Source(id="s", kind="sitemap", location=srv.url("/index.xml"))
        found = run(source, fetcher_for(srv))
    assert [(r.url, r.reason) for r in found.rejected] == [
        (srv.url("/a.xml"), "no_items"),
        (srv.url("/b.xml"), "no_items"),
        (srv.url("/index.xml"), "no_items"),
    ]
    assert found.rejected[-1].detail == (
        f"sitemap index ({len(index)} bytes, application/xml) names 2 sitemaps; "
        "none lists an article URL"
    )


def test_a_sitemap_index_with_one_useful_sitemap_is_no_failure_of_the_source() -> None:
    with LoopbackServer() as srv:
        index = (
            b"<sitemapindex><sitemap><loc>/a.xml</loc></sitemap>"
            b"<sitemap><loc>/b.xml</loc></sitemap></sitemapindex>"
        )
        srv.route("/index.xml", Reply(body=index, content_type=XML))
        srv.route("/a.xml", Reply(body=b"<urlset></urlset>", content_type=XML))
        srv.route("/b.xml", Reply(body=b"<urlset><url><loc>/1</loc></url></urlset>"))
        source = Source(id="s", kind="sitemap", location=srv.url("/index.xml"))
        found = run(source, fetcher_for(srv))
    assert [d.url for d in found.discovered] == [srv.url("/1")]
    assert [(r.url, r.reason) for r in found.rejected] == [(srv.url("/a.xml"), "no_items")]


BIG = 45 << 20  # over the article cap (1 MB here), within the 50 MB document cap


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        (
            rss("/hidden", extra="<description>" + "x" * BIG + "</description>"),
            "no_items",
            "feed ({size} bytes, application/xml), read up to a parser error "
            "(Resource limit exceeded: Text node too long, try XML_PARSE_HUGE) lists no items",
        ),
        (
            b"\x00junk" * (BIG // 5),
            "parse_error",
            "not XML: Document is empty, line 1, column 1 (<string>, line 1) "
            "({size} bytes, application/xml)",
        ),
    ],
    ids=["one-huge-text-node", "binary-junk"],
)
def test_a_huge_feed_that_yields_nothing_ends_with_a_reason(
    body: bytes, reason: str, detail: str
) -> None:
    found = one_document(body, max_document_bytes=50 << 20)
    assert rejection(found) == ("discover", reason, detail.format(size=len(body)))


# ---------------------------------------------------------------- row 11: links to blocked hosts


def test_feed_links_to_blocked_addresses_never_reach_a_connection() -> None:
    with LoopbackServer({"/x": Reply(body=b"<p>secret</p>")}) as victim, LoopbackServer() as srv:
        port = victim.port
        links = [
            f"http://127.0.0.1:{port}/x",
            f"http://localhost:{port}/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/",
            f"http://[::1]:{port}/x",
            f"http://0x7f000001:{port}/x",
            f"http://2130706433:{port}/x",
            "file:///etc/passwd",
            "gopher://127.0.0.1:70/_x",
        ]
        srv.route("/feed.xml", Reply(body=rss(*links), content_type=XML))
        fetcher = fetcher_for(srv)  # the feed's own server only: the victim is not allowed
        found = run(Source(id="s", kind="feed", location=srv.url("/feed.xml")), fetcher)
        outcomes = fetch_batch(fetcher, found.discovered, max_hosts_in_parallel=4, now=now)
        assert victim.hits() == 0
    assert len(found.discovered) + len(found.rejected) == len(links)
    assert {r.reason for r in found.rejected} == {"blocked_address"}
    assert {o.log.reason for o in outcomes} == {"blocked_address"}
    assert all(o.log.attempts == 0 for o in outcomes)


def test_links_refused_by_discovery_are_fetch_log_rows_without_an_attempt() -> None:
    links = ["/ok", "file:///etc/passwd", "gopher://ex.org/1", "javascript:alert(1)", "http://[x"]
    with LoopbackServer() as srv:
        srv.route("/feed.xml", Reply(body=rss(*links), content_type=XML))
        found = run(Source(id="s", kind="feed", location=srv.url("/feed.xml")), fetcher_for(srv))
    refused = [(e.url, e.reason, e.purpose, e.attempts, e.status) for e in found.unfetched]
    assert refused == [
        ("file:///etc/passwd", "blocked_address", "article", 0, None),
        ("gopher://ex.org/1", "blocked_address", "article", 0, None),
        ("javascript:alert(1)", "blocked_address", "article", 0, None),
        ("http://[x", "parse_error", "article", 0, None),
    ]
    assert [(r.url, r.reason) for r in found.rejected] == [(e[0], e[1]) for e in refused]
    assert [d.url for d in found.discovered] == [srv.url("/ok")]
    assert all(e.source_id == "s" for e in found.unfetched)


# ---------------------------------------------------------------- row 15: conditional GET


def test_feed_polled_twice_sends_validators_and_finds_nothing_new_on_304() -> None:
    def conditional(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"f1"':
            return Reply(status=304, content_type=None, headers=(("ETag", '"f1"'),))
        validators = (("ETag", '"f1"'), ("Last-Modified", "Tue, 10 Mar 2026 08:00:00 GMT"))
        return Reply(body=rss("/a", "/b"), content_type=XML, headers=validators)

    with LoopbackServer({"/feed.xml": conditional}) as srv:
        source = Source(id="s", kind="feed", location=srv.url("/feed.xml"))
        fetcher = fetcher_for(srv)
        first = run(source, fetcher)
        entry = first.log[-1]
        stored = {entry.url: (entry.etag, entry.last_modified)}
        second = run(source, fetcher, validators=stored)
        sent = [r.headers for r in srv.requests if r.path == "/feed.xml"][-1]
    assert len(first.discovered) == 2
    assert (entry.etag, entry.last_modified) == ('"f1"', "Tue, 10 Mar 2026 08:00:00 GMT")
    assert sent["if-none-match"] == '"f1"'
    assert sent["if-modified-since"] == "Tue, 10 Mar 2026 08:00:00 GMT"
    assert second.discovered == ()
    assert second.rejected == ()
    assert second.log[-1].reason == "not_modified"
    assert second.log[-1].etag == '"f1"'


# ---------------------------------------------------------------- row 16: hostile XML

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss><channel><item><title>&lol9;</title><link>http://ex.org/&lol9;</link></item></channel></rss>
"""


def _external(target: str, root: str = "rss") -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{target}">]>'
        f"<{root}><channel><item><title>&xxe;</title><link>http://ex.org/&xxe;</link>"
        f"</item></channel></{root}>"
    ).encode()


def _parameter(target: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY % p SYSTEM "{target}"> %p;]>'
        "<urlset><url><loc>http://ex.org/1</loc></url></urlset>"
    ).encode()


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("feed", LAUGHS),
        ("sitemap", LAUGHS.replace(b"rss", b"urlset")),
        ("feed", _external("file:///etc/passwd")),
        ("feed", "EXTERNAL"),
        ("sitemap", "PARAMETER"),
        ("sitemap", gzipped(LAUGHS)),
    ],
    ids=["laughs-feed", "laughs-sitemap", "xxe-file", "xxe-http", "parameter-entity", "gz-laughs"],
)
def test_entity_bombs_and_external_entities_are_rejected(kind: Any, body: Any) -> None:
    with LoopbackServer({"/evil": Reply(body=b"stolen")}) as outside, LoopbackServer() as srv:
        if body == "EXTERNAL":
            body = _external(outside.url("/evil"))
        elif body == "PARAMETER":
            body = _parameter(outside.url("/evil"))
        srv.route("/doc.xml", Reply(body=body, content_type=XML))
        fetcher = fetcher_for(srv, outside)  # even an allowed server must not be contacted
        tracemalloc.start()
        try:
            found = run(Source(id="s", kind=kind, location=srv.url("/doc.xml")), fetcher)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert outside.hits() == 0
    assert found.discovered == ()
    assert [(r.reason, r.stage) for r in found.rejected] == [("unsafe_xml", "discover")]
    assert peak < 4 << 20


def test_an_external_dtd_is_not_loaded() -> None:
    with LoopbackServer({"/evil.dtd": Reply(body=b"<!ENTITY x 'y'>")}) as outside:
        body = (
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{outside.url("/evil.dtd")}">'
            "<rss><channel><item><link>http://ex.org/1</link></item></channel></rss>"
        ).encode()
        document = parse_document(body)
        assert outside.hits() == 0
    assert [e.link for e in document.entries] == ["http://ex.org/1"]


def test_gzip_bomb_sitemap_is_cut_at_the_cap() -> None:
    bomb = gzipped(b"<urlset>" + b" " * (64 << 20) + b"</urlset>")
    with pytest.raises(DocumentError) as caught:
        parse_document(bomb, max_bytes=1 << 20)
    assert caught.value.reason == "too_large"


def test_oversized_feed_is_refused_by_the_fetcher() -> None:
    big = Reply(body=rss("/a", extra="<description>" + "x" * (2 << 20) + "</description>"))
    with LoopbackServer({"/feed.xml": big}) as srv:
        found = run(Source(id="s", kind="feed", location=srv.url("/feed.xml")), fetcher_for(srv))
    assert found.discovered == ()
    assert found.log[-1].reason == "too_large"


# ---------------------------------------------------------------- row 19: arbitrary input


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_parser_on_arbitrary_bytes_raises_only_document_errors(data: bytes) -> None:
    results: list[object] = []
    for _ in range(2):
        try:
            results.append(parse_document(data, max_bytes=1 << 20))
        except DocumentError as exc:
            results.append(exc.reason)
    assert results[0] == results[1]


xml_texts = st.lists(
    st.sampled_from(
        [
            "<rss>",
            "</rss>",
            "<channel>",
            "<item>",
            "</item>",
            "<link>",
            "</link>",
            "<feed>",
            "<entry>",
            '<link href="',
            '"/>',
            "<urlset>",
            "<url>",
            "<loc>",
            "</loc>",
            "<sitemapindex>",
            "<sitemap>",
            "http://a.b/",
            "&amp;",
            "&x;",
            "<![CDATA[",
            "]]>",
            "<!DOCTYPE rss>",
            "<pubDate>",
            "</pubDate>",
            "Tue, 10 Mar 2026",
            "2026-13-45T99",
            "<dc:creator>",
            "<author>",
            "<name>",
            "\x00",
            "é",
            "<?xml version='1.0'?>",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(xml_texts)
def test_parser_on_xml_like_text_raises_only_document_errors(text: str) -> None:
    reason = None
    try:
        parse_document(text.encode("utf-8"))
    except DocumentError as exc:
        reason = exc.reason
    assert reason in {None, "parse_error", "unsafe_xml", "too_large"}


def test_deeply_nested_documents_do_not_recurse_out() -> None:
    deep = b"<rss><channel>" + b"<div>" * 5000 + b"</div>" * 5000 + b"</channel></rss>"
    try:
        outcome: object = parse_document(deep).entries
    except DocumentError as exc:
        outcome = exc.reason
    assert outcome in ((), "parse_error")


@given(st.text(max_size=60))
def test_parse_date_never_raises(text: str) -> None:
    value = parse_date(text)
    assert value is None or value.tzinfo is not None


# ---------------------------------------------------------------- Google News sitemaps

NEWS_NS = (
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
    'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
)


def news_sitemap(*entries: tuple[str, str, str, str, str]) -> bytes:
    """A Google News sitemap: (loc, title, publication date, language, keywords) each."""
    urls = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Harbour Post"
        f"</news:name><news:language>{language}</news:language></news:publication>"
        f"<news:publication_date>{date}</news:publication_date><news:title>{title}"
        f"</news:title><news:keywords>{keywords}</news:keywords></news:news></url>"
        for loc, title, date, language, keywords in entries
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NEWS_NS}>{urls}</urlset>'.encode()


def test_news_sitemap_entries_carry_title_date_language_keywords_and_publication() -> None:
    body = news_sitemap(
        ("/a", "Ferry &amp; port strike ends", "2026-03-10T08:30:00+01:00", "EN-GB", "ferries, "
         "strikes ,, ferries,port of Aberdeen"),
    )
    with LoopbackServer({"/news.xml": Reply(body=body, content_type=XML)}) as srv:
        source = Source(id="s", kind="sitemap", location=srv.url("/news.xml"))
        found = run(source, fetcher_for(srv))
    (item,) = found.discovered
    assert item.url == srv.url("/a")
    assert item.found_by == "news_sitemap"
    assert item.title == "Ferry & port strike ends"
    assert item.published_at == datetime(2026, 3, 10, 7, 30, tzinfo=UTC)
    assert item.language == "en-gb"
    assert item.keywords == ("ferries", "strikes", "port of Aberdeen")
    assert item.publication == "Harbour Post"


def test_plain_sitemap_and_feed_entries_say_what_found_them() -> None:
    plain = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>/b</loc>'
    plain += b"</url></urlset>"
    with LoopbackServer() as srv:
        srv.route("/plain.xml", Reply(body=plain, content_type=XML))
        srv.route("/feed.xml", Reply(body=rss("/c"), content_type=XML))
        fetcher = fetcher_for(srv)
        sitemap = run(Source(id="s", kind="sitemap", location=srv.url("/plain.xml")), fetcher)
        feed = run(Source(id="f", kind="feed", location=srv.url("/feed.xml")), fetcher)
    listed = [(d.found_by, d.title, d.keywords) for d in sitemap.discovered]
    assert listed == [("sitemap", None, ())]
    assert [d.found_by for d in feed.discovered] == ["feed"]


def test_news_publication_dates_drive_the_backfill_window() -> None:
    from tasks.frontier import plan_frontier

    body = news_sitemap(
        ("/in", "In", "2026-03-10T23:30:00-02:00", "en", ""),  # 11 March in UTC
        ("/out", "Out", "2026-03-10T08:00:00Z", "en", ""),
    )
    with LoopbackServer({"/news.xml": Reply(body=body, content_type=XML)}) as srv:
        found = run(Source(id="s", kind="sitemap", location=srv.url("/news.xml")), fetcher_for(srv))
    window = (datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    plan = plan_frontier(found.discovered, seen=frozenset(), caps={}, window=window)
    assert [d.url for d in plan.to_fetch] == [srv.url("/in")]
    assert [(r.url, r.reason) for r in plan.rejected] == [(srv.url("/out"), "outside_window")]


# ---------------------------------------------------------------- section pages


def section_page(*paths: str, next_path: str | None = None) -> bytes:
    items = "".join(f'<li><h2><a href="{p}">A headline for {p}</a></h2></li>' for p in paths)
    pager = f'<a rel="next" href="{next_path}">Next</a>' if next_path else ""
    return (
        "<!doctype html><html><body><nav><a href='/news/'>News</a>"
        "<a href='/news/2026/03/01/pinned-in-the-menu.html'>Pinned in the menu</a></nav>"
        f"<main><ul>{items}</ul><div class='most-read'><a href='/news/2026/02/01/most-read-"
        f"story-of-last-month.html'>Most read story of last month</a></div>{pager}</main>"
        "<footer><a href='/news/2026/01/01/footer-story-link.html'>Footer story link</a>"
        "</footer></body></html>"
    ).encode()


def test_section_pages_are_read_up_to_max_pages_each_article_once() -> None:
    with LoopbackServer() as srv:
        srv.route("/news/", Reply(body=section_page("/news/2026/03/09/one.html",
                                                    "/news/2026/03/09/two.html",
                                                    next_path="/news/?page=2")))
        srv.route("/news/?page=2", Reply(body=section_page("/news/2026/03/09/two.html",
                                                           "/news/2026/03/08/three.html",
                                                           next_path="/news/?page=3")))
        srv.route("/news/?page=3", Reply(body=section_page("/news/2026/03/07/four.html")))
        source = Source(id="s", kind="section", location=srv.url("/news/"), max_pages=2)
        found = run(source, fetcher_for(srv))
        assert srv.hits("/news/?page=3") == 0
    assert [d.url for d in found.discovered] == [
        srv.url("/news/2026/03/09/one.html"),
        srv.url("/news/2026/03/09/two.html"),
        srv.url("/news/2026/03/08/three.html"),
    ]
    assert {d.found_by for d in found.discovered} == {"section"}
    assert found.discovered[2].found_in == srv.url("/news/?page=2")
    assert [(e.purpose, e.url) for e in found.log] == [
        ("robots", srv.url("/robots.txt")),
        ("section", srv.url("/news/")),
        ("section", srv.url("/news/?page=2")),
    ]
    assert found.rejected == ()


def test_section_pages_that_link_back_are_read_once() -> None:
    with LoopbackServer() as srv:
        srv.route("/a", Reply(body=section_page("/news/2026/03/09/one.html", next_path="/b")))
        srv.route("/b", Reply(body=section_page("/news/2026/03/09/two.html", next_path="/a")))
        source = Source(id="s", kind="section", location=srv.url("/a"), max_pages=10)
        found = run(source, fetcher_for(srv))
        assert (srv.hits("/a"), srv.hits("/b")) == (1, 1)
    assert len(found.discovered) == 2


def test_a_section_page_without_article_links_is_rejected_as_no_items() -> None:
    page = b"<html><body><nav><a href='/news/'>News</a></nav><p>Nothing today</p></body></html>"
    with LoopbackServer({"/news/": Reply(body=page)}) as srv:
        source = Source(id="s", kind="section", location=srv.url("/news/"))
        found = run(source, fetcher_for(srv))
    assert found.discovered == ()
    assert [(r.url, r.reason, r.detail) for r in found.rejected] == [
        (
            srv.url("/news/"),
            "no_items",
            f"section page ({len(page)} bytes, text/html; charset=utf-8), 1 links, none to an "
            "article",
        )
    ]


def test_a_links_selector_narrows_a_section() -> None:
    page = (
        b"<html><body><main>"
        b"<div class='card'><a href='/s/first-story-of-the-day'>First story of the day</a></div>"
        b"<div class='card ad'><a href='/s/paid-post-about-cheap-loans'>Paid post about cheap"
        b" loans</a><span class='label'>Sponsored</span></div>"
        b"</main></body></html>"
    )
    with LoopbackServer({"/": Reply(body=page)}) as srv:
        source = Source(
            id="s", kind="section", location=srv.url("/"),
            links="div.card:not(:has(span.label)) a",
        )
        found = run(source, fetcher_for(srv))
    assert [d.url for d in found.discovered] == [srv.url("/s/first-story-of-the-day")]


# ---------------------------------------------------------------- sites (autodiscovery)


def home_page(head: str = "", body: str = "<p>Welcome</p>") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def test_a_site_reads_the_feeds_its_home_page_declares() -> None:
    head = (
        '<link rel="alternate" type="application/rss+xml" title="All" href="/feed.xml">'
        '<link rel="alternate" type="application/rss+xml" title="Comments" href="/c.xml">'
    )
    with LoopbackServer() as srv:
        srv.route("/", Reply(body=home_page(head)))
        srv.route("/feed.xml", Reply(body=rss("/news/1", "/news/2"), content_type=XML))
        source = Source(id="s", kind="site", location=srv.url("/"))
        found = run(source, fetcher_for(srv))
        assert srv.hits("/sitemap.xml") == srv.hits("/c.xml") == 0
    assert [d.url for d in found.discovered] == [srv.url("/news/1"), srv.url("/news/2")]
    assert found.discovered[0].title == "Story 0"
    assert [(e.purpose, e.url) for e in found.log] == [
        ("robots", srv.url("/robots.txt")),
        ("site", srv.url("/")),
        ("feed", srv.url("/feed.xml")),
    ]
    assert found.found == (
        f"feed {srv.url('/feed.xml')} (<link rel=alternate> on the home page)",
    )
    assert found.rejected == ()


def test_a_site_reads_the_sitemaps_robots_txt_lists_preferring_news_metadata() -> None:
    with LoopbackServer() as srv:
        index = (
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{srv.url('/archive.xml')}</loc></sitemap>"
            f"<sitemap><loc>{srv.url('/news.xml')}</loc></sitemap></sitemapindex>"
        ).encode()
        archive = (
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{srv.url('/a/1')}</loc><lastmod>2026-03-11T10:00:00Z</lastmod></url>"
            f"<url><loc>{srv.url('/a/0')}</loc></url></urlset>"
        ).encode()
        news = news_sitemap(
            (srv.url("/a/1"), "One", "2026-03-10T09:00:00Z", "en", "harbours, trade"),
            (srv.url("/a/2"), "Two", "2026-03-10T10:00:00Z", "en", "trade"),
        )
        srv.route("/", Reply(body=home_page()))
        srv.route("/robots.txt", robots(f"User-agent: *\nAllow: /\nSitemap: {srv.url('/i.xml')}"))
        srv.route("/i.xml", Reply(body=index, content_type=XML))
        srv.route("/archive.xml", Reply(body=archive, content_type=XML))
        srv.route("/news.xml", Reply(body=news, content_type=XML))
        found = run(Source(id="s", kind="site", location=srv.url("/")), fetcher_for(srv))
        assert srv.hits("/sitemap.xml") == srv.hits("/news-sitemap.xml") == 0
    by_url = {d.url: d for d in found.discovered}
    assert list(by_url) == [srv.url("/a/1"), srv.url("/a/0"), srv.url("/a/2")]
    first = by_url[srv.url("/a/1")]
    assert (first.found_by, first.title, first.keywords) == ("news_sitemap", "One",
                                                            ("harbours", "trade"))
    assert first.published_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    assert first.modified_at == datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # from the archive
    assert by_url[srv.url("/a/0")].found_by == "sitemap"
    assert found.found == (f"sitemap {srv.url('/i.xml')} (robots.txt)",)
    assert [e.purpose for e in found.log] == ["robots", "site", "sitemap", "sitemap", "sitemap"]


def test_a_site_that_declares_nothing_tries_the_common_locations_in_turn() -> None:
    with LoopbackServer() as srv:
        srv.route("/", Reply(body=home_page()))
        srv.route("/sitemap_index.xml", Reply(body=news_sitemap(
            (srv.url("/n/1"), "One", "2026-03-10T09:00:00Z", "de", "")), content_type=XML))
        found = run(Source(id="s", kind="site", location=srv.url("/")), fetcher_for(srv))
        assert srv.hits("/sitemap.xml") == srv.hits("/feed") == 0  # the first that lists is enough
    assert [(d.url, d.language) for d in found.discovered] == [(srv.url("/n/1"), "de")]
    assert found.found == (f"sitemap {srv.url('/sitemap_index.xml')} (common location)",)
    tried = [(e.url, e.reason) for e in found.log if e.purpose == "sitemap"]
    assert tried == [
        (srv.url("/news-sitemap.xml"), "http_404"),
        (srv.url("/sitemap_index.xml"), "ok"),
    ]
    assert found.optional == {srv.url("/news-sitemap.xml"), srv.url("/sitemap_index.xml")}


def test_a_site_without_feeds_or_sitemaps_reads_its_home_page_links() -> None:
    body = (
        "<main><h2><a href='/2026/03/10/bridge-reopens-after-repairs.html'>Bridge reopens after "
        "repairs</a></h2></main><footer><a href='/about'>About</a></footer>"
    )
    with LoopbackServer({"/": Reply(body=home_page(body=body))}) as srv:
        found = run(Source(id="s", kind="site", location=srv.url("/")), fetcher_for(srv))
    assert [(d.url, d.found_by) for d in found.discovered] == [
        (srv.url("/2026/03/10/bridge-reopens-after-repairs.html"), "section")
    ]
    assert found.found == (f"section {srv.url('/')} (the home page's own links)",)
    assert found.rejected == ()


def test_a_site_with_nothing_to_read_is_rejected_as_no_items_saying_what_was_tried() -> None:
    with LoopbackServer({"/": Reply(body=home_page())}) as srv:
        found = run(Source(id="s", kind="site", location=srv.url("/")), fetcher_for(srv))
    assert found.discovered == ()
    (rejected,) = found.rejected
    assert (rejected.url, rejected.reason) == (srv.url("/"), "no_items")
    assert rejected.detail.startswith(
        "site: it declares no feed or sitemap, and none at the common locations lists one; "
        "home page: section page ("
    )
    assert [e.url for e in found.log if e.purpose in ("feed", "sitemap")] == [
        srv.url(path) for path in
        ("/news-sitemap.xml", "/sitemap_index.xml", "/sitemap.xml", "/feed", "/rss.xml")
    ]
    assert found.optional == {e.url for e in found.log if e.purpose in ("feed", "sitemap")}


def test_section_links_carry_their_teaser_dates_into_the_backfill_window() -> None:
    from tasks.frontier import plan_frontier

    page = (
        b"<html><body><main>"
        b"<article><h2><a href='/news/harbour-bridge-reopens'>Harbour bridge reopens</a></h2>"
        b"<time datetime='2026-03-11T09:00:00Z'>11 March</time></article>"
        b"<article><h2><a href='/news/ferry-strike-ends-today'>Ferry strike ends today</a></h2>"
        b"<time datetime='2026-03-09T09:00:00Z'>9 March</time></article>"
        b"</main></body></html>"
    )
    with LoopbackServer({"/news/": Reply(body=page)}) as srv:
        found = run(Source(id="s", kind="section", location=srv.url("/news/")), fetcher_for(srv))
    assert [d.published_at for d in found.discovered] == [
        datetime(2026, 3, 11, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 9, 0, tzinfo=UTC),
    ]
    window = (datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))
    plan = plan_frontier(found.discovered, seen=frozenset(), caps={}, window=window)
    assert [d.url for d in plan.to_fetch] == [srv.url("/news/harbour-bridge-reopens")]
