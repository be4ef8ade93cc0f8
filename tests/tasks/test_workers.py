"""Worker processes import spaCy only when they load a model (`tasks.workers`)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tasks.enrich import DEFAULT_MODEL
from tasks.workers import warm_up

WARM_UP = """
import sys
import flows.cli, flows.ingest
from tasks.workers import warm_up
warm_up(None if sys.argv[1] == "-" else sys.argv[1])
print(sorted(m for m in ("spacy", "tasks.enrich") if m in sys.modules))
if "tasks.enrich" in sys.modules:
    print(sys.modules["tasks.enrich"].loaded_models())
"""


def _warm_up(model: str) -> list[str]:
    """What a fresh process that imported the flows printed after `warm_up(model)`."""
    result = subprocess.run(
        [sys.executable, "-c", WARM_UP, model],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.split("\n")[:-1]


def test_the_flows_and_a_worker_without_a_model_do_not_import_spacy() -> None:
    assert _warm_up("-") == ["[]"]


def test_a_worker_given_a_model_loads_it_as_it_starts() -> None:
    assert _warm_up(DEFAULT_MODEL) == ["['spacy', 'tasks.enrich']", "1"]


def test_a_worker_whose_model_is_missing_starts_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker also extracts pages: a missing model is logged, and the enrichment batches
    that need it fail on their own (`ModelNotInstalled`)."""
    with caplog.at_level(logging.WARNING, logger="tasks.enrich"):
        warm_up("newsflow_no_such_model")
    assert "newsflow_no_such_model" in caplog.text
    assert "spacy_model" in caplog.text
