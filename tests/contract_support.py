"""Shared by the contract and atomicity tests: the backends to run on and a fixed scenario.

The scenario is built through store.py only (decisions and outcomes in batches), with known
timestamps relative to the current UTC hour and known latencies, so every analytics answer can be
recomputed here from the raw rows: counts and rates exactly, percentiles within the documented
relative bound (docs/ANALYTICS.md).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from app.config import load_config
from app.db import deploy, store
from app.db.database import Database
from app.ids import new_decision_id

BACKENDS = ["sqlite", "hana"]
PERCENTILE_BOUND = 0.02  # relative error of a histogram percentile (docs/ANALYTICS.md)
HANA_SKIP = "HANA_TEST_URL not set: HANA contract tests not run"


def backend_db(request) -> Database:
    """The Database of the test's backend parameter (SQLite: the conftest `db` fixture)."""
    if request.param == "sqlite":
        return request.getfixturevalue("db")
    url = os.environ.get("HANA_TEST_URL")
    if not url:
        pytest.skip(HANA_SKIP)
    db = Database.from_config(hana_config(url))
    deploy.rollback_all(db.backend)  # a clean schema: the scenario uses fixed ids
    deploy.migrate(db.backend)
    db.start()
    request.addfinalizer(db.close)
    return db


def hana_overrides(url: str) -> dict:
    """Settings of a HANA test user, from
    hana://user:password@host:port[/database][?schema=S&encrypt=false&validate=false]"""
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "db.backend": "hana",
        "hana.host": parts.hostname,
        "hana.port": parts.port or 443,
        "hana.user": unquote(parts.username or ""),
        "hana.password": unquote(parts.password or ""),
        "hana.database": parts.path.lstrip("/"),
        "hana.schema": query.get("schema", ""),
        "hana.encrypt": query.get("encrypt", "true") != "false",
        "hana.ssl_validate_certificate": query.get("validate", "true") != "false",
        "background.enabled": False,
        "pool.min_connections": 1,
        "pool.max_connections": 4,
        "catalog.bootstrap_file": "",
    }


def hana_config(url: str):
    return load_config(hana_overrides(url), env={})


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def stable_hour(call):
    """Run call(now) so that the UTC hour did not change around it (windows are whole hours)."""
    for _ in range(3):
        before = datetime.now(UTC)
        result = call(before)
        if floor_hour(datetime.now(UTC)) == floor_hour(before):
            return result, before
    raise AssertionError("the hour kept changing")


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def stable_minute(call, margin_s: float = 2.0):
    """Run call(now) inside one UTC minute, at least `margin_s` from its edges (a database
    server's clock may be a little off ours), so that a window of whole minutes is known."""
    for _ in range(3):
        before = datetime.now(UTC)
        into = before.second + before.microsecond / 1e6
        if not margin_s <= into <= 60 - margin_s:
            time.sleep((margin_s - into) % 60 + 0.01)
            continue
        result = call(before)
        if floor_minute(datetime.now(UTC)) == floor_minute(before):
            return result, before
    raise AssertionError("the minute kept changing")


