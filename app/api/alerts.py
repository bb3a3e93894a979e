"""Alerts and alert rules: reading needs viewer, acknowledging and changing rules admin."""

from __future__ import annotations

from flask import Blueprint

from app.api.context import db
from app.api.operations import operation
from app.api.pagination import page, page_of
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
ALERT_PARAM = {"alert_id": {"type": "integer", "minimum": 0}}


@bp.get("/api/v1/alerts")
@operation("viewer", "List alerts, newest first", query=AlertListQuery, response=Page[AlertOut],
           description="`state` filters (open, acknowledged, resolved).")
def list_alerts(query: AlertListQuery):
    return page(lambda after, n: store.list_alerts(db(), state=query.state, before=after,
                                                   limit=n),
                "alert_id", query.limit, query.cursor, kind=int)


@bp.post("/api/v1/alerts/<int:alert_id>/ack")
@operation("admin", "Acknowledge an alert", response=AlertOut, errors=(409,),
           path_params=ALERT_PARAM,
           description="Open -> acknowledged (acknowledging twice is harmless); a resolved "
                       "alert cannot be acknowledged (409).")
def ack_alert(alert_id: int):
    alert = store.get_alert(db(), alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    if alert["state"] == "resolved":
        raise Conflict(f"alert {alert_id} is already resolved")
    if alert["state"] == "acknowledged":
        return alert
    acked = store.ack_alert(db(), alert_id)
    if acked is None:  # resolved between the read and the write
        raise Conflict(f"alert {alert_id} is already resolved")
    return acked


@bp.get("/api/v1/alert-rules")
@operation("viewer", "List alert rules", query=PageQuery, response=Page[AlertRuleOut])
def list_alert_rules(query: PageQuery):
    return page_of(store.list_alert_rules(db()), "id", query.limit, query.cursor)


@bp.put("/api/v1/alert-rules")
@operation("admin", "Replace the alert rules", body=AlertRulesIn, response=Page[AlertRuleOut],
           description="The body is the whole rule set: rules not named are removed (or "
                       "disabled, when alerts refer to them). Returns the new set.")
def put_alert_rules(body: AlertRulesIn):
    try:
        rules = store.replace_alert_rules(db(), [rule.model_dump() for rule in body.items])
    except dberrors.ConstraintViolation:
        raise InvalidInput("a rule names a model that does not exist", field_errors=[
            {"field": "items.model_id", "reason": "no such model"}]) from None
    return {"items": sorted(rules, key=lambda rule: rule["id"]), "next_cursor": None}
