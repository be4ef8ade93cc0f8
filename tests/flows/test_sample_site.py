from pathlib import Path

import requests

from flows.sample_site import SampleSite, serve_sample_site


def get(site: SampleSite, url: str) -> requests.Response:
    """GET a sample-site URL the way the fetcher reaches it: at its host's pinned port."""
    host = url.removeprefix("http://").split("/", 1)[0]
    address, port = site.pins[host]
    return requests.get(
        url.replace(f"http://{host}", f"http://{address}:{port}", 1),
        headers={"Host": host},
        timeout=5,
    )


def make_site(root: Path) -> Path:
    (root / "alpha" / "news").mkdir(parents=True)
    (root / "beta").mkdir()
    (root / "alpha" / "feed.xml").write_text(
        "<rss><item><link>{{site:alpha}}/news/a.html</link>"
        "<link>{{site:beta}}/b.html</link></item></rss>",
        encoding="utf-8",
    )
    (root / "alpha" / "news" / "a.html").write_text("<p>café</p>", encoding="utf-8")
    (root / "alpha" / "news" / "index.html").write_text("<p>index</p>", encoding="utf-8")
    (root / "beta" / "b.html").write_text("<p>b</p>", encoding="utf-8")
    (root / "secret.txt").write_text("outside the outlet", encoding="utf-8")
    return root


def test_each_outlet_is_its_own_host_and_placeholders_become_base_urls(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path)) as site:
        assert site.bases == {"alpha": "http://alpha.localhost", "beta": "http://beta.localhost"}
        assert site.pins.keys() == {"alpha.localhost", "beta.localhost"}
        assert site.pins["alpha.localhost"] != site.pins["beta.localhost"]
        feed = get(site, "http://alpha.localhost/feed.xml")
        assert feed.status_code == 200
        assert "<link>http://alpha.localhost/news/a.html</link>" in feed.text
        assert "<link>http://beta.localhost/b.html</link>" in feed.text


def test_query_strings_are_ignored_and_directories_serve_index(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path)) as site:
        page = get(site, "http://alpha.localhost/news/a.html?utm_source=rss&fbclid=x")
        assert page.content.decode("utf-8") == "<p>café</p>"
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert get(site, "http://alpha.localhost/news/").text == "<p>index</p>"


def test_missing_files_and_paths_outside_the_outlet_answer_404(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path)) as site:
        base = site.bases["alpha"]
        assert get(site, f"{base}/nothing.html").status_code == 404
        assert get(site, f"{base}/../secret.txt").status_code == 404
        assert get(site, f"{base}/%2e%2e/secret.txt").status_code == 404


def test_only_requested_outlets_are_served(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path), {"beta"}) as site:
        assert set(site.bases) == {"beta"}


def test_two_sites_at_once_serve_the_same_urls_on_different_ports(tmp_path: Path) -> None:
    """A second newsflow (or a test session) never finds the sample site's port taken, and
    the URLs, article ids and feed validators keyed by them do not depend on the port."""
    site_dir = make_site(tmp_path)
    with serve_sample_site(site_dir) as first, serve_sample_site(site_dir) as second:
        assert first.bases == second.bases
        assert first.pins["alpha.localhost"] != second.pins["alpha.localhost"]
        assert get(second, "http://alpha.localhost/news/a.html").status_code == 200
