"""Fixtures of the warehouse tests that talk to an S3 store (`test_store*.py`): moto's S3
server on loopback, started once per module that asks for it, and a bucket per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from s3store import S3Server, fresh_lake_url, s3_server


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    with s3_server() as running:
        yield running


@pytest.fixture
def url(server: S3Server) -> str:
    """A bucket of its own for each test."""
    return fresh_lake_url()
