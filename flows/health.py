"""Source health: the `source_runs` rows of a run, the events about them, the example alert.

Every run publishes one `source_runs` row per source (`source_runs_table`), with the run's
other tables. Its counts:
- `discovered`, `fetched`, `articles` (new stories stored), `duplicates`, `rejected`: as the
  run summary counts them (`flows.pipeline.SourceCounts`);
- `extracted`: pages that reached extraction, i.e. the articles it made and the pages it
  rejected (`not_article`, `paywall`, `parse_error` at the extract stage);
- `not_article`: pages extraction found not to be an article;
- `short_bodies`: articles whose body has fewer than SHORT_BODY_WORDS words (counted as
  deduplication counts them, `tasks.dedupe.normalized_words`), re-fetched pages included;
- `failed` and `problem`: whether the source failed in the run, and why;
- `silent_after_days`, `drift_share`: the source's thresholds (sources file) in force.

The `source_health` view (`warehouse/views.py`) reads them. Once a run is published,
`report_health` emits `newsflow.source.silent` and `newsflow.source.drifted` for the run's
sources whose `source_health` row names that problem, if that row's latest run is of this
run's date: a backfill of an earlier date says nothing about how a source stands now. The
resource is `newsflow.source.<id>`, the flow run a related resource, and the payload says
why (`problem`, in words) with the numbers behind it. `newsflow.source.failed` is emitted
by the run itself (`flows.pipeline`). Reporting never fails a published run: when the
Prefect server cannot be reached, or the warehouse cannot be read back, the run logs a
warning and ends as it would have.

`ensure_alerts` creates the example Automation (`newsflow alerts`): a custom webhook
notification block and an Automation that sends it every `newsflow.source.*` event. Both
are found by name, so running it again updates them instead of adding copies.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import duckdb
import httpx
import pyarrow as pa
from prefect import get_run_logger
from prefect.events import emit_event
from prefect.exceptions import PrefectHTTPStatusError

from tasks.reasons import STAGE_EXTRACT, ReasonCode
from warehouse import query
from warehouse.convert import to_table

if TYPE_CHECKING:
    from prefect.events.schemas.automations import Automation

    from flows.pipeline import RunPlan, RunSummary, SourceCounts, SourceFailure
    from tasks.dedupe import Signature
    from tasks.records import Rejected

SHORT_BODY_WORDS = 50  # an article body with fewer words counts as short
NOT_ARTICLE: ReasonCode = "not_article"
SILENT, DRIFTED = "silent", "drifted"
EVENTS = {SILENT: "newsflow.source.silent", DRIFTED: "newsflow.source.drifted"}

ALERT_BLOCK = "newsflow-source-alerts"  # the notification block's name
ALERT_AUTOMATION = "newsflow source health"  # the Automation's name
ALERT_EVENTS = "newsflow.source.*"
ALERT_SUBJECT = "newsflow: {{ event.resource.name }} {{ event.event }}"
ALERT_BODY = (
    "{{ event.resource.name }}: {{ event.payload.problem }}\n"
    "Run {{ event.payload.run_id }} of {{ event.payload.run_date }}. "
    "See: newsflow sql \"SELECT * FROM source_health WHERE source_id = "
    "'{{ event.resource.name }}'\""
)


@dataclass(frozen=True, slots=True)
class SourceRun:
    """One `source_runs` row, without `run_id` (added when the table is made)."""

    source_id: str
    finished_at: datetime
    discovered: int
    fetched: int
    articles: int
    duplicates: int
    rejected: int
    extracted: int
    not_article: int
    short_bodies: int
    failed: bool
    problem: str | None
    silent_after_days: int
    drift_share: float


def source_runs_table(
    plan: RunPlan,
    per_source: Sequence[SourceCounts],
    failures: Sequence[SourceFailure],
    signatures: Iterable[Signature],
    rejected: Iterable[Rejected],
    finished_at: datetime,
) -> pa.Table:
    """The run's `source_runs` table: one row per source of the plan, in the plan's order.

    `signatures` are those of every article extraction made (one per article), `rejected`
    every rejection of the run.
    """
    counts = {c.source_id: c for c in per_source}
    made: Counter[str] = Counter()
    short: Counter[str] = Counter()
    for signature in signatures:
        made[signature.source_id] += 1
        short[signature.source_id] += signature.words < SHORT_BODY_WORDS
    refused: Counter[str] = Counter()
    not_article: Counter[str] = Counter()
    for row in rejected:
        refused[row.source_id] += row.stage == STAGE_EXTRACT
        not_article[row.source_id] += row.stage == STAGE_EXTRACT and row.reason == NOT_ARTICLE
    problems: dict[str, list[str]] = defaultdict(list)
    for failure in failures:
        problems[failure.source_id].append(failure.problem)
    rows = []
    for source in plan.sources:
        c = counts[source.id]
        rows.append(
            SourceRun(
                source_id=source.id,
                finished_at=finished_at,
                discovered=c.discovered,
                fetched=c.fetched,
                articles=c.new,
                duplicates=c.duplicate,
                rejected=sum(c.rejected.values()),
                extracted=made[source.id] + refused[source.id],
                not_article=not_article[source.id],
                short_bodies=short[source.id],
                failed=source.id in problems,
                problem="; ".join(problems[source.id]) or None,
                silent_after_days=source.silent_after_days,
                drift_share=source.drift_share,
            )
        )
    return to_table("source_runs", rows, run_id=plan.context.run_id)


# ---------------------------------------------------------------- reading the view


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One `source_health` row (see `warehouse.views` for what each column means)."""

    source_id: str
    latest_run_date: date
    latest_run_id: str
    last_article_at: datetime | None
    last_article_run_date: date | None
    days_silent: int
    silent_after_days: int
    latest_pages: int
    latest_share: float | None
    history_share: float | None
    history_runs: int
    drift_share: float
    failures_in_a_row: int
    problem: str | None

    def why(self) -> str:
        """The problem in words, with the numbers behind it ("" when there is none)."""
        if self.problem == SILENT:
            since = (
                f"since run date {self.last_article_run_date}"
                if self.last_article_run_date
                else "ever"
            )
            return (
                f"silent: no new article {since}, {self.days_silent} days "
                f"(threshold {self.silent_after_days})"
            )
        if self.problem == DRIFTED:
            return (
                f"drifted: {_percent(self.latest_share)} of {self.latest_pages} pages were "
                f"not_article or shorter than {SHORT_BODY_WORDS} words, against "
                f"{_percent(self.history_share)} in the previous {self.history_runs} runs "
                f"(threshold +{_percent(self.drift_share)})"
            )
        if self.problem == "failing":
            return f"failing: failed in the last {self.failures_in_a_row} runs"
        return ""


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