def nearest_rank(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[-(-percent * len(ordered) // 100) - 1]


def bucket(latency_ms: float) -> int:
    """The latency histogram's bucket (docs/ANALYTICS.md): ceil(ln(x) / ln(1.04)), -32768 under
    0.001 ms."""
    return -32768 if latency_ms < 0.001 else math.ceil(math.log(latency_ms) / math.log(1.04))


def histogram_percentile(values: list[float], percent: int) -> float:
    """What a histogram percentile must answer: the representative value 1.04^(b - 0.5) of the
    bucket b holding the exact nearest-rank value (0 for bucket -32768)."""
    b = bucket(nearest_rank(values, percent))
    return 0.0 if b == -32768 else 1.04 ** (b - 0.5)


def assert_percentile(estimate: float | None, exact: float) -> None:
    assert estimate is not None
    if exact == 0:
        assert estimate == 0
    else:
        assert abs(estimate - exact) <= PERCENTILE_BOUND * exact, (estimate, exact)


def assert_stats(item: dict, rows: list[dict]) -> None:
    """One stats item against the raw outcome rows it summarises."""
    n = len(rows)
    successes = sum(1 for r in rows if r["success"])
    assert item["requests"] == n
    assert item["successes"] == successes
    assert item["failures"] == n - successes
    assert item["tokens_in"] == sum(r["tokens_in"] or 0 for r in rows)
    assert item["tokens_out"] == sum(r["tokens_out"] or 0 for r in rows)
    if n == 0:
        assert item["success_rate"] is None and item["avg_latency_ms"] is None
        assert item["p95_latency_ms"] is None
        return
    assert item["success_rate"] == pytest.approx(successes / n, rel=1e-12)
    latencies = [r["latency_ms"] for r in rows]
    assert item["avg_latency_ms"] == pytest.approx(math.fsum(latencies) / n, rel=1e-9)
    for percent in (50, 95, 99):
        assert_percentile(item[f"p{percent}_latency_ms"], nearest_rank(latencies, percent))


@dataclass
class Scenario:
    """What was stored: models, agents, active assignments, decisions and their outcomes."""

    models: list[str]
    agents: list[str]
    assignments: dict[str, dict]  # agent id -> assignment
    decisions: list[dict] = field(default_factory=list)
    outcomes: dict[str, dict] = field(default_factory=dict)  # decision id -> outcome row

    def outcome_rows(
        self,
        since: datetime | None = None,
        model_id: str | None = None,
        agent_id: str | None = None,
    ) -> list[dict]:
        """Joined decision + outcome rows, filtered by decision time and ids."""
        rows = []
        for d in self.decisions:
            o = self.outcomes.get(d["decision_id"])
            if o is None or (since is not None and d["decided_at"] < since):
                continue
            if (model_id and d["model_id"] != model_id) or (agent_id and d["agent_id"] != agent_id):
                continue
            rows.append(
                {
                    **o,
                    "model_id": d["model_id"],
                    "agent_id": d["agent_id"],
                    "decided_at": d["decided_at"],
                    "assignment_id": d["assignment_id"],
                }
            )
        return rows


def add_decisions(db, scenario: Scenario, specs: list[dict], batch_id: str) -> list[dict]:
    """Store more decisions for the scenario's first agent and model, each spec {"decided_at",
    "strategy"?, "cache_hit"?, "latency_ms"? (None: no outcome), "success"?}; returns them."""
    added = []
    for spec in specs:
        decision = {
            "decision_id": new_decision_id(),
            "decided_at": spec["decided_at"],
            "agent_id": scenario.agents[0],
            "task_type": "coding",
            "model_id": scenario.models[0],
            "assignment_id": None,
            "strategy": spec.get("strategy"),
            "score": 0.5,
            "cache_hit": spec.get("cache_hit", False),
            "fallbacks": [],
            "reason": "added",
        }
        added.append(decision)
        if spec.get("latency_ms") is not None:
            scenario.outcomes[decision["decision_id"]] = {
                "decision_id": decision["decision_id"],
                "success": spec.get("success", True),
                "latency_ms": spec["latency_ms"],
                "tokens_in": 1,
                "tokens_out": 1,
                "error_code": None,
                "recorded_at": spec["decided_at"] + timedelta(milliseconds=5),
            }
    store.save_routing_decisions(db, added)
    outcomes = [
        scenario.outcomes[d["decision_id"]] for d in added if d["decision_id"] in scenario.outcomes
    ]
    store.save_metrics_batch(db, outcomes, batch_id)
    scenario.decisions.extend(added)
    return added


def minute_metrics(
    scenario: Scenario,
    since: datetime,
    percentile: Callable[[list[float], int], float] = histogram_percentile,
) -> list[dict]:
    """What V_ROUTING_MINUTELY_1H must answer for decisions made at or after `since`, computed
    from the raw rows: per minute with decisions, exact counts and `percentile` of the minute's
    latencies (the histogram's, as the view; `nearest_rank` gives the exact values)."""
    minutes: dict[datetime, dict] = {}
    for d in scenario.decisions:
        if d["decided_at"] >= since:
            m = minutes.setdefault(floor_minute(d["decided_at"]), {"n": 0, "hits": 0, "rows": []})
            m["n"] += 1
            m["hits"] += 1 if d["cache_hit"] else 0
    for r in scenario.outcome_rows(since):
        minutes[floor_minute(r["decided_at"])]["rows"].append(r)
    expected = []
    for minute, m in sorted(minutes.items()):
        latencies = [r["latency_ms"] for r in m["rows"]]
        expected.append(
            {
                "minute_start": minute.isoformat(timespec="microseconds"),
                "decisions": m["n"],
                "cache_hits": m["hits"],
                "outcomes": len(m["rows"]),
                "successes": sum(1 for r in m["rows"] if r["success"]),
                **{
                    f"p{q}_latency_ms": percentile(latencies, q) if latencies else None
                    for q in (50, 95, 99)
                },
            }
        )
    return expected


def _latency(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.01:
        return 0.0
    if roll < 0.03:
        return round(rng.uniform(0.01, 0.9), 3)  # sub-millisecond
    if roll < 0.05:
        return float(rng.choice([1, 2, 10, 100, 1000]))  # round values
    return round(rng.lognormvariate(5.5, 0.9), 3)


def build_scenario(
    db, *, now: datetime | None = None, seed: int = 7, hourly: int = 300
) -> Scenario:
    """4 models (the last one idle), 6 agents, ~3,000 decisions: 8 past hours of `hourly`
    decisions, recent ones (last 10 minutes), some 26-30 h old and some 200 h old; 5 % of the
    decisions never get an outcome."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    models = [f"ct-model-{i}" for i in range(4)]
    agents = [f"ct-agent-{i}" for i in range(6)]
    for i, m in enumerate(models):
        store.create_model(
            db,
            {
                "id": m,
                "display_name": f"Model {i}",
                "provider": "test",
                "endpoint": f"http://{m}",
                "context_window": 8192,
                "max_concurrency": 8,
                "cost_per_1k_tokens": 0.5,
                "capabilities": {"coding": 0.5 + i / 10},
            },
        )
    for a in agents:
        store.create_agent(db, {"id": a, "task_type": "coding", "requirements": {"coding": 1}})
    run = store.create_assignment_run(
        db,
        {
            "method": "hungarian",
            "total_score": 4.2,
            "greedy_total_score": 4.0,
            "improvement_pct": 5.0,
        },
        [{"agent_id": a, "model_id": models[i % 3], "score": 0.7} for i, a in enumerate(agents)],
    )
    assignments = {a["agent_id"]: a for a in run["assignments"]}
    scenario = Scenario(models, agents, assignments)

    base = floor_hour(now)
    times = [
        base - timedelta(hours=k, minutes=-rng.uniform(5, 55))
        for k in range(1, 9)
        for _ in range(hourly)
    ]
    times += [now - timedelta(minutes=rng.uniform(1, 10)) for _ in range(200)]
    times += [
        base - timedelta(hours=rng.choice([26, 28, 30]), minutes=-rng.uniform(5, 55))
        for _ in range(100)
    ]
    times += [base - timedelta(hours=200, minutes=-rng.uniform(5, 55)) for _ in range(50)]
    times.sort()
    failure = {m: p for m, p in zip(models, (0.02, 0.1, 0.3, 0.0), strict=True)}
    for t in times:
        agent = rng.choice(agents)
        model = rng.choice(models[:3])
        assigned = assignments[agent]
        scenario.decisions.append(
            {
                "decision_id": new_decision_id(),
                "decided_at": t,
                "agent_id": agent,
                "task_type": "coding",
                "model_id": model,
                "assignment_id": assigned["assignment_id"]
                if assigned["model_id"] == model
                else None,
                "strategy": "assigned",
                "score": 0.7,
                "cache_hit": rng.random() < 0.3,
                "fallbacks": [{"model_id": models[3], "endpoint": f"http://{models[3]}"}],
                "reason": "contract scenario",
            }
        )
    for d in scenario.decisions:
        if rng.random() < 0.05:
            continue
        scenario.outcomes[d["decision_id"]] = {
            "decision_id": d["decision_id"],
            "success": rng.random() >= failure[d["model_id"]],
            "latency_ms": _latency(rng),
            "tokens_in": None if rng.random() < 0.05 else rng.randrange(10, 4000),
            "tokens_out": rng.randrange(0, 2000),
            "error_code": None,
            "recorded_at": d["decided_at"] + timedelta(milliseconds=rng.uniform(1, 30000)),
        }
    for i in range(0, len(scenario.decisions), 500):
        store.save_routing_decisions(db, scenario.decisions[i : i + 500])
    outcomes = list(scenario.outcomes.values())
    for i in range(0, len(outcomes), 400):
        result = store.save_metrics_batch(db, outcomes[i : i + 400], f"ct-batch-{i // 400}")
        assert result["applied"] == len(outcomes[i : i + 400]) and result["missing"] == []
    return scenario
