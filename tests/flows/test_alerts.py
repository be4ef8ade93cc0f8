"""`newsflow alerts`: the example Automation, read back through the Prefect API, and a source
health event delivered by Prefect's own triggers and actions services to a loopback webhook.

Prefect's test harness runs the server with its event services (the triggers and actions
services run in temporary servers too), so the delivery test is the real path: event ->
Automation -> notification block -> HTTP POST.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flows.cli import main

AUTOMATION = "newsflow source health"
BLOCK = "newsflow-source-alerts"


class Receiver:
    """A webhook on 127.0.0.1 that records the JSON body of every POST it receives."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def automations() -> list[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return list(client.read_automations_by_name(AUTOMATION))


@pytest.fixture
def no_automation_left(prefect_harness: None) -> Iterator[None]:
    """The harness is shared by the session: remove the Automation after the test."""
    yield
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(AUTOMATION):
            client.delete_automation(automation.id)


def test_alerts_creates_the_automation_once_by_name_and_updates_its_webhook(
    no_automation_left: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client

    assert main(["alerts", "--webhook-url", "http://127.0.0.1:9/first"]) == 0
    [first] = automations()
    with get_client(sync_client=True) as client:
        client.pause_automation(first.id)  # turned off by hand in the UI, say
    assert main(["alerts", "--webhook-url", "http://127.0.0.1:9/second"]) == 0

    [automation] = automations()
    assert automation.id == first.id
    assert "POSTs to http://127.0.0.1:9/second" in capsys.readouterr().out
    trigger = automation.trigger
    assert trigger.type == "event"
    assert trigger.expect == {"newsflow.source.*"}
    assert trigger.match.model_dump() == {"prefect.resource.id": "newsflow.source.*"}
    assert (trigger.posture, trigger.threshold) == ("Reactive", 1)
    assert automation.enabled  # made as it should be again
    [action] = automation.actions
    assert action.type == "send-notification"
    assert "event.payload.problem" in action.body
    block = CustomWebhookNotificationBlock.load(BLOCK)
    assert block._block_document_id == action.block_document_id
    assert block.url == "http://127.0.0.1:9/second"
    assert block.json_data == {"subject": "{{subject}}", "body": "{{body}}"}


def test_a_source_event_reaches_the_webhook_through_the_automation(
    no_automation_left: None,
) -> None:
    from prefect.events import emit_event

    with Receiver() as receiver:
        assert main(["alerts", "--webhook-url", receiver.url]) == 0
        emit_event(
            event="newsflow.source.drifted",
            resource={
                "prefect.resource.id": "newsflow.source.shifty",
                "prefect.resource.name": "shifty",
            },
            payload={
                "problem": "drifted: 100% of 3 pages were not_article or short",
                "run_id": "ingest-x@2024-05-08",
                "run_date": "2024-05-08",
            },
        )
        for _ in range(240):  # bounded: the event travels worker -> server -> triggers -> action
            if receiver.bodies:
                break
            time.sleep(0.5)
    [sent] = receiver.bodies
    assert sent["subject"] == "newsflow: shifty newsflow.source.drifted"
    assert sent["body"].startswith("shifty: drifted: 100% of 3 pages were not_article or short\n")
    assert "Run ingest-x@2024-05-08 of 2024-05-08" in sent["body"]
    assert "source_health WHERE source_id = 'shifty'" in sent["body"]


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "hooks.example/x", "http://"])
def test_alerts_refuses_a_webhook_that_is_not_an_http_url(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "--webhook-url", url]) == 2
    assert "--webhook-url must be an absolute http(s) URL" in capsys.readouterr().err
