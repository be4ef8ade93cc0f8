"""The run forms the Prefect UI draws from the deployments, and picking sources by id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from flowenv import environment

from flows.deployments import build_deployments
from flows.ingest import nightly_ingest
from flows.runs import RunRequestError, pick_sources
from flows.settings import load_settings
from tasks.records import Source

SOURCES = """
[[source]]
id = "alpha"
kind = "feed"
location = "https://alpha.example/feed.xml"

[[source]]
id = "beta"
kind = "feed"
location = "https://beta.example/feed.xml"
enabled = false

[[source]]
id = "gamma"
kind = "urls"
urls = ["https://gamma.example/a.html"]
"""


@pytest.fixture
def forms(tmp_path: Path) -> Iterator[dict[str, dict]]:
    """Each deployment's parameter schema, keyed by deployment name."""
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    values = {
        "NEWSFLOW_SOURCES_FILE": str(path),
        "NEWSFLOW_DATA_DIR": str(tmp_path / "data"),
        "NEWSFLOW_MAX_ARTICLES": "40",
        "NEWSFLOW_TIMEZONE": "Europe/Berlin",
    }
    with environment(values):
        built = build_deployments(load_settings())
    return {d.name: d._parameter_openapi_schema.model_dump() for d in built}


def test_every_deployment_offers_the_configured_sources_by_id(forms: dict[str, dict]) -> None:
    for name in ("nightly", "backfill", "backfill-date", "reprocess"):
        sources = forms[name]["properties"]["sources"]
        assert sources["type"] == "array"
        assert sources["uniqueItems"] is True
        assert sources["items"]["enum"] == ["alpha", "beta", "gamma"], name  # the file's order
        assert sources["default"] == ["alpha", "gamma"], name  # the enabled ones


def test_dates_are_date_fields_and_no_field_opens_on_none(forms: dict[str, dict]) -> None:
    for name, schema in forms.items():
        for field, spec in schema["properties"].items():
            assert "anyOf" not in spec, (name, field)  # no "date | None" type switch
            assert spec.get("default", "absent") is not None, (name, field)
            assert spec["description"].strip(), (name, field)
            assert spec["title"] != field or field == "sources", (name, field)
    for name, field in [
        ("nightly", "run_date"),
        ("backfill", "start"),
        ("backfill", "end"),
        ("backfill-date", "run_date"),
        ("reprocess", "run_date"),
    ]:
        spec = forms[name]["properties"][field]
        assert (spec["type"], spec["format"]) == ("string", "date"), (name, field)


def test_the_cap_opens_on_the_configured_value_and_the_file_path_is_not_offered(
    forms: dict[str, dict],
) -> None:
    assert forms["nightly"]["properties"]["max_articles"]["default"] == 40
    assert forms["nightly"]["properties"]["max_articles"]["minimum"] == 1
    assert all("sources_file" not in schema["properties"] for schema in forms.values())
    assert forms["backfill"]["required"] == ["start", "end"]


def test_each_deployment_says_what_it_does_when_it_runs_and_how_to_read_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    values = {"NEWSFLOW_SOURCES_FILE": str(path), "NEWSFLOW_TIMEZONE": "Europe/Berlin"}
    with environment(values):
        built = {d.name: d for d in build_deployments(load_settings())}
    nightly = built["nightly"]
    assert "30 2 * * *" in (nightly.description or "")
    assert "Europe/Berlin" in (nightly.description or "")
    assert "tz:Europe/Berlin" in nightly.tags
    assert nightly.schedules[0].schedule.timezone == "Europe/Berlin"  # type: ignore[union-attr]
    for deployment in built.values():
        text = deployment.description or ""
        assert "run-report" in text, deployment.name
        assert "newsflow sql" in text, deployment.name
        assert "When:" in text, deployment.name


def test_a_broken_sources_file_stops_serve_before_registering_anything(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nid = "x"\nkind = "feed"\n')
    with (
        environment({"NEWSFLOW_SOURCES_FILE": str(path)}),
        pytest.raises(RunRequestError, match="location"),
    ):
        build_deployments(load_settings())


def _source(id_: str, enabled: bool = True) -> Source:
    return Source(id=id_, kind="feed", location=f"https://{id_}.example/f", enabled=enabled)


def test_picking_sources_by_id_keeps_the_files_order_and_runs_a_disabled_one_named() -> None:
    sources = (_source("a"), _source("b", enabled=False), _source("c"))
    origin = Path("s.toml")
    assert [s.id for s in pick_sources(sources, ["c", "b"], origin)] == ["b", "c"]
    assert [s.id for s in pick_sources(sources, None, origin)] == ["a", "c"]
    assert [s.id for s in pick_sources(sources, [], origin)] == ["a", "c"]


def test_an_unknown_source_id_is_refused_naming_the_ids_the_file_has() -> None:
    sources = (_source("a"), _source("b"))
    with pytest.raises(RunRequestError, match=r"no source with id 'zz' \(its sources: a, b\)"):
        pick_sources(sources, ["a", "zz"], Path("s.toml"))


def test_a_file_with_no_enabled_source_is_refused_unless_one_is_named() -> None:
    sources = (_source("a", enabled=False),)
    with pytest.raises(RunRequestError, match="no enabled source"):
        pick_sources(sources, None, Path("s.toml"))
    assert [s.id for s in pick_sources(sources, ["a"], Path("s.toml"))] == ["a"]


def test_a_run_of_one_picked_source_ingests_only_that_source(
    tmp_path: Path, prefect_harness: None
) -> None:
    values = {"NEWSFLOW_DATA_DIR": str(tmp_path), "NEWSFLOW_PER_HOST_DELAY_S": "0.05"}
    with environment(values):
        summary = nightly_ingest(run_date=date(2023, 10, 20), sources=["daily-courier"])
    assert [c.source_id for c in summary.per_source] == ["daily-courier"]
    with duckdb.connect(str(tmp_path / "newsflow.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT sources FROM runs").fetchall()
        ids = con.execute("SELECT DISTINCT source_id FROM article_versions").fetchall()
    assert runs == [(["daily-courier"],)]
    assert ids == [("daily-courier",)]


def test_a_run_naming_an_unknown_source_fails_before_any_work(
    tmp_path: Path, prefect_harness: None
) -> None:
    with (
        environment({"NEWSFLOW_DATA_DIR": str(tmp_path / "data")}),
        pytest.raises(RunRequestError, match="no source with id 'nope'"),
    ):
        nightly_ingest(run_date=date(2023, 10, 20), sources=["nope"])
    assert not (tmp_path / "data").exists()
