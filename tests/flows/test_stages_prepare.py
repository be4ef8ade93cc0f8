"""prepare-batch, the one task a Dask worker runs for a batch (`flows.stages.prepare_task`):
the same cleaned batch as extract-batch, the run's `keep` filter and clean-batch in turn; and a
batch sent to a worker as `flows.cluster.whole` arrives as the batch it was.

The pages are sample-site pages: stories, and a home page that is no article.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime

import cloudpickle
import pytest

from flows import cluster
from flows.pipeline import Keep
from flows.settings import SEEDS_DIR
from flows.stages import CleanedBatch, clean_task, extract_task, prepare_task
from tasks.records import Article, FetchedPage, Rejected

SITE = SEEDS_DIR / "sample_site" / "daily-courier"


def pages() -> list[FetchedPage]:
    files = sorted(p for p in SITE.rglob("*.html") if p.name != "index.html")[:6]
    fetched_at = datetime(2023, 10, 15, 2, 30, tzinfo=UTC)
    found = [*files, SITE / "index.html"]
    return [
        FetchedPage(
            "daily-courier", f"http://courier.test/{n}", f"http://courier.test/{n}", 200,
            "text/html", path.read_bytes(), fetched_at,
        )
        for n, path in enumerate(found)
    ]


def refuse_the_second_article(item: Article | Rejected) -> Article | Rejected:
    """A `keep` filter (as a source's languages make one) that refuses one article by URL."""
    if isinstance(item, Article) and item.url.endswith("/1"):
        return Rejected(item.source_id, item.url, "extract", "filtered_out", "not wanted")
    return item


def as_two_tasks(batch: list[FetchedPage], keep: Keep | None = None) -> CleanedBatch:
    extracted = extract_task(batch, {}, None)
    if keep is not None:
        extracted = [keep(item) for item in extracted]
    return clean_task(extracted, None)


def test_prepare_batch_gives_what_extract_then_clean_give(prefect_harness: None) -> None:
    batch = pages()
    prepared = prepare_task(batch, {}, None)
    assert prepared == as_two_tasks(batch)
    assert len(prepared.articles) == len(prepared.signatures) >= 5
    assert any(isinstance(item, Rejected) for item in prepared.outcomes)  # the home page


def test_prepare_batch_applies_keep_between_extract_and_clean(prefect_harness: None) -> None:
    batch = pages()
    kept = prepare_task(batch, {}, refuse_the_second_article)
    assert kept == as_two_tasks(batch, keep=refuse_the_second_article)
    refused = [i for i in kept.outcomes if isinstance(i, Rejected) and i.reason == "filtered_out"]
    assert [r.url for r in refused] == ["http://courier.test/1"]
    assert "http://courier.test/1" not in {s.url for s in kept.signatures}


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_a_whole_batch_reaches_the_task_as_the_batch_it_was(
    prefect_harness: None, dumps: Callable[[object], bytes]
) -> None:
    # As a Dask worker receives it: unpickled, then resolved by Prefect's task engine.
    batch = pages()
    sent = pickle.loads(dumps(cluster.whole(batch)))  # noqa: S301 (our own bytes)
    assert extract_task(sent, {}, None) == extract_task(batch, {}, None)
    assert len(extract_task(sent, {}, None)) == len(batch)
