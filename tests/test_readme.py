"""The README says what is built: its tables of reason codes and settings match the code."""

from __future__ import annotations

import re
from pathlib import Path

from flows.settings import Settings
from tasks.reasons import REASONS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_reason_table_lists_every_code_with_its_meaning_and_no_other() -> None:
    section = README[README.index("## Reason codes") : README.index("## Fetching")]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]*) \| ([^|]*) \| (.*) \|$", section, re.M)
    table = {code: meaning for code, _stages, _transient, meaning in rows}
    assert table == {code: reason.meaning for code, reason in REASONS.items()}
    transient = {code for code, _stages, flag, _meaning in rows if flag.strip() == "yes"}
    assert transient == {code for code, reason in REASONS.items() if reason.transient}


def test_every_setting_the_readme_names_exists() -> None:
    named = set(re.findall(r"NEWSFLOW_([A-Z0-9_]+)", README))
    fields = {name.upper() for name in Settings.model_fields}
    assert named <= fields, sorted(named - fields)


def test_the_source_health_section_states_the_thresholds_the_code_uses() -> None:
    from flows.health import SHORT_BODY_WORDS
    from tasks.records import DEFAULT_DRIFT_SHARE, DEFAULT_SILENT_AFTER_DAYS
    from warehouse.views import DRIFT_MIN_PAGES, HEALTH_HISTORY_RUNS

    start, end = README.index("### Source health and alerts"), README.index("## Reason codes")
    section = " ".join(README[start:end].split())  # line breaks as spaces
    assert f"a body under {SHORT_BODY_WORDS} words" in section
    assert f"in the {HEALTH_HISTORY_RUNS} runs before it" in section
    assert f"extracted {DRIFT_MIN_PAGES} pages or more" in section
    assert f"`silent_after_days` (default {DEFAULT_SILENT_AFTER_DAYS})" in section
    assert f"`drift_share` (default {DEFAULT_DRIFT_SHARE})" in section
