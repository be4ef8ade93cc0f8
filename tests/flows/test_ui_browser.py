"""The Prefect UI as a new user meets it, in headless chromium (issue 10).

`newsflow server` and `newsflow serve` run as real processes on a free port, with a temporary
data dir and a sources file of three sample-site outlets. The browser opens the link that
`newsflow serve` printed (the new UI, /v2), goes to the nightly deployment, fills its Custom run
form with ONE source and a date, submits, follows the flow run to completion, opens its
artifacts (the progress artifacts and the `run-report`), and the rows are checked through
`newsflow sql`: the picked source's, of the picked date, and no other source's.

The browser reaches loopback only. Screenshots of every step (and of the page at a failure)
are kept as PNG files: in `$UI_SCREENSHOTS` when set, else in the test's temporary directory;
the test prints the directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from datetime import date
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Locator, Page, expect
from prefectserver import free_port
from uiprocesses import Process, Screenshots, loopback_browser, newsflow_sql, running, wait_until

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(1200)]

SOURCES = """\
[[source]]
id = "daily-courier"
name = "The Daily Courier"
kind = "feed"
location = "{{site:daily-courier}}/feed.xml"
enabled = true
language = "en"

[[source]]
id = "metro-ledger"
name = "Metro Ledger"
kind = "feed"
location = "{{site:metro-ledger}}/atom.xml"
enabled = true

[[source]]
id = "lakeside-echo"
name = "The Lakeside Echo"
kind = "section"
location = "{{site:lakeside-echo}}/news/"
max_pages = 3
enabled = true
"""
PICKED = "daily-courier"
RUN_DATE = date(2023, 10, 20)
SERVER_START_S = 300  # Prefect's server takes 20-50 s to start on a busy machine
RUN_S = 600
UI_MS = 60_000  # one page or element of the UI
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
PROGRESS = {  # stage -> its progress artifact's description (issue 10's contract)
    "fetch": r"fetch: \d+ of \d+ URLs",
    "extract": r"extract: \d+ of \d+ URLs",
    "enrich": r"enrich: \d+ of \d+ articles",
}


def test_a_run_picked_in_the_custom_run_form_shows_its_artifacts_and_rows(
    tmp_path: Path,
) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES)
    env = {
        **os.environ,
        "PREFECT_API_URL": f"{origin}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "true",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_SOURCES_FILE": str(sources),
    }
    shots = Screenshots.for_test(tmp_path)
    print(f"screenshots of the UI test: {shots.directory}")
    homes = {name: tmp_path / f"prefect-{name}" for name in ("server", "serve")}
    for home in homes.values():
        home.mkdir()

    server_env = {**env, "PREFECT_HOME": str(homes["server"])}
    with running("server", ["server", "--port", str(port)], server_env, tmp_path) as server:
        # What `newsflow server` prints once the server answers: the UI a browser is sent to.
        ready = wait_until(
            lambda: re.search(r"Prefect UI ready: (\S+)", server.output()),
            SERVER_START_S,
            "newsflow server to say the UI is ready",
            server,
        )
        assert ready[1] == f"{origin}/v2"
        assert _answers(f"{origin}/api/health")
        serve_env = {**env, "PREFECT_HOME": str(homes["serve"])}
        with running("serve", ["serve"], serve_env, tmp_path) as serving:
            # What `newsflow serve` prints: the deployments, in the UI users see.
            link = wait_until(
                lambda: _printed_link(serving, origin, "/deployments"),
                SERVER_START_S,
                "newsflow serve to print the deployments' link",
                serving,
                server,
            )
            assert link == f"{origin}/v2/deployments", serving.output()

            with loopback_browser() as (context, refused):
                page = context.new_page()
                page.set_default_timeout(UI_MS)  # actions; and assertions:
                expect.set_options(timeout=UI_MS)
                try:
                    run_id = _submit_custom_run(page, link, shots)
                    run = wait_until(
                        lambda: _finished(origin, run_id), RUN_S, "the flow run", serving, server
                    )
                    assert run["state_type"] == "COMPLETED", (
                        f"{run['state_name']}: {run['state']['message']}\n{serving.tail()}"
                    )
                    assert run["parameters"]["run_date"] == RUN_DATE.isoformat()
                    assert run["parameters"]["sources"] == [PICKED]
                    page.reload()
                    expect(page.get_by_text(run["state_name"], exact=True).first).to_be_visible()
                    shots.take(page, "flow-run-completed")
                    # the run's own link in serve's log is the new UI's too
                    run_link = _printed_link(serving, origin, f"/runs/flow-run/{run_id}")
                    assert run_link == f"{origin}/v2/runs/flow-run/{run_id}", serving.tail()

                    report_command = _check_artifacts(page, shots)
                except BaseException:
                    with contextlib.suppress(Exception):  # the page as it was, if it still is
                        shots.take(page, "failure")
                    raise
            print(f"requests the browser refused (not loopback): {refused}")

    # The rows, through `newsflow sql`: the picked source's, of the picked date, no other's.
    articles = newsflow_sql(
        env, "SELECT source_id, run_date, count(*) AS articles FROM articles GROUP BY ALL"
    )
    assert [(r["source_id"], r["run_date"]) for r in articles] == [(PICKED, RUN_DATE.isoformat())]
    assert isinstance(articles[0]["articles"], int)
    assert articles[0]["articles"] > 0
    assert newsflow_sql(env, "SELECT DISTINCT source_id FROM fetch_log") == [
        {"source_id": PICKED}
    ]
    # The first command the report gives to see the run's rows: the picked source's articles.
    assert report_command[0] == "newsflow"
    sql = report_command.index("sql")
    rows = newsflow_sql(env, report_command[sql + 1], *report_command[1:sql])
    assert rows
    assert {r["source_id"] for r in rows} == {PICKED}


def _submit_custom_run(page: Page, deployments_link: str, shots: Screenshots) -> str:
    """From the printed link to the nightly deployment, its Custom run form filled with one
    source and a date, submitted; ends on the new run's page and returns its id."""
    page.goto(deployments_link)
    expect(page).to_have_title(re.compile(r"^Deployments\b"))
    nightly = page.get_by_role("link", name="nightly", exact=True)
    expect(nightly).to_be_visible()
    shots.take(page, "deployments")
    nightly.click()
    expect(page).to_have_title(re.compile(r"^Deployment: nightly\b"))
    assert "/v2/deployments/deployment/" in page.url
    shots.take(page, "nightly-deployment")

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Custom run").click()
    form = re.compile(r"^Create Flow Run\b")
    expect(page).to_have_title(form)
    submit = page.get_by_role("button", name="Submit")
    expect(submit).to_be_visible()
    shots.take(page, "custom-run-form")
    run_name = page.get_by_label("Run Name").input_value()
    _pick_date(page, RUN_DATE)
    _pick_one_source(page, PICKED)
    shots.take(page, "custom-run-filled")
    submit.click()

    # back on the deployment: the new run is in its list
    expect(page).not_to_have_title(form)
    page.get_by_role("link", name=run_name, exact=True).first.click()
    page.wait_for_url(re.compile(r"/v2/runs/flow-run/[0-9a-f-]{36}"))
    return page.url.split("/runs/flow-run/")[1][:36]


