"""Alerts: SP_EVALUATE_ALERTS in the database decides; this module tells people.

The rules live in ALERT_RULES (defaults inserted by a migration: error rate, p95 latency,
utilization, no traffic). The background loop calls `evaluate()` every few seconds; each alert
the procedure opens is logged and POSTed to the configured webhook by a sender thread, so a slow
or failing webhook is logged and never blocks routing or the evaluation.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request

from app.db import store

log = logging.getLogger(__name__)


class AlertNotifier:
    def __init__(
        self, db, *, webhook_url: str = "", webhook_timeout_s: float = 2.0, queue_max: int = 1000
    ) -> None:
        self.db = db
        self.webhook_url = webhook_url
        self.webhook_timeout_s = webhook_timeout_s
        self._outbox: queue.Queue = queue.Queue(maxsize=queue_max)
        self._thread: threading.Thread | None = None
        self.figures = {"raised": 0, "webhook_sent": 0, "webhook_failed": 0, "webhook_dropped": 0}

    def start(self) -> AlertNotifier:
        if self.webhook_url and self._thread is None:
            self._thread = threading.Thread(
                target=self._send_loop, name="alert-webhook", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread is not None:
            try:
                self._outbox.put_nowait(None)
            except queue.Full:
                pass
            self._thread.join(timeout)
            self._thread = None

    def evaluate(self) -> list[dict]:
        """Open and resolve alerts in the database; notify about the newly opened ones."""
        raised = store.evaluate_alerts(self.db)
        for alert in raised:
            self.figures["raised"] += 1
            log.warning(
                "alert %s raised: %s %s on %s (observed %s, threshold %s)",
                alert["id"],
                alert["severity"],
                alert["metric"],
                alert["model_id"] or "all models",
                alert["observed_value"],
                alert["threshold"],
            )
            if self.webhook_url:
                try:
                    self._outbox.put_nowait(alert)
                except queue.Full:
                    self.figures["webhook_dropped"] += 1
                    log.warning("alert webhook queue full; alert %s not sent", alert["id"])
        return raised

    def _send_loop(self) -> None:
        while True:
            alert = self._outbox.get()
            if alert is None:
                return
            self._post(alert)

    def _post(self, alert: dict) -> None:
        body = json.dumps({"event": "alert.raised", "alert": alert}).encode()
        request = urllib.request.Request(
            self.webhook_url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.webhook_timeout_s) as response:
                response.read()
            self.figures["webhook_sent"] += 1
        except Exception as exc:  # any failure of the receiver is logged, never raised
            self.figures["webhook_failed"] += 1
            log.warning("alert webhook failed for alert %s: %s", alert["id"], type(exc).__name__)
