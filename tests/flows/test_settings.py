from pathlib import Path

import pytest
from pydantic import ValidationError

from flows.settings import load_settings


def test_settings_come_from_prefixed_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSFLOW_SPACY_MODEL", "xx_other_model")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.spacy_model == "xx_other_model"


def test_explicit_overrides_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_BATCH_SIZE", "50")
    assert load_settings(batch_size=7).batch_size == 7
    assert load_settings(batch_size=None).batch_size == 50


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        load_settings(timezone="Mars/Olympus")


def test_user_agent_carries_contact_url() -> None:
    settings = load_settings(contact_url="https://example.org/bot")
    assert settings.full_user_agent.endswith("(+https://example.org/bot)")


def test_settings_in_force_beat_the_environment_inside_the_block_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from flows.settings import using

    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path / "from-env"))
    chosen = load_settings(data_dir=tmp_path / "from-flag")
    with using(chosen):
        assert load_settings().data_dir == tmp_path / "from-flag"
        assert load_settings(batch_size=9).data_dir == tmp_path / "from-flag"
        assert load_settings(batch_size=9).batch_size == 9
    assert load_settings().data_dir == tmp_path / "from-env"