def _pick_date(page: Page, day: date) -> None:
    """The run date's date picker: typed into its text box (yyyy-MM-dd)."""
    page.get_by_role("button").filter(has_text="Pick a date").click()
    box = page.get_by_label("Date (yyyy-MM-dd)")
    box.fill(day.isoformat())
    box.press("Enter")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button").filter(has_text=day.strftime("%B"))).to_be_visible()


def _pick_one_source(page: Page, source_id: str) -> None:
    """The sources multi-select (it opens on every enabled source): every other source's tag
    removed, the picked one chosen from the list if it is not there."""
    tags = page.get_by_role("button", name=re.compile(r"^Remove .+ tag$"))
    picked = page.get_by_role("button", name=f"Remove {source_id} tag", exact=True)
    others = page.get_by_role(
        "button", name=re.compile(rf"^Remove (?!{re.escape(source_id)} tag$).+ tag$")
    )
    while others.count():
        others.first.click()
    if not picked.count():
        page.locator('button[aria-haspopup="listbox"]').click()
        page.get_by_role("option", name=source_id, exact=True).click()
        page.keyboard.press("Escape")
    expect(tags).to_have_count(1)
    expect(picked).to_be_visible()


def _check_artifacts(page: Page, shots: Screenshots) -> list[str]:
    """On the run's page: its Artifacts tab shows one progress artifact per batched stage,
    each at 100%, the run report and the chart table; the report names the picked source and
    gives `newsflow sql` commands, the first of which is returned as its arguments."""
    run_page = page.url.split("?")[0]
    cards = _artifact_cards(page)
    for description in PROGRESS.values():
        card = cards.filter(has_text=re.compile(description))
        expect(card).to_have_count(1)
        expect(card).to_contain_text("progress", ignore_case=True)
    for key in ("run-report", "articles-per-source"):
        expect(cards.filter(has_text=key)).to_have_count(1)
    shots.take(page, "artifacts")

    for stage, description in PROGRESS.items():
        cards.filter(has_text=re.compile(description)).click()
        expect(page).to_have_title(re.compile(r"^Artifact: Progress\b"))
        expect(page.get_by_role("main")).to_contain_text(re.compile(description))
        expect(page.get_by_text("Progress: 100%")).to_be_visible()
        shots.take(page, f"{stage}-progress")
        page.goto(run_page)
        cards = _artifact_cards(page)

    cards.filter(has_text="run-report").click()
    expect(page).to_have_title(re.compile(r"^Artifact: run-report\b"))
    report = page.get_by_role("main")
    expect(report).to_contain_text(PICKED)
    expect(report.locator("pre").filter(has_text="sql").first).to_be_visible()
    shots.take(page, "run-report")
    commands = [
        line.strip()
        for text in report.locator("pre").all_inner_texts()
        for line in text.splitlines()
        if re.match(r"newsflow\b.*\bsql\b", line.strip())
    ]
    assert commands, report.inner_text()
    return shlex.split(commands[0])


def _artifact_cards(page: Page) -> Locator:
    """The run page's Artifacts tab opened; its cards."""
    page.get_by_role("tab", name="Artifacts").click()
    return page.get_by_role("tabpanel").get_by_role("link")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _printed_link(process: Process, origin: str, ending: str) -> str | None:
    """The first link to `origin` in the process's output that ends with `ending`."""
    links = re.findall(re.escape(origin) + r"/[^\s\[\]]*", process.output())
    return next((link for link in links if link.endswith(ending)), None)


def _finished(origin: str, run_id: str) -> dict | None:
    try:
        run = requests.get(f"{origin}/api/flow_runs/{run_id}", timeout=10).json()
    except (requests.RequestException, ValueError):
        return None
    return run if run.get("state_type") in TERMINAL else None
