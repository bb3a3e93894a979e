"""The service as HANA's least-privileged user, end to end: readiness, route, outcome, and every
analytics read, as the user that holds only ROUTER_APP of sql/hana/roles.sql.

Runs when both HANA_TEST_URL (the schema owner, who migrates) and HANA_TEST_SERVICE_URL (the
service user, granted ROUTER_APP after the owner's `migrate` and roles.sql, with `?schema=` the
owner's schema) are set; skipped with that reason otherwise. Set up as the HANA guide §4 says:
`model-router migrate` as the owner, roles.sql as the DBA, `GRANT ROUTER_APP TO <service user>`.
What it guards: a readiness probe that creates anything (yoyo's lock table and DDL probe: 258
as this user), a statement of the request path on an object without a grant.
"""

from __future__ import annotations

import os
import uuid

import pytest
from support import agent_body, model_body

from app import create_app
from app.db import deploy, store
from app.db.database import Database
from app.db.sqlite import SqliteBackend
from tests.contract_support import hana_config, hana_overrides

SKIP = (
    "HANA_TEST_URL and HANA_TEST_SERVICE_URL not both set: least-privilege HANA contract "
    "tests not run"
)


@pytest.fixture(scope="module", params=["sqlite", "hana"])
def service(request, tmp_path_factory):
    """The app running as the service user on a schema the owner migrated. On SQLite (no
    users) the same steps check this module's own requests and reads."""
    folder = tmp_path_factory.mktemp(f"least_privilege_{request.param}")
    if request.param == "sqlite":
        path = str(folder / "router.db")
        deploy.migrate(SqliteBackend(path))
        settings = {"sqlite.path": path, "background.enabled": False}
        settings["catalog.bootstrap_file"] = ""
    else:
        owner_url = os.environ.get("HANA_TEST_URL")
        service_url = os.environ.get("HANA_TEST_SERVICE_URL")
        if not (owner_url and service_url):
            pytest.skip(SKIP)
        owner = Database.from_config(hana_config(owner_url))
        deploy.migrate(owner.backend)  # idempotent: a rollback would drop the DBA's grants
        owner.close()
        settings = hana_overrides(service_url)
    app = create_app({**settings, "spool.path": str(folder / "spool.db")})
    yield app
    app.extensions["services"].stop()


@pytest.fixture(scope="module")
def headers(service) -> dict[str, dict]:
    from app.api import auth

    ring = auth.keyring(service)
    return {
        role: {"Authorization": f"Bearer {ring.create(role, f'least privilege {role}')[1]}"}
        for role in ("admin", "router")
    }


def test_readiness_passes_as_the_service_user(service):
    response = service.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["migrations"] == "current"


def test_catalog_route_and_outcome_as_the_service_user(service, headers):
    client = service.test_client()
    suffix = uuid.uuid4().hex[:8]
    model, agent = f"lp-model-{suffix}", f"lp-agent-{suffix}"
    assert (
        client.post("/api/v1/models", json=model_body(model), headers=headers["admin"]).status_code
        == 201
    )
    body = agent_body(agent, min_context=0, max_latency_ms=None)
    assert client.post("/api/v1/agents", json=body, headers=headers["admin"]).status_code == 201
    # an agent no model can take: the run writes ASSIGNMENT_RUN_UNASSIGNED as this user too
    unplaced = agent_body(f"lp-unplaced-{suffix}", min_context=100_000_000)
    assert client.post("/api/v1/agents", json=unplaced, headers=headers["admin"]).status_code == 201
    run = client.post("/api/v1/assignments/auto", json={}, headers=headers["admin"])
    assert run.status_code == 200, run.get_json()
    assert f"lp-unplaced-{suffix}" in {u["agent_id"] for u in run.get_json()["unassigned"]}

    route = client.post("/api/v1/route", json={"agent_id": agent}, headers=headers["router"])
    assert route.status_code == 200, route.get_json()
    decision_id = route.get_json()["decision_id"]
    outcome = client.post(
        f"/api/v1/decisions/{decision_id}/outcome",
        json={"success": True, "latency_ms": 42.0, "tokens_in": 10, "tokens_out": 20},
        headers=headers["router"],
    )
    assert outcome.status_code == 201, outcome.get_json()
    again = client.post(
        f"/api/v1/decisions/{decision_id}/outcome",
        json={"success": True, "latency_ms": 42.0},
        headers=headers["router"],
    )
    assert again.status_code == 409
    stored = client.get(f"/api/v1/decisions/{decision_id}", headers=headers["admin"]).get_json()
    assert stored["outcome"]["latency_ms"] == 42.0


def test_every_analytics_read_as_the_service_user(service, headers):
    db = service.extensions["services"].db
    models = store.list_model_performance(db)
    assert isinstance(store.get_routing_stats(db, 24), dict)
    assert isinstance(store.get_routing_analytics_24h(db), dict)
    assert isinstance(store.get_top_agent_model_pairs(db, 10), list)
    assert isinstance(store.get_model_health(db), dict)
    assert isinstance(store.list_minute_metrics(db), list)
    assert isinstance(store.evaluate_alerts(db), list)
    assert isinstance(store.list_alerts(db), list)
    assert isinstance(store.list_decisions(db, limit=5), list)
    if models:
        assert store.get_model_performance(db, models[0]["model_id"], 24)
    client = service.test_client()
    for path in (
        "/api/v1/analytics/routing-stats",
        "/api/v1/analytics/summary-24h",
        "/api/v1/analytics/top-pairs",
        "/api/v1/load",
        "/api/v1/alerts",
        "/metrics",
    ):
        response = client.get(path, headers=headers["admin"])
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
