"""Alerts: raised once, resolved when the condition clears, the webhook called on loopback, and a
failing webhook never blocks evaluation."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.alerts import AlertNotifier
from app.db import store
from app.ids import new_decision_id


class Receiver:
    """A real HTTP server on loopback that records every POSTed body."""

    def __init__(self, status: int = 200) -> None:
        received = self.received = []
        self.event = threading.Event()
        event = self.event

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(status)
                self.end_headers()
                event.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def seed_outcomes(db, model_id: str, successes: int, failures: int) -> None:
    now = datetime.now(UTC)
    decisions, outcomes = [], []
    for i in range(successes + failures):
        decision_id = new_decision_id()
        decisions.append(
            {
                "decision_id": decision_id,
                "decided_at": now - timedelta(seconds=30),
                "agent_id": "al-agent",
                "model_id": model_id,
                "strategy": "adaptive",
                "score": 0.5,
                "reason": "test",
            }
        )
        outcomes.append(
            {
                "decision_id": decision_id,
                "success": i >= failures,
                "latency_ms": 100.0,
                "recorded_at": now - timedelta(seconds=20),
            }
        )
    store.save_routing_decisions(db, decisions)
    store.save_metrics_batch(db, outcomes)


@pytest.fixture
def fleet(db):
    store.create_model(
        db,
        {
            "id": "al-model",
            "endpoint": "http://m",
            "context_window": 8192,
            "max_concurrency": 4,
            "capabilities": {"chat": 0.9},
        },
    )
    store.create_agent(db, {"id": "al-agent", "requirements": {"chat": 1.0}})
    return db


def error_alerts(db, state=None):
    return [a for a in store.list_alerts(db, state) if a["rule_id"] == "default-error-rate"]


def test_alert_raised_once_and_resolved_when_clear(fleet, receiver):
    notifier = AlertNotifier(fleet, webhook_url=receiver.url).start()
    try:
        seed_outcomes(fleet, "al-model", successes=20, failures=10)  # error rate 1/3 > 5 %
        raised = notifier.evaluate()
        assert [(a["rule_id"], a["model_id"]) for a in raised] == [
            ("default-error-rate", "al-model")
        ]
        assert raised[0]["observed_value"] == pytest.approx(10 / 30)
        assert notifier.evaluate() == []  # no duplicate while it is open
        assert len(error_alerts(fleet)) == 1
        assert receiver.event.wait(5)
        assert receiver.received[0]["alert"]["id"] == raised[0]["id"]
        seed_outcomes(fleet, "al-model", successes=400, failures=0)  # 10/430 < 5 %
        assert notifier.evaluate() == []
        assert error_alerts(fleet) == []
        resolved = error_alerts(fleet, "resolved")
        assert [a["id"] for a in resolved] == [raised[0]["id"]]
        assert len(receiver.received) == 1
    finally:
        notifier.stop()


def test_acknowledged_alert_is_not_raised_again(fleet):
    notifier = AlertNotifier(fleet)
    seed_outcomes(fleet, "al-model", successes=10, failures=20)
    alert = notifier.evaluate()[0]
    acked = store.ack_alert(fleet, alert["id"])
    assert acked["state"] == "acknowledged" and acked["acked_at"]
    assert notifier.evaluate() == []
    assert [a["state"] for a in error_alerts(fleet)] == ["acknowledged"]


def test_failing_webhook_is_logged_and_never_blocks(fleet, caplog):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # refused
    notifier = AlertNotifier(
        fleet, webhook_url=f"http://127.0.0.1:{port}/x", webhook_timeout_s=0.5
    ).start()
    caplog.set_level(logging.WARNING, logger="app.alerts")
    try:
        seed_outcomes(fleet, "al-model", successes=5, failures=25)
        started = time.monotonic()
        assert len(notifier.evaluate()) == 1
        assert time.monotonic() - started < 0.5  # the POST happens on the sender thread
        deadline = time.monotonic() + 5
        while notifier.figures["webhook_failed"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert notifier.figures["webhook_failed"] == 1
        assert "alert webhook failed" in caplog.text
    finally:
        notifier.stop()
