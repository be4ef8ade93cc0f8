"""What the run's worker processes are handed by name: their start-up (`flows.pipeline.cpu_pool`,
Dask's `flows.cluster_worker`) and enrichment with a model named in the settings.

spaCy is imported only by a process that loads a model (`tasks.enrich`): a run without
enrichment, and the flow's own process, which hands enrichment to its workers, do not pay for
the import (0.6 s of CPU per process on the machine this was measured on).
"""

from __future__ import annotations

from collections.abc import Sequence

from tasks.records import Article, Enrichment


def warm_up(model_name: str | None) -> None:
    """Load `model_name` into this process's cache now (`tasks.enrich.warm_up`); nothing, not
    even spaCy's import, without a model."""
    if model_name is None:
        return
    from tasks import enrich

    enrich.warm_up(model_name)


def enrich_with_model(articles: Sequence[tuple[str, Article]], model_name: str) -> Enrichment:
    """`tasks.enrich.enrich_with_model`: entities and quotes of `articles` with the named model,
    loaded once per process."""
    from tasks import enrich

    return enrich.enrich_with_model(articles, model_name)
