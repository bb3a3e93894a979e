"""Every string the API accepts, at its longest, fits the column it is stored in.

HANA answers 274 "inserted value too large" where SQLite stores anything, so a column narrower
than the API's limit breaks production while every SQLite test passes. The final schema of
each dialect is read from its migrations (HANA: the migration files replayed, CREATE and ALTER;
SQLite: the migrated database itself) and checked against the limits in the request models'
own JSON schema. Free text (a pattern that admits any character but some) needs twice its
limit on HANA: NVARCHAR counts UTF-16 code units, two for a character outside the basic plane.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from app.api import schemas
from app.db.sqlfiles import MIGRATIONS_ROOT, split_statements

# (request model, field) -> (table, column). A key of a dict field is "field.key".
STORED = {
    ("ModelIn", "id"): ("MODELS", "MODEL_ID"),
    ("ModelIn", "display_name"): ("MODELS", "DISPLAY_NAME"),
    ("ModelIn", "provider"): ("MODELS", "PROVIDER"),
    ("ModelIn", "endpoint"): ("MODELS", "ENDPOINT"),
    ("ModelIn", "capabilities.key"): ("MODEL_CAPABILITIES", "CAPABILITY"),
    ("ModelIn", "status"): ("MODELS", "STATUS"),
    ("ModelPatch", "display_name"): ("MODELS", "DISPLAY_NAME"),
    ("ModelPatch", "provider"): ("MODELS", "PROVIDER"),
    ("ModelPatch", "endpoint"): ("MODELS", "ENDPOINT"),
    ("ModelPatch", "capabilities.key"): ("MODEL_CAPABILITIES", "CAPABILITY"),
    ("ModelPatch", "status"): ("MODELS", "STATUS"),
    ("AgentIn", "id"): ("AGENTS", "AGENT_ID"),
    ("AgentIn", "display_name"): ("AGENTS", "DISPLAY_NAME"),
    ("AgentIn", "task_type"): ("AGENTS", "TASK_TYPE"),
    ("AgentIn", "requirements.key"): ("AGENT_REQUIREMENTS", "CAPABILITY"),
    ("AgentIn", "status"): ("AGENTS", "STATUS"),
    ("AgentPatch", "display_name"): ("AGENTS", "DISPLAY_NAME"),
    ("AgentPatch", "task_type"): ("AGENTS", "TASK_TYPE"),
    ("AgentPatch", "requirements.key"): ("AGENT_REQUIREMENTS", "CAPABILITY"),
    ("AgentPatch", "status"): ("AGENTS", "STATUS"),
    ("AutoAssignIn", "method"): ("ASSIGNMENT_RUNS", "METHOD"),
    ("PinIn", "model_id"): ("AGENT_MODEL_ASSIGNMENTS", "MODEL_ID"),
    ("RouteIn", "agent_id"): ("ROUTING_DECISIONS", "AGENT_ID"),
    ("RouteIn", "task_type"): ("ROUTING_DECISIONS", "TASK_TYPE"),
    ("RouteIn", "strategy"): ("ROUTING_DECISIONS", "STRATEGY"),
    ("OutcomeIn", "error_code"): ("INFERENCE_METRICS", "ERROR_CODE"),
    ("OutcomeItem", "error_code"): ("INFERENCE_METRICS", "ERROR_CODE"),
    ("OutcomeItem", "decision_id"): ("INFERENCE_METRICS", "DECISION_ID"),
    ("KeyIn", "role"): ("API_KEYS", "ROLE"),
    ("KeyIn", "label"): ("API_KEYS", "LABEL"),
    ("AlertRuleIn", "rule_id"): ("ALERT_RULES", "RULE_ID"),
    ("AlertRuleIn", "name"): ("ALERT_RULES", "NAME"),
    ("AlertRuleIn", "metric"): ("ALERT_RULES", "METRIC"),
    ("AlertRuleIn", "comparator"): ("ALERT_RULES", "COMPARATOR"),
    ("AlertRuleIn", "severity"): ("ALERT_RULES", "SEVERITY"),
    ("AlertRuleIn", "model_id"): ("ALERT_RULES", "MODEL_ID"),
}
# Request models whose fields are the models above (lists of them): nothing stored of their own.
CONTAINERS = {"CatalogFile", "OutcomeBatchIn", "AlertRulesIn"}
_CAP = schemas.CapabilityName.__metadata__[0]
CAPABILITY_LIMIT = next(m.max_length for m in _CAP.metadata if hasattr(m, "max_length"))


def request_models() -> dict[str, type]:
    found = {}
    for name in dir(schemas):
        obj = getattr(schemas, name)
        is_request = isinstance(obj, type) and issubclass(obj, schemas.Strict)
        if is_request and obj is not schemas.Strict and not name.endswith("Out"):
            found[name] = obj  # (a response model such as AgentOut extends its request model)
    return found


def string_limits(model) -> dict[str, tuple[int, bool]]:
    """field -> (longest length the API accepts, whether any character is allowed) for every
    string the model takes, dict keys included ("field.key")."""
    limits = {}
    for field, prop in model.model_json_schema()["properties"].items():
        options = prop.get("anyOf", [prop])
        for option in options:
            if option.get("type") == "string":
                if "enum" in option:
                    limits[field] = (max(len(v) for v in option["enum"]), False)
                else:
                    assert "maxLength" in option, f"{model.__name__}.{field} has no length limit"
                    unicode = "[^" in option.get("pattern", "[^")  # a negated class
                    limits[field] = (option["maxLength"], unicode)
            if option.get("type") == "object" and "patternProperties" in option:
                limits[f"{field}.key"] = (CAPABILITY_LIMIT, False)
    return limits


def hana_schema() -> dict[str, dict[str, str]]:
    """table -> column -> declared type, replaying the HANA migrations in order."""
    tables: dict[str, dict[str, str]] = {}
    forward = sorted(
        p for p in (MIGRATIONS_ROOT / "hana").glob("*.sql") if ".rollback" not in p.name
    )
    for path in forward:
        for statement in split_statements(path.read_text()):
            if created := re.match(r"CREATE COLUMN TABLE (\w+) \((.*)\)", statement, re.DOTALL):
                tables[created.group(1)] = dict(_columns(created.group(2)))
            elif altered := re.match(r"ALTER TABLE (\w+) (ALTER|ADD) \((.*)\)", statement, re.S):
                tables[altered.group(1)].update(_columns(altered.group(3)))
            elif dropped := re.match(r"ALTER TABLE (\w+) DROP \((\w+)\)", statement):
                del tables[dropped.group(1)][dropped.group(2)]
            elif renamed := re.match(r"RENAME COLUMN (\w+)\.(\w+) TO (\w+)", statement):
                table = tables[renamed.group(1)]
                table[renamed.group(3)] = table.pop(renamed.group(2))
            elif gone := re.match(r"DROP TABLE (\w+)", statement):
                del tables[gone.group(1)]
    return tables


def _columns(body: str):
    for line in body.splitlines():
        match = re.match(r"\s*([A-Z_0-9]+)\s+([A-Z]+(?:\(\d+\))?)", line)
        if match and match.group(1) not in ("PRIMARY", "FOREIGN", "UNIQUE", "CHECK"):
            yield match.group(1), match.group(2)


def hana_width(declared: str) -> float:
    """Characters a HANA column holds (UTF-16 code units); inf for NCLOB."""
    if declared == "NCLOB":
        return float("inf")
    match = re.fullmatch(r"N?VARCHAR\((\d+)\)", declared)
    assert match, f"{declared} does not hold text"
    return int(match.group(1))


def limits_and_columns():
    for name, model in sorted(request_models().items()):
        if name in CONTAINERS:
            continue
        for field, (limit, unicode) in sorted(string_limits(model).items()):
            yield name, field, limit, unicode


def test_every_string_field_the_api_takes_is_mapped_to_its_column():
    unmapped = [(n, f) for n, f, _, _ in limits_and_columns() if (n, f) not in STORED]
    assert unmapped == []
    assert set(CONTAINERS) <= set(request_models())


@pytest.mark.parametrize(
    "model, field, limit, unicode", list(limits_and_columns()), ids=lambda v: str(v)
)
def test_hana_columns_hold_the_longest_value_the_api_accepts(model, field, limit, unicode):
    table, column = STORED[(model, field)]
    declared = hana_schema()[table][column]
    needed = 2 * limit if unicode else limit
    assert hana_width(declared) >= needed, f"{table}.{column} {declared} < {needed}"


def test_sqlite_columns_hold_any_length(migrated_template):
    conn = sqlite3.connect(migrated_template)
    try:
        for table, column in sorted(set(STORED.values())):
            types = {row[1]: row[2] for row in conn.execute(f"PRAGMA table_info({table})")}
            assert types[column] == "TEXT", f"{table}.{column} is {types[column]}"
    finally:
        conn.close()


def test_a_decision_row_at_its_longest_fits_on_hana():
    """Values the service derives from what the API accepts: a decision with the most
    fallbacks (3), each with an endpoint at its longest and non-ASCII (JSON escapes it)."""
    from app.db.store.decisions import decision_row

    endpoint = "https://" + "é" * 2040
    fallbacks = [{"model_id": "m" * 128, "endpoint": endpoint} for _ in range(3)]
    row = decision_row(
        {
            "decision_id": "0" * 36,
            "decided_at": "2026-12-03 00:00:00.000000",
            "agent_id": "a" * 128,
            "task_type": "t" * 128,
            "model_id": "m" * 128,
            "assignment_id": None,
            "strategy": "least_loaded",
            "score": 1.0,
            "cache_hit": False,
            "fallbacks": fallbacks,
            "reason": "r",
        }
    )
    columns = hana_schema()["ROUTING_DECISIONS"]
    for name, value in row.items():
        declared = columns[name.upper()]
        if isinstance(value, str) and not declared.startswith(("TIMESTAMP", "DOUBLE", "TINY")):
            assert hana_width(declared) >= len(value), (name, declared, len(value))


def test_the_hana_replay_sees_the_widening_migration():
    schema = hana_schema()
    assert hana_width(schema["MODELS"]["ENDPOINT"]) >= 4096
    assert "ASSIGNMENT_RUN_UNASSIGNED" in schema
