from pathlib import Path

import requests

from flows.sample_site import serve_sample_site


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


def test_each_outlet_has_its_own_port_and_placeholders_become_base_urls(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path)) as site:
        alpha, beta = site.bases["alpha"], site.bases["beta"]
        assert alpha != beta
        feed = requests.get(f"{alpha}/feed.xml", timeout=5)
        assert feed.status_code == 200
        assert f"<link>{alpha}/news/a.html</link>" in feed.text
        assert f"<link>{beta}/b.html</link>" in feed.text
        assert site.netlocs == {alpha.removeprefix("http://"), beta.removeprefix("http://")}


def test_query_strings_are_ignored_and_directories_serve_index(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path)) as site:
        page = requests.get(f"{site.bases['alpha']}/news/a.html?utm_source=rss&fbclid=x", timeout=5)
        assert page.content.decode("utf-8") == "<p>café</p>"
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert requests.get(f"{site.bases['alpha']}/news/", timeout=5).text == "<p>index</p>"


def test_missing_files_and_paths_outside_the_outlet_answer_404(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path)) as site:
        base = site.bases["alpha"]
        assert requests.get(f"{base}/nothing.html", timeout=5).status_code == 404
        assert requests.get(f"{base}/../secret.txt", timeout=5).status_code == 404
        assert requests.get(f"{base}/%2e%2e/secret.txt", timeout=5).status_code == 404


def test_only_requested_outlets_are_served(tmp_path: Path) -> None:
    with serve_sample_site(make_site(tmp_path), {"beta"}) as site:
        assert set(site.bases) == {"beta"}


def test_base_port_gives_each_outlet_a_stable_port_across_restarts(tmp_path: Path) -> None:
    from prefectserver import free_port

    base = free_port()
    site_dir = make_site(tmp_path)
    with serve_sample_site(site_dir, {"beta"}, base_port=base) as first:
        assert first.bases == {"beta": f"http://127.0.0.1:{base + 1}"}
    with serve_sample_site(site_dir, base_port=base) as second:
        assert second.bases == {
            "alpha": f"http://127.0.0.1:{base}",
            "beta": f"http://127.0.0.1:{base + 1}",
        }
