"""Publish one sample run in a process of its own; optionally SIGKILL it at a named step.

    python publisher.py DATA_DIR RUN_DATE SCOPE VARIANT [KILL_AT_STEP]

Used by the crash tests (RELIABILITY row 1): the step names are those that
`warehouse.publish.Publication` passes to its `on_step` hook.
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from pathlib import Path

from lakedata import publish_sample


def main(argv: list[str]) -> int:
    data_dir, day, scope, variant = argv[1:5]
    kill_at = argv[5] if len(argv) > 5 else None

    def hook(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    publish_sample(Path(data_dir), date.fromisoformat(day), scope, variant, on_step=hook)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