_HEALTH_COLUMNS = [f.name for f in fields(SourceHealth)]


def read_source_health(data_dir: Path, source_ids: Sequence[str]) -> list[SourceHealth]:
    """The `source_health` rows of these sources (those that have one), by source id
    (`warehouse.query.source_health`: bounded by the summaries, never the catalog's lock)."""
    rows = query.source_health(data_dir, source_ids, _HEALTH_COLUMNS)
    return [SourceHealth(*row) for row in rows]


# ---------------------------------------------------------------- events


def report_health(summary: RunSummary, plan: RunPlan) -> list[str]:
    """Emit a `silent` or `drifted` event for each of the run's sources that is so now;
    returns every health problem of the run's sources, "<source id>: <why>", for the run
    report.

    Runs after publication: a Prefect server that cannot be reached, or a warehouse that
    cannot be read back, is logged and the run ends as it would have.
    """
    logger = get_run_logger()
    run_date = date.fromisoformat(summary.run_date)
    problems: list[str] = []
    try:
        rows = read_source_health(Path(summary.data_dir), [s.id for s in plan.sources])
        for row in rows:
            if row.problem is not None and row.latest_run_date == run_date:
                problems.append(f"{row.source_id}: {row.why()}")
            event = EVENTS.get(row.problem or "")
            if event is None or row.latest_run_date != run_date:
                continue
            logger.warning("Source %s is %s", row.source_id, row.why())
            emit_source_event(
                event, row.source_id, plan.prefect_flow_run_id, _payload(row, summary)
            )
    except (duckdb.Error, httpx.HTTPError, PrefectHTTPStatusError) as error:
        logger.warning(
            "Run %s is published, but its source health was not reported: %s",
            summary.run_id,
            error,
        )
    return problems


def emit_source_event(
    event: str, source_id: str, flow_run_id: str, payload: dict[str, Any]
) -> None:
    """A `newsflow.source.*` event about one source: its resource is
    `newsflow.source.<source id>`, related to the flow run that found it out."""
    run = {"prefect.resource.id": f"prefect.flow-run.{flow_run_id}"}
    related = [{**run, "prefect.resource.role": "flow-run"}] if flow_run_id else []
    emit_event(
        event=event,
        resource={
            "prefect.resource.id": f"newsflow.source.{source_id}",
            "prefect.resource.name": source_id,
        },
        related=related,
        payload=payload,
    )


def _payload(row: SourceHealth, summary: RunSummary) -> dict[str, Any]:
    return {
        "run_id": summary.run_id,
        "run_date": summary.run_date,
        "problem": row.why(),
        "days_silent": row.days_silent,
        "silent_after_days": row.silent_after_days,
        "last_article_run_date": _iso(row.last_article_run_date),
        "last_article_at": _iso(row.last_article_at),
        "latest_pages": row.latest_pages,
        "latest_share": row.latest_share,
        "history_share": row.history_share,
        "history_runs": row.history_runs,
        "drift_share": row.drift_share,
    }


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# ---------------------------------------------------------------- the example Automation


def ensure_alerts(webhook_url: str) -> Automation:
    """Create or update, by name, the notification block and the Automation that sends it
    for every `newsflow.source.*` event; returns the Automation as the server holds it.

    Talks to the Prefect API configured (`PREFECT_API_URL`).
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    block = CustomWebhookNotificationBlock(
        name=ALERT_BLOCK,
        url=webhook_url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        headers=None,
        cookies=None,
    )
    # Called outside an event loop, `save` runs synchronously and returns the document's id.
    block_id = cast(UUID, block.save(ALERT_BLOCK, overwrite=True))
    wanted = AutomationCore(
        name=ALERT_AUTOMATION,
        description=(
            f"Sends the {ALERT_BLOCK} webhook for every {ALERT_EVENTS} event: a source that "
            "failed, went silent or drifted (see the source_health view). Made by newsflow alerts."
        ),
        enabled=True,
        trigger=EventTrigger(
            expect={ALERT_EVENTS},
            match={"prefect.resource.id": ALERT_EVENTS},
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[
            SendNotification(block_document_id=block_id, subject=ALERT_SUBJECT, body=ALERT_BODY)
        ],
    )
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(ALERT_AUTOMATION)
        if existing:
            keep, *extra = existing
            client.update_automation(keep.id, wanted)
            for other in extra:  # copies made by hand under the same name
                client.delete_automation(other.id)
            automation_id = keep.id
        else:
            automation_id = client.create_automation(wanted)
        automation = client.read_automation(automation_id)
    if automation is None:
        raise RuntimeError(f"the Prefect server lost automation {automation_id} just made")
    return automation
