"""Test-wide guards: offline by default, Prefect kept in a temporary home."""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator

import pytest

# Prefect reads these when it is first imported: set them before any test module imports it.
# The temporary home is made by the first pytest process only (workers and subprocesses
# inherit it) and removed when that process exits.
if "PREFECT_HOME" not in os.environ:
    _PREFECT_HOME = tempfile.mkdtemp(prefix="newsflow-prefect-")
    os.environ["PREFECT_HOME"] = _PREFECT_HOME
    atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NonLoopbackConnection(AssertionError):
    """A test tried to open a socket to an address outside 127.0.0.0/8 and ::1."""


def _check(address: object) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise NonLoopbackConnection(f"connect to unresolved host {host!r}") from None
        if not ip.is_loopback:
            raise NonLoopbackConnection(f"connect to non-loopback address {host}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> Iterator[None]:
    """Fail any test that opens a socket to a non-loopback address."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# Hypothesis, project-wide: no per-example deadline (a loaded machine, or a mutant under
# `make mutate`, makes a fast example slow, and a timing failure says nothing about behaviour),
# and derandomized, so a run tries the same examples each time and a red test stays red.
# NEWSFLOW_HYPOTHESIS_PROFILE=explore searches afresh, with more examples, when hunting bugs.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "newsflow",
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("NEWSFLOW_HYPOTHESIS_PROFILE", "newsflow"))
