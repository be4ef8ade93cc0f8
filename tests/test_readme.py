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
