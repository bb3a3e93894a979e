"""GET /metrics: per-app registry, per-route counters, figures read at scrape time."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import Api, model_body

from app import create_app
from app.api import auth


def _samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _scrape(api: Api) -> dict[tuple, float]:
    response = api.get("/metrics", role="viewer")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return _samples(response.get_data(as_text=True))


def test_requests_are_counted_by_url_rule_not_raw_path(api):
    api.post("/api/v1/models", model_body("m1"))
    for model_id in ("m1", "m2", "m3"):
        api.get(f"/api/v1/models/{model_id}")
    api.get("/api/v1/does-not-exist")
    api.get("/api/v1/models", role=None)
    samples = _scrape(api)
    name = "model_router_http_requests_total"
    rule = "/api/v1/models/<model_id>"
    assert samples[(name, (("method", "GET"), ("route", rule), ("status", "200")))] == 1
    assert samples[(name, (("method", "GET"), ("route", rule), ("status", "404")))] == 2
    assert (
        samples[(name, (("method", "POST"), ("route", "/api/v1/models"), ("status", "201")))] == 1
    )
    assert samples[(name, (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))] == 1
    assert samples[(name, (("method", "GET"), ("route", "/api/v1/models"), ("status", "401")))] == 1
    assert not any("m2" in str(key) for key in samples)
    count = "model_router_http_request_duration_seconds_count"
    assert samples[(count, (("method", "GET"), ("route", rule), ("status", "404")))] == 2


def test_each_app_has_its_own_registry(api, overrides):
    api.get("/api/v1/models")
    other = create_app(overrides)
    try:
        key = auth.keyring(other).create("viewer", "other")[1]
        other_api = Api(other.test_client(), {"viewer": key})
        samples = _scrape(other_api)
        assert not any(
            k[0] == "model_router_http_requests_total" and ("route", "/api/v1/models") in k[1]
            for k in samples
        )
    finally:
        other.extensions["services"].stop()


def test_scrape_reads_engine_and_database_figures(api):
    samples = _scrape(api)
    assert samples[("model_router_pool_max_size", ())] == 4  # the test app's pool
    assert ("model_router_writer_state", (("value", "running"),)) in samples
    assert ("model_router_writer_batch_size_histogram", (("key", ">1000"),)) in samples
    assert ("model_router_cache_hit_rate", ()) in samples
    for severity in ("info", "warning", "critical"):
        assert samples[("model_router_open_alerts", (("severity", severity),))] == 0
    for section in ("db", "load", "alerts"):
        assert samples[("model_router_scrape_error", (("section", section),))] == 0


def test_a_failing_source_is_flagged_not_fatal(api, app, monkeypatch):
    engine = app.extensions["services"].engine

    def broken():
        raise RuntimeError("pool closed")

    monkeypatch.setattr(engine, "db_figures", broken)
    samples = _scrape(api)
    assert samples[("model_router_scrape_error", (("section", "db"),))] == 1
    assert samples[("model_router_scrape_error", (("section", "alerts"),))] == 0


@pytest.mark.parametrize(
    "role,status", [(None, 401), ("router", 403), ("viewer", 200), ("admin", 200)]
)
def test_metrics_needs_a_viewer_key(api, role, status):
    assert api.get("/metrics", role=role).status_code == status
