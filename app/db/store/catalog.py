"""Models with their capabilities and agents with their requirements (MODELS, AGENTS, ...).

A record is the API body of DESIGN §5: {"id", ..., "capabilities": {name: score}} for a model,
{"id", ..., "requirements": {name: weight}} for an agent, plus created_at/updated_at. A write
replaces the whole record, its capability (requirement) map included, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.store._common import api_time, reading, write


@dataclass(frozen=True)
class _Kind:
    name: str  # "model" / "agent": query names are insert-model, list-models, ...
    key: str  # bound id parameter
    fields: tuple[str, ...]  # record fields stored in the main table
    defaults: tuple[tuple[str, object], ...]  # applied when a record leaves a field out
    mapping: str  # record field holding the name -> value map
    item: str  # singular of the mapping's table, in query names
    value: str  # column of the mapping's value


MODEL = _Kind(
    "model",
    "model_id",
    (
        "display_name",
        "provider",
        "endpoint",
        "context_window",
        "max_concurrency",
        "cost_per_1k_tokens",
        "prior_latency_ms",
        "status",
    ),
    (("status", "active"), ("cost_per_1k_tokens", 0.0)),
    "capabilities",
    "capability",
    "score",
)
AGENT = _Kind(
    "agent",
    "agent_id",
    (
        "display_name",
        "task_type",
        "min_context",
        "max_latency_ms",
        "max_cost_per_1k",
        "priority",
        "status",
    ),
    (("status", "active"), ("min_context", 0), ("priority", 0)),
    "requirements",
    "requirement",
    "weight",
)


def _params(kind: _Kind, item_id: str, record: dict) -> dict:
    params = {field: record.get(field) for field in kind.fields}
    for field, default in kind.defaults:
        if params[field] is None:
            params[field] = default
    params[kind.key] = item_id
    return params


def _write_mapping(db, conn, kind: _Kind, item_id: str, record: dict) -> None:
    db.execute(conn, f"delete-{kind.name}-{kind.mapping}", {kind.key: item_id})
    rows = [
        {kind.key: item_id, "capability": name, kind.value: value}
        for name, value in sorted((record.get(kind.mapping) or {}).items())
    ]
    db.executemany(conn, f"insert-{kind.name}-{kind.item}", rows)


def _records(db, conn, kind: _Kind, rows: list[dict]) -> list[dict]:
    """Rows of the main table plus their maps (one query for the whole page)."""
    if not rows:
        return []
    ids = [row[kind.key] for row in rows]
    maps: dict[str, dict[str, float]] = {item_id: {} for item_id in ids}
    for m in db.query(conn, f"list-{kind.name}-{kind.mapping}", {"first": ids[0], "last": ids[-1]}):
        if m[kind.key] in maps:
            maps[m[kind.key]][m["capability"]] = float(m[kind.value])
    out = []
    for row in rows:
        record = {"id": row[kind.key], **{f: row[f] for f in kind.fields}}
        record[kind.mapping] = maps[row[kind.key]]
        record["created_at"] = api_time(row["created_at"])
        record["updated_at"] = api_time(row["updated_at"])
        out.append(record)
    return out


def _get(db, conn, kind: _Kind, item_id: str) -> dict | None:
    rows = db.query(conn, f"get-{kind.name}", {kind.key: item_id})
    return _records(db, conn, kind, rows)[0] if rows else None


def _create(db, kind: _Kind, record: dict, conn=None) -> dict:
    def work(c):
        db.execute(c, f"insert-{kind.name}", _params(kind, record["id"], record))
        _write_mapping(db, c, kind, record["id"], record)
        return _get(db, c, kind, record["id"])

    return write(db, work, conn)


def _update(db, kind: _Kind, item_id: str, record: dict, conn=None) -> dict | None:
    def work(c):
        if db.execute(c, f"update-{kind.name}", _params(kind, item_id, record)) == 0:
            return None
        _write_mapping(db, c, kind, item_id, record)
        return _get(db, c, kind, item_id)

    return write(db, work, conn)


def _upsert(db, kind: _Kind, record: dict, conn=None) -> dict:
    def work(c):
        if db.execute(c, f"update-{kind.name}", _params(kind, record["id"], record)) == 0:
            db.execute(c, f"insert-{kind.name}", _params(kind, record["id"], record))
        _write_mapping(db, c, kind, record["id"], record)
        return _get(db, c, kind, record["id"])

    return write(db, work, conn)


def _list(db, kind: _Kind, after: str | None, limit: int, status: str | None) -> list[dict]:
    with reading(db) as conn:
        rows = db.query(
            conn,
            f"list-{kind.name}s",
            {"after": after or "", "limit": int(limit), "status": status},
        )
        return _records(db, conn, kind, rows)


def _set_status(db, kind: _Kind, item_id: str, status: str) -> dict | None:
    def work(c):
        if db.execute(c, f"set-{kind.name}-status", {kind.key: item_id, "status": status}) == 0:
            return None
        return _get(db, c, kind, item_id)

    return write(db, work)


# -- models ------------------------------------------------------------------------------------


def create_model(db, model: dict, conn=None) -> dict:
    """Insert a model and its capabilities; a taken id raises errors.UniqueViolation."""
    return _create(db, MODEL, model, conn)


def update_model(db, model_id: str, model: dict, conn=None) -> dict | None:
    """Replace a model's fields and capabilities; None when no such model."""
    return _update(db, MODEL, model_id, model, conn)


def upsert_model(db, model: dict, conn=None) -> dict:
    """Create or replace a model (bootstrap, tests)."""
    return _upsert(db, MODEL, model, conn)


def get_model(db, model_id: str) -> dict | None:
    with reading(db) as conn:
        return _get(db, conn, MODEL, model_id)


def list_models(
    db, after: str | None = None, limit: int = 100, status: str | None = None
) -> list[dict]:
    """Up to `limit` models with ids after `after`, sorted by id; optionally one status."""
    return _list(db, MODEL, after, limit, status)


def set_model_status(db, model_id: str, status: str) -> dict | None:
    """active / draining / disabled; None when no such model."""
    return _set_status(db, MODEL, model_id, status)


# -- agents ------------------------------------------------------------------------------------


def create_agent(db, agent: dict, conn=None) -> dict:
    """Insert an agent and its requirements; a taken id raises errors.UniqueViolation."""
    return _create(db, AGENT, agent, conn)


def update_agent(db, agent_id: str, agent: dict, conn=None) -> dict | None:
    """Replace an agent's fields and requirements; None when no such agent."""
    return _update(db, AGENT, agent_id, agent, conn)


def upsert_agent(db, agent: dict, conn=None) -> dict:
    return _upsert(db, AGENT, agent, conn)


def get_agent(db, agent_id: str) -> dict | None:
    with reading(db) as conn:
        return _get(db, conn, AGENT, agent_id)


def list_agents(
    db, after: str | None = None, limit: int = 100, status: str | None = None
) -> list[dict]:
    """Up to `limit` agents with ids after `after`, sorted by id; optionally one status."""
    return _list(db, AGENT, after, limit, status)


def set_agent_status(db, agent_id: str, status: str) -> dict | None:
    """active / disabled; None when no such agent."""
    return _set_status(db, AGENT, agent_id, status)
