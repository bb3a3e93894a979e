"""The router's database operations: one function per operation, plain values in and out.

Every function takes the `Database` first; writes run in one transaction (a new one retried on
transient errors, or the caller's when `conn=` is given), reads on a pooled connection. No SQL
lives here: statements are the named queries, views and procedures of sql/<dialect>/. Errors are
app.db.errors types; PROCEDURE_ERRORS maps our procedures' codes to HTTP statuses.
"""

from app.db.store._common import PROCEDURE_ERRORS
from app.db.store.alerts import (
    ack_alert,
    count_open_alerts,
    evaluate_alerts,
    get_alert,
    get_alert_rules,
    list_alerts,
    purge_history,
    put_alert_rule,
    put_alert_rules,
    resolve_alert,
    save_load_snapshots,
)
from app.db.store.analytics import (
    get_model_health,
    get_model_performance,
    get_routing_analytics_24h,
    get_routing_stats,
    get_top_agent_model_pairs,
    list_hourly_model_metrics,
    list_model_performance,
)
from app.db.store.assignments import (
    activate_assignment_run,
    create_assignment_run,
    get_active_assignments,
    get_assignment_run,
    get_latest_assignment_run,
    pin_assignment,
    save_assignment,
    save_assignments,
    update_assignment_metrics,
)
from app.db.store.catalog import (
    create_agent,
    create_model,
    get_agent,
    get_model,
    list_agents,
    list_models,
    set_agent_status,
    set_model_status,
    update_agent,
    update_model,
    upsert_agent,
    upsert_model,
)
from app.db.store.decisions import (
    decision_row,
    get_decision,
    list_decisions,
    outcome_row,
    save_metrics_batch,
    save_routing_decision,
    save_routing_decisions,
)
from app.db.store.keys import (
    count_active_api_keys,
    create_api_key,
    get_api_key,
    list_api_keys,
    revoke_api_key,
)

__all__ = [
    "PROCEDURE_ERRORS",
    "ack_alert", "activate_assignment_run", "count_active_api_keys", "count_open_alerts",
    "create_agent", "create_api_key", "create_assignment_run", "create_model", "decision_row",
    "evaluate_alerts", "get_active_assignments", "get_agent", "get_alert", "get_alert_rules",
    "get_api_key", "get_assignment_run", "get_decision", "get_latest_assignment_run",
    "get_model", "get_model_health", "get_model_performance", "get_routing_analytics_24h",
    "get_routing_stats", "get_top_agent_model_pairs", "list_agents", "list_alerts",
    "list_api_keys", "list_decisions", "list_hourly_model_metrics", "list_model_performance",
    "list_models", "outcome_row", "pin_assignment", "purge_history", "put_alert_rule",
    "put_alert_rules", "resolve_alert", "revoke_api_key", "save_assignment", "save_assignments",
    "save_load_snapshots", "save_metrics_batch", "save_routing_decision",
    "save_routing_decisions", "set_agent_status", "set_model_status", "update_agent",
    "update_assignment_metrics", "update_model", "upsert_agent", "upsert_model",
]
