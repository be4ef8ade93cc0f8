from pathlib import Path

import pytest

from flows.sources import SourcesError, load_sources, referenced_sites

GOOD = """
[[source]]
id = "courier"
kind = "feed"
location = "{{site:courier}}/feed.xml"

[[source]]
id = "ledger-list"
kind = "urls"
urls = ["https://ledger.example/a.html", "https://ledger.example/b.html"]
max_articles = 5
crawl_delay = 0.5
[source.selectors]
body = "div.story"
drop = ["aside", ".related"]

[[source]]
id = "off"
kind = "sitemap"
location = "https://off.example/sitemap.xml"
enabled = false

[[source]]
id = "gazette-news"
kind = "section"
location = "https://gazette.example/news/"
links = "article:has(time):not(.sponsored) h2 a"
next = "nav.pager a.older"
max_pages = 3

[[source]]
id = "gazette"
kind = "site"
location = "https://gazette.example/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_sources_reads_typed_records_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    sources = load_sources(path, sites={"courier": "http://127.0.0.1:9"})
    assert [s.id for s in sources] == ["courier", "ledger-list", "off", "gazette-news", "gazette"]
    assert sources[0].location == "http://127.0.0.1:9/feed.xml"
    assert sources[1].urls == ("https://ledger.example/a.html", "https://ledger.example/b.html")
    assert sources[1].selectors.body == "div.story"
    assert sources[1].selectors.drop == ("aside", ".related")
    assert sources[1].crawl_delay == 0.5
    assert sources[2].enabled is False
    section, site = sources[3], sources[4]
    assert (section.kind, section.location) == ("section", "https://gazette.example/news/")
    assert section.links == "article:has(time):not(.sponsored) h2 a"
    assert (section.next, section.max_pages) == ("nav.pager a.older", 3)
    assert (site.kind, site.location, site.links, site.max_pages) == (
        "site",
        "https://gazette.example/",
        None,
        5,
    )
    assert referenced_sites(path) == {"courier"}


@pytest.mark.parametrize(
    ("entry", "key", "reason"),
    [
        ('id = "x"\nkind = "podcast"\nlocation = "https://a.example/"', "kind", "must be one of"),
        ('id = "Bad Id"\nkind = "feed"\nlocation = "https://a.example/"', "id", "required"),
        ('id = "x"\nkind = "feed"', "location", "needs a location"),
        ('id = "x"\nkind = "feed"\nlocation = "ftp://a.example/"', "location", "absolute http"),
        ('id = "x"\nkind = "urls"\nurls = []', "urls", "non-empty list"),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\nmax_articles = 0',
            "max_articles",
            "positive",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\ncolour = "red"',
            "colour",
            "unknown key",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\nenabled = "yes"',
            "enabled",
            "true or false",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\n[source.selectors]\ndrop = "aside"',
            "selectors.drop",
            "list of CSS",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "{{site:nowhere}}/feed.xml"',
            "location",
            "not being served",
        ),
        ('id = "x"\nkind = "urls"\nurls = ["https://a/", 3]', "urls[1]", "non-empty list"),
        ('id = "x"\nkind = "urls"\nurls = ["/a"]', "urls", "absolute http"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\nurls = ["https://a/b"]', "urls",
         "only for kind 'urls'"),
        ('id = "x"\nkind = "urls"\nurls = ["https://a/"]\nlocation = "https://a/"', "location",
         "has no location"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\ncrawl_delay = true', "crawl_delay",
         "number of seconds"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\ncrawl_delay = -1', "crawl_delay",
         "number of seconds"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\nlanguage = "en-GB"', "language",
         "ISO 639-1"),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\n[source.selectors]\nbody = "div[["',
            "selectors.body",
            "invalid CSS selector 'div[['",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\n[source.selectors]\n'
            'drop = ["aside", "p:has("]',
            "selectors.drop",
            "invalid CSS selector 'p:has('",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\n[source.selectors]\ncolour = "x"',
            "selectors.colour",
            "unknown key",
        ),
        (
            'id = "x"\nkind = "feed"\nlocation = "https://a/"\n[source.selectors]\ntitle = 1',
            "selectors.title",
            "CSS selector string",
        ),
        ('id = "x"\nkind = "section"\nlocation = "https://a/"\nlinks = "a:not("', "links",
         "invalid CSS selector"),
        ('id = "x"\nkind = "site"\nlocation = "https://a/"\nnext = ">>"', "next",
         "invalid CSS selector"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\nlinks = "a"', "links",
         "only for kinds 'section' and 'site'"),
        ('id = "x"\nkind = "section"\nlocation = "https://a/"\nmax_pages = 0', "max_pages",
         "from 1 to 50"),
        ('id = "x"\nkind = "section"\nlocation = "https://a/"\nmax_pages = 51', "max_pages",
         "from 1 to 50"),
        ('id = "x"\nkind = "site"', "location", "kind 'site' needs a location"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\nsilent_after_days = 0',
         "silent_after_days", "from 1 to 365"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\nsilent_after_days = 366',
         "silent_after_days", "from 1 to 365"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\nsilent_after_days = 1.5',
         "silent_after_days", "whole number of days"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\ndrift_share = 0',
         "drift_share", "above 0 and at most 1"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\ndrift_share = 1.2',
         "drift_share", "above 0 and at most 1"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\ndrift_share = "30%"',
         "drift_share", "above 0 and at most 1"),
        ('id = "x"\nkind = "feed"\nlocation = "https://a/"\npublishers = ["a.example"]',
         "publishers", "only for kind 'warc'"),
        ('id = "x"\nkind = "warc"\nlocation = "s3://bucket/a.warc.gz"', "location",
         "http(s) URL or a local path"),
        ('id = "x"\nkind = "warc"\nlocation = "a.warc"\npublishers = ["https://a.example/"]',
         "publishers", "not a host name"),
        ('id = "x"\nkind = "warc"\nlocation = "a.warc.gz"\nurl_patterns = ["/news/(["]',
         "url_patterns", "not a regular expression"),
        ('id = "x"\nkind = "warc"\nlocation = "a.warc.gz"\nlanguages = ["english"]',
         "languages", "ISO 639-1"),
        ('id = "x"\nkind = "warc"\nlocation = "a.warc.gz"\nwarc_since = 2026-11-01T00:00:00',
         "warc_since", "needs an offset"),
    ],
)
def test_invalid_entry_names_file_key_and_reason(
    tmp_path: Path, entry: str, key: str, reason: str
) -> None:
    path = write(tmp_path, f"[[source]]\n{entry}\n")
    with pytest.raises(SourcesError) as error:
        load_sources(path)
    message = str(error.value)
    assert str(path) in message
    assert f".{key}:" in message
    assert reason in message
    assert "\n" not in message


def test_errors_name_the_entry_by_index_and_id(tmp_path: Path) -> None:
    good = '[[source]]\nid = "a"\nkind = "feed"\nlocation = "https://a.example/f"\n'
    bad = '[[source]]\nid = "b"\nkind = "section"\nlocation = "https://b.example/"\n'
    path = write(tmp_path, good + bad + 'links = "li:has(> a"\n')
    with pytest.raises(SourcesError) as error:
        load_sources(path)
    assert str(error.value).startswith(f"{path}: source[1] (b).links: invalid CSS selector ")


def test_duplicate_source_ids_are_refused(tmp_path: Path) -> None:
    entry = '[[source]]\nid = "x"\nkind = "feed"\nlocation = "https://a.example/f"\n'
    with pytest.raises(SourcesError, match=r"source\[1\]\.id: duplicate id 'x'"):
        load_sources(write(tmp_path, entry * 2))


def test_broken_toml_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="not valid TOML"):
        load_sources(write(tmp_path, "[[source]\nid="))
    with pytest.raises(SourcesError, match="no such sources file"):
        load_sources(tmp_path / "absent.toml")


def test_timezone_is_read_as_the_sources_iana_zone(tmp_path: Path) -> None:
    entry = (
        '[[source]]\nid = "x"\nkind = "feed"\nlocation = "https://a.example/f"\n'
        'timezone = "Europe/Berlin"\n'
    )
    assert load_sources(write(tmp_path, entry))[0].timezone == "Europe/Berlin"
    plain = '[[source]]\nid = "y"\nkind = "feed"\nlocation = "https://a.example/f"\n'
    assert load_sources(write(tmp_path, plain))[0].timezone is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"Europe/Atlantis"', "unknown IANA time zone 'Europe/Atlantis'"),
        ('"+02:00"', "unknown IANA time zone"),
        ('"../../etc/passwd"', "unknown IANA time zone"),
        ("2", "must be an IANA time zone name"),
    ],
)
def test_unknown_timezone_is_refused_with_its_key(tmp_path: Path, value: str, reason: str) -> None:
    entry = (
        f'[[source]]\nid = "x"\nkind = "feed"\nlocation = "https://a.example/f"\n'
        f"timezone = {value}\n"
    )
    with pytest.raises(SourcesError, match=r"source\[0\] \(x\)\.timezone: ") as error:
        load_sources(write(tmp_path, entry))
    assert reason in str(error.value)


def test_health_thresholds_are_read_per_source_with_their_defaults(tmp_path: Path) -> None:
    entry = '[[source]]\nid = "{}"\nkind = "feed"\nlocation = "https://a.example/f"\n'
    text = entry.format("tuned") + "silent_after_days = 7\ndrift_share = 0.5\n"
    text += entry.format("whole") + "drift_share = 1\n" + entry.format("plain")
    tuned, whole, plain = load_sources(write(tmp_path, text))
    assert (tuned.silent_after_days, tuned.drift_share) == (7, 0.5)
    assert whole.drift_share == 1.0
    assert (plain.silent_after_days, plain.drift_share) == (3, 0.3)  # the README's defaults


def test_a_warc_source_reads_its_filters_and_places_local_paths_by_the_file(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        '[[source]]\nid = "cc"\nkind = "warc"\nlocation = "archives/*.warc.gz"\n'
        'publishers = ["WWW.Example.com", "news.example"]\nurl_patterns = ["/20[0-9]{2}/"]\n'
        'languages = ["EN", "de"]\nwarc_since = 2026-11-01T00:00:00Z\n'
        "warc_until = 2026-11-02T00:00:00+01:00\n"
        '[[source]]\nid = "remote"\nkind = "warc"\n'
        'location = "https://data.example/crawl-data/CC-NEWS/2026/11/warc.paths.gz"\n'
        'base_url = "https://mirror.example/"\n',
    )
    local, remote = load_sources(path)
    assert local.location == str(tmp_path / "archives" / "*.warc.gz")
    assert local.publishers == ("www.example.com", "news.example")
    assert local.url_patterns == ("/20[0-9]{2}/",)
    assert local.languages == ("en", "de")
    assert local.warc_since is not None
    assert local.warc_since.isoformat() == "2026-11-01T00:00:00+00:00"
    assert local.warc_until is not None
    assert local.warc_until.isoformat() == "2026-11-02T00:00:00+01:00"
    assert remote.location == "https://data.example/crawl-data/CC-NEWS/2026/11/warc.paths.gz"
    assert remote.base_url == "https://mirror.example/"
