"""Real processes and a real browser for the UI test.

- `Process`: `newsflow ARGS` in a session of its own, its output in a log file; `stop()` ends
  the whole process group (the server's uvicorn, the flow runs `serve` starts), and
  `running(...)` stops it however the block ends.
- `wait_until`: poll a condition, failing early (with the logs) when a process it depends on
  has exited.
- `loopback_browser`: headless Debian chromium driven by Playwright, in a context that aborts
  every request to a host other than loopback (the new Prefect UI calls an analytics host);
  the aborted URLs are collected.
- `Screenshots`: numbered PNG files in a directory a person can open, `UI_SCREENSHOTS` when set
  (kept), else the test's temporary directory.
- `newsflow_sql`: `newsflow sql --format json` as a user runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (`make browser`)
NEWSFLOW = Path(sys.executable).with_name("newsflow")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SCREENSHOTS_VARIABLE = "UI_SCREENSHOTS"

T = TypeVar("T")


class Process:
    """`newsflow ARGS` in a new session; stdout and stderr together in `<log_dir>/<name>.log`."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(NEWSFLOW), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=log_dir,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} ({self.log}) ---\n{self.output()[-chars:]}"

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM to the process group, SIGKILL to whatever is left after `grace` seconds."""
        group = self.process.pid  # the session leader's pid is its group id
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # children that outlived their parent, if any
        self.process.wait()


@contextlib.contextmanager
def running(name: str, args: list[str], env: Mapping[str, str], log_dir: Path) -> Iterator[Process]:
    process = Process(name, args, env, log_dir)
    try:
        yield process
    finally:
        process.stop()


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, *watched: Process
) -> T:
    """The first truthy value of `condition()`, polled every half second; an error naming
    `what` (with the watched processes' logs) on timeout or when a watched process exits."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        gone = [p for p in watched if p.exited()]
        if gone or time.monotonic() > deadline:
            why = f"{', '.join(p.name for p in gone)} exited" if gone else f"{timeout:.0f} s"
            logs = "\n".join(p.tail() for p in watched)
            raise AssertionError(f"gave up waiting for {what} ({why})\n{logs}")
        time.sleep(0.5)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return parts.hostname in LOOPBACK_HOSTS


@contextlib.contextmanager
def loopback_browser() -> Iterator[tuple[BrowserContext, list[str]]]:
    """A headless chromium context that reaches loopback only; yields it and the list of the
    URLs it refused."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise AssertionError(f"{CHROMIUM} is missing: run `make browser` as root")
    refused: list[str] = []

    def only_loopback(route: Route) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("blockedbyclient")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/*", only_loopback)
            yield context, refused
        finally:
            browser.close()


class Screenshots:
    """Full-page PNGs named `01-<name>.png`, `02-...` in the order taken."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.taken: list[Path] = []

    @classmethod
    def for_test(cls, tmp_path: Path) -> Screenshots:
        """In `$UI_SCREENSHOTS` when set (kept after the run), else `<tmp_path>/screenshots`."""
        chosen = os.environ.get(SCREENSHOTS_VARIABLE)
        return cls(Path(chosen).absolute() if chosen else tmp_path / "screenshots")

    def take(self, page: Page, name: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


def newsflow_sql(env: Mapping[str, str], query: str, *options: str) -> list[dict[str, object]]:
    """The rows of `newsflow OPTIONS sql --format json QUERY`, run as a user runs it."""
    done = subprocess.run(
        [str(NEWSFLOW), *options, "sql", "--format", "json", query],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"newsflow sql {query!r}: {done.stderr}"
    rows = json.loads(done.stdout)
    assert isinstance(rows, list)
    return rows
