"""An S3-compatible server on loopback for the tests: moto's server mode, in a thread of the
test process (so it can be stopped mid-run and started again with its buckets intact)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "newsflow-test",
    "AWS_SECRET_ACCESS_KEY": "newsflow-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "2",  # a stopped server fails a call in moments, not minutes
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class S3Server:
    """moto's S3 on 127.0.0.1; `env` points the AWS clients (and subprocesses) at it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        deadline = time.monotonic() + 30
        while True:  # ready when it answers HTTP
            try:
                requests.get(self.endpoint, timeout=2)
                return
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """A running server with `env` set in this process; always stopped at the end."""
    server = S3Server()
    old = {key: os.environ.get(key) for key in server.env}
    os.environ.update(server.env)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def make_bucket(name: str) -> None:
    from warehouse.store import filesystem

    filesystem().mkdir(name)


def fresh_lake_url() -> str:
    """The `s3://` URL of a lake in a new bucket of its own."""
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    make_bucket(bucket)
    return f"s3://{bucket}/lake"


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from warehouse.store import WorkingCopy

    with WorkingCopy(sys.argv[1], Path(sys.argv[2])):
        print("held", flush=True)
        sys.stdin.readline()
    """
)


@contextmanager
def held(url: str, data_dir: Path) -> Iterator[None]:
    """Another process holds the working copy for the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(data_dir)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
