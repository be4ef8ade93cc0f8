"""One closed set of reason codes: the table, the Literals that type the records, the sets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

from tasks.reasons import (
    FETCH_LOG_REASONS,
    REASONS,
    REJECTED_REASONS,
    STAGES,
    SUCCESS,
    TRANSIENT,
    ReasonCode,
    Stage,
)


def test_the_reason_literal_lists_exactly_the_codes_of_the_table() -> None:
    written = get_args(ReasonCode)
    assert len(written) == len(set(written))
    assert set(written) == set(REASONS)


def test_the_stage_literal_lists_exactly_the_stages_the_table_uses() -> None:
    used = {stage for reason in REASONS.values() for stage in reason.stages}
    assert set(get_args(Stage)) == used == set(STAGES)
    assert STAGES == ("discover", "frontier", "fetch", "archive", "extract", "dedupe")


def test_transient_reasons_are_the_ones_a_later_run_may_not_see() -> None:
    assert set(TRANSIENT) == {
        "http_5xx",
        "rate_limited",
        "timeout",
        "connection_error",
        "dns_error",
        "robots_unavailable",
        "host_unavailable",
    }


def test_each_table_gets_the_reasons_that_can_end_its_rows() -> None:
    assert {"ok", "not_modified", "http_404", "blocked_address", "parse_error"} <= (
        FETCH_LOG_REASONS
    )
    assert not {"over_cap", "not_article", "unchanged", "unsafe_xml", "no_items"} & (
        FETCH_LOG_REASONS
    )
    assert "ok" not in REJECTED_REASONS
    assert set(REASONS) - REJECTED_REASONS == {"ok"}
    assert set(SUCCESS) == {"ok", "not_modified"}


def test_an_empty_source_has_its_own_reason_at_the_discover_stage() -> None:
    reason = REASONS["no_items"]
    assert reason.stages == ("discover",)
    assert not reason.fetch_log
    assert not reason.transient
    assert "lists no article URL" in reason.meaning


def test_the_reasons_module_imports_no_stage() -> None:
    # The stages import the reasons, never the other way round (no import cycle).
    code = (
        "import sys, tasks.reasons; "
        "print(sorted(m for m in sys.modules if m.startswith('tasks.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert loaded.strip() == "['tasks.reasons']"
