"""What newsflow installs in each Dask worker process (`flows.cluster`): the worker plugin
that loads the spaCy model once per process, as the process joins the cluster.

Imported only where `distributed` is installed (the `cluster` extra): by `flows.cluster` when
a run is on Dask, and by the workers when they unpickle the plugin.
"""

from __future__ import annotations

import asyncio

from distributed import Worker
from distributed.diagnostics.plugin import WorkerPlugin

from tasks.workers import warm_up


class WarmUp(WorkerPlugin):
    """Loads the spaCy model in a worker process as the plugin is set up on it (`warm_up`:
    a model that cannot load is logged, and the enrichment batches fail on their own)."""

    idempotent = True  # registered again by each run: a worker that has it keeps it

    def __init__(self, model: str) -> None:
        self.model = model

    async def setup(self, worker: Worker) -> None:
        # Off the worker's event loop: loading takes seconds, heartbeats must go on.
        await asyncio.get_running_loop().run_in_executor(None, warm_up, self.model)
