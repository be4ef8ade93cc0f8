"""The Prefect API a command-line run reports to: the user's server, or a temporary one.

With `PREFECT_API_URL` set, runs report to that server (it must answer). Without it, a
server that `newsflow server` started is used when it answers: it records its API URL in
`$PREFECT_HOME/newsflow-server.url` while it runs (`SERVER_RECORD`). Otherwise the
command starts Prefect's temporary server itself, waits for it as long as the settings allow
(`prefect_start_timeout_s`: a busy 2-core machine needs about 50 s, Prefect's own default is
20 s) and stops it when the command ends, however it ends: normally, on an error, or on
SIGTERM (the CLI turns SIGTERM into SystemExit, so this block's cleanup runs).

Inside the block the Prefect client gives up on an unreachable server after a couple of
retries, so a run that has published its data and then loses the server ends in seconds,
not minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Prefect's default (5 retries, exponential backoff) waits minutes for a dead server; one
# retry still rides out a momentary error of a busy server.
CLIENT_RETRIES = 1


SERVER_RECORD = "newsflow-server.url"


def running_server(record: Path) -> str | None:
    """The API URL in `record` (written by `newsflow server`) when that server answers."""
    import httpx

    try:
        url = record.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        _check_health(url, timeout_s=5)
    except (httpx.HTTPError, httpx.InvalidURL):  # gone, or a record that is not a URL
        return None
    return url


def _check_health(api: str, timeout_s: float) -> None:
    """Raise `httpx.HTTPError` unless the Prefect API at `api` answers its health check."""
    import httpx

    httpx.get(f"{api.rstrip('/')}/health", timeout=timeout_s).raise_for_status()


def server_record() -> Path:
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()) / SERVER_RECORD


class PrefectUnavailable(RuntimeError):
    """No Prefect API to report to: the configured one does not answer, or the temporary
    one did not start in time. The message says what to do."""


@contextmanager
def prefect_session(start_timeout_s: float, say: Callable[[str], None]) -> Iterator[str]:
    """Make a Prefect API available for the block; yields its URL."""
    import httpx
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_CLIENT_MAX_RETRIES,
        temporary_settings,
    )

    api = PREFECT_API_URL.value()
    if api:
        try:
            _check_health(api, timeout_s=10)
        except httpx.HTTPError as error:
            raise PrefectUnavailable(
                f"the Prefect server at PREFECT_API_URL={api} does not answer ({error}): "
                "start it (newsflow server), or unset PREFECT_API_URL to use a temporary one"
            ) from None
    else:
        api = running_server(server_record())
        if api is not None:
            say(f"Reporting to the Prefect server newsflow server started at {api}")
    if api:
        settings = {PREFECT_API_URL: api, PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES}
        with temporary_settings(settings):
            yield api
        return

    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    say(
        f"Starting Prefect's temporary server (up to {start_timeout_s:g} s; "
        "`newsflow server` runs one that every command can reuse)"
    )
    try:
        try:
            server.start(timeout=max(1, round(start_timeout_s)))
        except RuntimeError as error:
            first = str(error).split(".")[0]
            raise PrefectUnavailable(
                f"{first} within {start_timeout_s:g} s. A busy machine can need longer: "
                "set NEWSFLOW_PREFECT_START_TIMEOUT_S=600, or start a server once with "
                "`newsflow server` and export PREFECT_API_URL=http://127.0.0.1:4200/api"
            ) from None
        settings = {PREFECT_API_URL: server.api_url, PREFECT_CLIENT_MAX_RETRIES: CLIENT_RETRIES}
        with temporary_settings(settings):
            try:
                yield server.api_url
            finally:
                if server.server_process is not None and server.server_process.poll() is None:
                    _deliver_pending()
    finally:
        server.stop()


def _deliver_pending() -> None:
    """Send the logs and events still queued to the server before it stops (bounded)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)
