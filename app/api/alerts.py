"""Alerts and alert rules: reading needs viewer, acknowledging and changing rules admin."""

from __future__ import annotations

from flask import Blueprint

from app.api.context import db
from app.api.operations import operation
from app.api.pagination import page_of
from app.api.schemas import (
    AlertListQuery,
    AlertOut,
    AlertRuleOut,
    AlertRulesIn,
    Page,
    PageQuery,
)
from app.db import errors as dberrors
from app.db import store
from app.problems import Conflict, InvalidInput, NotFound

bp = Blueprint("alerts", __name__)
MAX_ALERT_ID = 2**63 - 1  # the column's range: a larger id names no alert
ALERT_PARAM = {"alert_id": {"type": "integer", "minimum": 0, "maximum": MAX_ALERT_ID}}
MAX_ALERTS = 1000  # newest alerts of one state that the list reaches


@bp.get("/api/v1/alerts")
@operation(
    "viewer",
    "List alerts, newest first",
    query=AlertListQuery,
    response=Page[AlertOut],
    description="`state`: unresolved (open and acknowledged, the default), open, "
    f"acknowledged or resolved (the newest {MAX_ALERTS}).",
)
def list_alerts(query: AlertListQuery):
    if query.state == "unresolved":
        rows = store.list_alerts(db())
    else:
        rows = store.list_alerts(db(), state=query.state, limit=MAX_ALERTS)
    return page_of(rows, "id", query.limit, query.cursor, newest_first=True, kind=int)


@bp.post("/api/v1/alerts/<int:alert_id>/ack")
@operation(
    "admin",
    "Acknowledge an alert",
    response=AlertOut,
    errors=(409,),
    path_params=ALERT_PARAM,
    description="Open -> acknowledged (acknowledging twice is harmless); a resolved "
    "alert cannot be acknowledged (409).",
)
def ack_alert(alert_id: int):
    alert = store.get_alert(db(), alert_id) if alert_id <= MAX_ALERT_ID else None
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if alert["state"] == "open":
        alert = store.ack_alert(db(), alert_id) or alert
    if alert["state"] == "resolved":  # before, or between the read and the write
        raise Conflict(f"alert {alert_id} is already resolved")
    return alert


@bp.get("/api/v1/alert-rules")
@operation("viewer", "List alert rules", query=PageQuery, response=Page[AlertRuleOut])
def list_alert_rules(query: PageQuery):
    return page_of(store.get_alert_rules(db()), "rule_id", query.limit, query.cursor)


@bp.put("/api/v1/alert-rules")
@operation(
    "admin",
    "Replace the alert rules",
    body=AlertRulesIn,
    response=Page[AlertRuleOut],
    description="The body is the whole rule set: named rules are created or replaced, "
    "rules left out are disabled (kept, since alerts refer to them). "
    "Returns every rule.",
)
def put_alert_rules(body: AlertRulesIn):
    try:
        rules = store.put_alert_rules(db(), [rule.model_dump() for rule in body.items])
    except dberrors.ConstraintViolation:
        raise InvalidInput(
            "a rule names a model that does not exist",
            field_errors=[{"field": "items.model_id", "reason": "no such model"}],
        ) from None
    return {"items": sorted(rules, key=lambda rule: rule["rule_id"]), "next_cursor": None}
