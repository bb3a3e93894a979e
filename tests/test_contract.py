"""The same scenario through store.py on every reachable backend; answers checked against values
computed here from the raw rows (counts and rates exact, percentiles within 2 %).

SQLite always runs; HANA runs when HANA_TEST_URL is set and is skipped with that reason otherwise.
"""

from __future__ import annotations

import math
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from app.db import errors, store
from app.ids import new_decision_id
from tests.contract_support import (
    BACKENDS,
    Scenario,
    add_decisions,
    assert_percentile,
    assert_stats,
    backend_db,
    build_scenario,
    floor_hour,
    floor_minute,
    histogram_percentile,
    minute_metrics,
    nearest_rank,
    stable_hour,
    stable_minute,
)


@pytest.fixture(params=BACKENDS)
def bdb(request):
    return backend_db(request)


@pytest.fixture
def scenario(bdb):
    return build_scenario(bdb)


def window_start(now: datetime, hours: int) -> datetime:
    """The documented window: the last `hours` whole UTC hours including the current one."""
    return floor_hour(now) - timedelta(hours=hours - 1)


@pytest.mark.parametrize("hours", [1, 3, 24, 168])
def test_routing_stats_match_raw_rows(bdb, scenario, hours):
    stats, now = stable_hour(lambda _: store.get_routing_stats(bdb, hours))
    assert stats["hours"] == hours
    since = window_start(now, hours)
    expected = {m: scenario.outcome_rows(since, model_id=m) for m in scenario.models}
    busy = [m for m in scenario.models if expected[m]]
    ordered = sorted(busy, key=lambda m: (-len(expected[m]), m))
    assert [item["model_id"] for item in stats["items"]] == ordered
    for item in stats["items"]:
        assert_stats(item, expected[item["model_id"]])


def test_routing_analytics_24h_view_matches_raw_rows(bdb, scenario):
    summary, now = stable_hour(lambda _: store.get_routing_analytics_24h(bdb))
    since = window_start(now, 24)
    items = {item["model_id"]: item for item in summary["items"]}
    assert set(items) == {m for m in scenario.models if scenario.outcome_rows(since, model_id=m)}
    for model_id, item in items.items():
        assert_stats(item, scenario.outcome_rows(since, model_id=model_id))


@pytest.mark.parametrize("hours", [2, 24])
def test_model_performance_matches_raw_rows(bdb, scenario, hours):
    for model_id in scenario.models:  # the last model has no traffic: zero counts, NULL rates
        perf, now = stable_hour(lambda _, m=model_id: store.get_model_performance(bdb, m, hours))
        assert perf["model_id"] == model_id and perf["hours"] == hours
        assert_stats(perf, scenario.outcome_rows(window_start(now, hours), model_id=model_id))


def test_model_performance_view_covers_every_model_over_7_days(bdb, scenario):
    rows, now = stable_hour(lambda _: store.list_model_performance(bdb))
    since = window_start(now, 168)
    assert [r["model_id"] for r in rows] == sorted(scenario.models)
    for row in rows:
        raw = scenario.outcome_rows(since, model_id=row["model_id"])
        assert_stats(row, raw)
        if raw:
            first = min(r["decided_at"] for r in raw)
            assert row["first_hour"] == floor_hour(first).isoformat(timespec="microseconds")


def test_hourly_view_matches_raw_rows_per_hour(bdb, scenario):
    now = datetime.now(UTC)
    since, until = floor_hour(now) - timedelta(hours=30), floor_hour(now) + timedelta(hours=1)
    rows = store.list_hourly_model_metrics(bdb, since, until)
    seen = set()
    for row in rows:
        hour = datetime.fromisoformat(row["hour_start"])
        raw = [
            r
            for r in scenario.outcome_rows(hour, model_id=row["model_id"])
            if r["decided_at"] < hour + timedelta(hours=1)
        ]
        assert_stats(row, raw)
        seen.add((hour, row["model_id"]))
    expected = {(floor_hour(r["decided_at"]), r["model_id"]) for r in scenario.outcome_rows(since)}
    assert seen == expected
    one = store.list_hourly_model_metrics(bdb, since, until, model_id=scenario.models[0])
    assert {r["model_id"] for r in one} == {scenario.models[0]}


@pytest.mark.parametrize("limit", [1, 5, 1000])
def test_top_pairs_match_raw_rows(bdb, scenario, limit):
    pairs, now = stable_hour(lambda _: store.get_top_agent_model_pairs(bdb, limit))
    rows = scenario.outcome_rows(window_start(now, 24))
    counts: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        counts.setdefault((r["agent_id"], r["model_id"]), []).append(r)
    ranked = sorted(counts, key=lambda k: (-len(counts[k]), k))[:limit]
    assert [(p["agent_id"], p["model_id"]) for p in pairs] == ranked
    assert [p["rank"] for p in pairs] == list(range(1, len(ranked) + 1))
    for p in pairs:
        assert_stats(p, counts[(p["agent_id"], p["model_id"])])


def test_model_health_is_whole_minutes_from_the_minute_rollup(bdb, scenario):
    """V_MODEL_HEALTH: decisions since the start of the minute 15 minutes ago (15 to 16 minutes),
    from MODEL_METRICS_MINUTELY: counts, rate and mean latency exact, p95 the histogram's."""

    def edges_then_read(now):
        start = floor_minute(now) - timedelta(minutes=15)
        add_decisions(
            bdb,
            scenario,
            [  # the window's first instant is in, the one before out (a slow failure: it shows)
                {"decided_at": start, "latency_ms": 7.0},
                {
                    "decided_at": start - timedelta(microseconds=1),
                    "latency_ms": 90000.0,
                    "success": False,
                },
                {"decided_at": start + timedelta(seconds=1), "latency_ms": 0.0, "success": False},
            ],
            f"ct-health-edges-{now:%H%M%S%f}",  # a batch id per attempt
        )
        return store.get_model_health(bdb)

    health, now = stable_minute(edges_then_read)
    since = floor_minute(now) - timedelta(minutes=15)
    assert set(health) == set(scenario.models)
    for model_id, h in health.items():
        raw = scenario.outcome_rows(since, model_id=model_id)
        assert h["window_minutes"] == 15 and h["status"] == "active"
        n, ok = len(raw), sum(1 for r in raw if r["success"])
        assert (h["requests"], h["successes"], h["failures"]) == (n, ok, n - ok)
        if not raw:
            assert h["success_rate"] is h["avg_latency_ms"] is h["p95_latency_ms"] is None
            continue
        latencies = [r["latency_ms"] for r in raw]
        assert h["success_rate"] == pytest.approx(ok / n, rel=1e-12)
        assert h["avg_latency_ms"] == pytest.approx(math.fsum(latencies) / n, rel=1e-9)
        assert h["p95_latency_ms"] == pytest.approx(histogram_percentile(latencies, 95), rel=1e-9)
        assert_percentile(h["p95_latency_ms"], nearest_rank(latencies, 95))
    assert health[scenario.models[3]]["requests"] == 0  # the idle model


def test_alert_windows_are_whole_minutes_from_the_minute_rollup(bdb):
    """error_rate, no_traffic and p95_latency_ms of a rule count the decisions since the start of
    the minute WINDOW_MINUTES ago, from MODEL_METRICS_MINUTELY; older outcomes do not count."""
    store.create_model(
        bdb, {"id": "aw-model", "endpoint": "http://x", "context_window": 1, "max_concurrency": 1}
    )
    store.create_agent(bdb, {"id": "aw-agent"})
    scenario = Scenario(["aw-model"], ["aw-agent"], {})
    for metric in ("no_traffic", "error_rate", "p95_latency_ms"):
        store.put_alert_rule(
            bdb,
            {
                "rule_id": f"aw-{metric}",
                "metric": metric,
                "comparator": "gt",
                "threshold": -1.0,  # any observation breaches, so each one is reported
                "window_minutes": 5,
                "min_samples": 1,
                "severity": "info",
                "model_id": "aw-model",
            },
        )

    def edges_then_evaluate(now):
        start = floor_minute(now) - timedelta(minutes=5)
        add_decisions(
            bdb,
            scenario,
            [
                {"decided_at": start, "latency_ms": 100.0},
                {
                    "decided_at": start - timedelta(microseconds=1),
                    "latency_ms": 9000.0,
                    "success": False,
                },
                {
                    "decided_at": start - timedelta(minutes=20),
                    "latency_ms": 9000.0,
                    "success": False,
                },
                {"decided_at": start + timedelta(seconds=1), "latency_ms": 200.0, "success": False},
                {"decided_at": now - timedelta(seconds=1), "latency_ms": 300.0},
            ],
            f"ct-alert-edges-{now:%H%M%S%f}",
        )
        return store.evaluate_alerts(bdb)

    opened, now = stable_minute(edges_then_evaluate)
    observed = {a["rule_id"]: a["observed_value"] for a in opened if a["model_id"] == "aw-model"}
    raw = scenario.outcome_rows(floor_minute(now) - timedelta(minutes=5))
    assert [r["latency_ms"] for r in raw] == [100.0, 200.0, 300.0]
    assert observed["aw-no_traffic"] == 3
    assert observed["aw-error_rate"] == pytest.approx(1 / 3, rel=1e-12)
    assert observed["aw-p95_latency_ms"] == pytest.approx(
        histogram_percentile([100.0, 200.0, 300.0], 95), rel=1e-9
    )
    assert_percentile(observed["aw-p95_latency_ms"], 300.0)


LONG_WINDOWS = (5, 59, 60, 61, 90, 600, 1440)


def _window_observations(rows: list[dict]) -> dict[str, float]:
    """What V_ALERT_OBSERVATIONS must answer for a window's outcome rows of one model."""
    failures = sum(1 for r in rows if not r["success"])
    latencies = [r["latency_ms"] for r in rows]
    return {
        "no_traffic": float(len(rows)),
        "error_rate": failures / len(rows),
        "p95_latency_ms": histogram_percentile(latencies, 95),
    }


def _minute_only_observations(path: str, since: datetime, model_id: str) -> dict[str, float]:
    """The minute-only computation (the view before the hourly split), from the SQLite minute
    rollup: every MODEL_METRICS_MINUTELY row since `since`, histogram nearest rank."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT BUCKET, SAMPLES, SUCCESSES FROM MODEL_METRICS_MINUTELY "
            "WHERE MINUTE_START >= ? AND MODEL_ID = ? ORDER BY BUCKET",
            (since.strftime("%Y-%m-%d %H:%M:%S.%f"), model_id),
        ).fetchall()
    n = sum(samples for _, samples, _ in rows)
    cum, b95 = 0, None
    for b, samples, _ in rows:
        cum += samples
        if b95 is None and cum >= math.ceil(95 * n / 100):
            b95 = b
    return {
        "no_traffic": float(n),
        "error_rate": (n - sum(ok for _, _, ok in rows)) / n,
        "p95_latency_ms": 0.0 if b95 == -32768 else 1.04 ** (b95 - 0.5),
    }


def test_long_alert_windows_add_whole_hours_from_the_hourly_rollups(bdb):
    """Windows of up to 1440 minutes read their whole hours from the hourly rollups and the
    rest from the minute rollup; the observations equal the raw rows' (since the start of the
    minute WINDOW_MINUTES ago) and the minute-only computation's exactly, across the hour edges
    and with late outcomes of decisions older than 1440 minutes in the hourly rollups only."""
    models = ["lw-model-0", "lw-model-1"]
    for m in models:
        store.create_model(
            bdb, {"id": m, "endpoint": "http://x", "context_window": 1, "max_concurrency": 1}
        )
    store.create_agent(bdb, {"id": "lw-agent"})
    for window in LONG_WINDOWS:
        for metric in ("no_traffic", "error_rate", "p95_latency_ms"):
            store.put_alert_rule(
                bdb,
                {
                    "rule_id": f"lw-{window}-{metric}",
                    "metric": metric,
                    "comparator": "gt",
                    "threshold": -1.0,  # any observation breaches, so each one is reported
                    "window_minutes": window,
                    "min_samples": 1,
                    "severity": "info",
                },
            )
    rng = random.Random(11)

    def spread_then_evaluate(now):
        scenario = Scenario(models, ["lw-agent"], {})
        times = [now - timedelta(minutes=26 * 60) + timedelta(seconds=97 * k) for k in range(965)]
        for window in LONG_WINDOWS:  # each window's edges: S, H0 and HC, each side
            start = floor_minute(now) - timedelta(minutes=window)
            first_hour = floor_hour(start + timedelta(minutes=59))
            for edge in (start, first_hour, floor_hour(now)):
                times += [edge, edge - timedelta(microseconds=1)]
        times.append(now - timedelta(seconds=1))
        for k, at in enumerate(times):
            decision = {
                "decision_id": new_decision_id(),
                "decided_at": at,
                "agent_id": "lw-agent",
                "model_id": models[k % 2],
            }
            scenario.decisions.append({**decision, "assignment_id": None})
            scenario.outcomes[decision["decision_id"]] = {
                "decision_id": decision["decision_id"],
                "success": rng.random() < 0.8,
                "latency_ms": rng.choice([0.0, 0.5, 1.0, round(rng.lognormvariate(5, 1), 3)]),
            }
        store.save_routing_decisions(bdb, scenario.decisions)
        outcomes = list(scenario.outcomes.values())
        for i in range(0, len(outcomes), 400):  # several batches, each applied "late"
            store.save_metrics_batch(bdb, outcomes[i : i + 400], f"lw-{now:%H%M%S%f}-{i}")
        return scenario, store.evaluate_alerts(bdb)

    (scenario, opened), now = stable_minute(spread_then_evaluate)
    observed = {(a["rule_id"], a["model_id"]): a["observed_value"] for a in opened}
    sqlite_path = getattr(bdb.backend, "path", None)  # HANA: the raw rows are the reference
    for window in LONG_WINDOWS:
        since = floor_minute(now) - timedelta(minutes=window)
        for m in models:
            want = _window_observations(scenario.outcome_rows(since, model_id=m))
            minute_only = _minute_only_observations(sqlite_path, since, m) if sqlite_path else want
            for metric, value in want.items():
                got = observed[(f"lw-{window}-{metric}", m)]
                assert got == pytest.approx(value, rel=1e-12), (window, m, metric)
                assert got == pytest.approx(minute_only[metric], rel=1e-12), (window, m, metric)
    assert len(scenario.outcome_rows(floor_minute(now) - timedelta(minutes=1440))) < len(
        scenario.outcome_rows()
    )  # outcomes older than the longest window exist, in the hourly rollups only


def test_minute_view_matches_raw_rows(bdb, scenario):
    """V_ROUTING_MINUTELY_1H: the last 60 whole minutes including the current one, per minute
    of decision; counts equal the raw rows' exactly, percentiles are the summed minute rollup's
    histogram ones (within 2 % of the exact nearest rank)."""

    def edges_then_read(now):
        # the edges are placed and read within one minute: a window that moved on between the
        # two would leave the first-instant rows out
        start = floor_minute(now) - timedelta(minutes=59)
        add_decisions(
            bdb,
            scenario,
            [  # the window's first instant is in, the one before out; ties, a pending outcome
                {"decided_at": start, "latency_ms": 7.0, "cache_hit": True},
                {"decided_at": start - timedelta(microseconds=1), "latency_ms": 9.0},
                {"decided_at": start + timedelta(seconds=1), "latency_ms": 7.0, "success": False},
                {"decided_at": start + timedelta(seconds=2), "latency_ms": None, "cache_hit": True},
            ],
            f"ct-minute-edges-{now:%H%M%S%f}",  # a batch id per attempt
        )
        return store.list_minute_metrics(bdb)

    rows, now = stable_minute(edges_then_read)
    since = floor_minute(now) - timedelta(minutes=59)
    expected = minute_metrics(scenario, since)
    exact = minute_metrics(scenario, since, nearest_rank)
    percentiles = [f"p{q}_latency_ms" for q in (50, 95, 99)]

    def counts(row: dict) -> dict:
        return {k: v for k, v in row.items() if k not in percentiles}

    assert [counts(r) for r in rows] == [counts(e) for e in expected]
    for row, want, exact_row in zip(rows, expected, exact, strict=True):
        for key in percentiles:
            if want[key] is None:
                assert row[key] is None, (row["minute_start"], key)
                continue
            assert row[key] == pytest.approx(want[key], rel=1e-9), (row["minute_start"], key)
            assert_percentile(row[key], exact_row[key])
    assert len(rows) >= 10 and all(r["decisions"] >= r["outcomes"] for r in rows)


def test_views_end_with_their_clock_slack(bdb, scenario):
    """V_ROUTING_MINUTELY_1H and V_TOP_AGENT_MODEL_PAIRS look one minute / one hour ahead (a
    worker's clock may run slightly ahead) and no further: decisions dated far ahead count in
    neither, in both dialects (the HANA twins once had no upper bound)."""

    def add_then_read(now):
        ahead = [
            {"decided_at": floor_minute(now) + timedelta(minutes=3), "latency_ms": 5.0},
            {"decided_at": floor_hour(now) + timedelta(hours=3), "latency_ms": 5.0},
        ]
        add_decisions(bdb, scenario, ahead, f"ct-ahead-{now:%H%M%S%f}")
        with bdb.read() as conn:
            pairs = bdb.backend.execute(conn, "SELECT * FROM V_TOP_AGENT_MODEL_PAIRS")
        return store.list_minute_metrics(bdb), pairs

    (minutes, pairs), now = stable_minute(add_then_read)
    assert max(r["minute_start"] for r in minutes) <= (
        floor_minute(now) + timedelta(minutes=1)
    ).isoformat(timespec="microseconds")
    limit = floor_hour(now) + timedelta(hours=2)
    rows = [r for r in scenario.outcome_rows(window_start(now, 24)) if r["decided_at"] < limit]
    pair = (scenario.agents[0], scenario.models[0])
    want = sum(1 for r in rows if (r["agent_id"], r["model_id"]) == pair)
    got = [p for p in pairs if (p["agent_id"], p["model_id"]) == pair]
    assert len(got) == 1 and int(got[0]["requests"]) == want


def test_assignment_runs_list_newest_first_with_totals(bdb, scenario):
    first = store.get_latest_assignment_run(bdb)
    dry = store.create_assignment_run(
        bdb,
        {"method": "greedy", "total_score": 3.5, "greedy_total_score": 3.5, "dry_run": True},
        [{"agent_id": scenario.agents[0], "model_id": scenario.models[1], "score": 0.6}],
    )
    store.pin_assignment(bdb, scenario.agents[1], scenario.models[2])
    manual = store.get_latest_assignment_run(bdb)
    runs = store.list_assignment_runs(bdb)
    assert [r["run_id"] for r in runs] == [manual["run_id"], dry["run_id"], first["run_id"]]
    assert runs[0]["method"] == "manual" and runs[0]["total_score"] is None
    assert runs[1]["dry_run"] is True and runs[1]["total_score"] == 3.5
    assert {k: runs[2][k] for k in ("total_score", "greedy_total_score", "improvement_pct")} == {
        "total_score": 4.2,
        "greedy_total_score": 4.0,
        "improvement_pct": 5.0,
    }
    assert runs[2] == {k: v for k, v in first.items() if k != "assignments"}
    assert [r["run_id"] for r in store.list_assignment_runs(bdb, 1)] == [manual["run_id"]]
    scored = store.list_assignment_runs(bdb, 10, scored_only=True)
    assert [r["run_id"] for r in scored] == [dry["run_id"], first["run_id"]]


def test_assignment_counters_match_outcomes(bdb, scenario):
    active = {a["agent_id"]: a for a in store.get_active_assignments(bdb)}
    assert set(active) == set(scenario.agents)
    for agent_id, assignment in scenario.assignments.items():
        got = active[agent_id]
        assert got["assignment_id"] == assignment["assignment_id"]
        raw = [
            r for r in scenario.outcome_rows() if r["assignment_id"] == assignment["assignment_id"]
        ]
        assert got["total_requests"] == len(raw)
        assert got["success_count"] == sum(1 for r in raw if r["success"])
        assert got["failure_count"] == sum(1 for r in raw if not r["success"])
        assert got["total_latency_ms"] == pytest.approx(sum(r["latency_ms"] for r in raw))
        assert got["avg_latency_ms"] == pytest.approx(got["total_latency_ms"] / len(raw))
        latest = max(r["recorded_at"] for r in raw).isoformat(timespec="microseconds")
        assert got["last_used_at"] == latest


def test_update_assignment_metrics_counts_one_outcome(bdb, scenario):
    assignment_id = scenario.assignments[scenario.agents[0]]["assignment_id"]
    before = {a["assignment_id"]: a for a in store.get_active_assignments(bdb)}[assignment_id]
    after = store.update_assignment_metrics(bdb, assignment_id, False, 250.0)
    assert after["total_requests"] == before["total_requests"] + 1
    assert after["failure_count"] == before["failure_count"] + 1
    assert after["success_count"] == before["success_count"]
    assert after["total_latency_ms"] == pytest.approx(before["total_latency_ms"] + 250.0)
    with pytest.raises(errors.ProcedureError) as info:
        store.update_assignment_metrics(bdb, "no-such-assignment", True, 1.0)
    assert info.value.code == 10002


def test_decisions_read_back_with_outcomes(bdb, scenario):
    with_outcome = next(d for d in scenario.decisions if d["decision_id"] in scenario.outcomes)
    without = next(d for d in scenario.decisions if d["decision_id"] not in scenario.outcomes)
    got = store.get_decision(bdb, with_outcome["decision_id"])
    o = scenario.outcomes[with_outcome["decision_id"]]
    assert got["model_id"] == with_outcome["model_id"]
    assert got["endpoint"] == f"http://{with_outcome['model_id']}"
    assert got["fallbacks"] == with_outcome["fallbacks"]
    assert got["cache_hit"] is with_outcome["cache_hit"]
    assert got["decided_at"] == with_outcome["decided_at"].isoformat(timespec="microseconds")
    assert got["outcome"]["success"] is o["success"]
    assert got["outcome"]["latency_ms"] == pytest.approx(o["latency_ms"])
    assert got["outcome"]["recorded_at"] == o["recorded_at"].isoformat(timespec="microseconds")
    assert store.get_decision(bdb, without["decision_id"])["outcome"] is None
    assert store.get_decision(bdb, "00000000-0000-7000-8000-000000000000") is None


def test_decision_list_pages_newest_first_with_filters(bdb, scenario):
    agent = scenario.agents[1]
    expected = sorted(
        (d["decision_id"] for d in scenario.decisions if d["agent_id"] == agent), reverse=True
    )[:25]
    first = store.list_decisions(bdb, {"agent_id": agent}, limit=10)
    second = store.list_decisions(
        bdb, {"agent_id": agent}, before=first[-1]["decision_id"], limit=15
    )
    assert [d["decision_id"] for d in first + second] == expected
    since = datetime.now(UTC) - timedelta(minutes=15)
    recent = store.list_decisions(bdb, {"since": since}, limit=1000)
    assert len(recent) == sum(1 for d in scenario.decisions if d["decided_at"] >= since)
    assert [d["decision_id"] for d in recent] == sorted(
        (d["decision_id"] for d in recent), reverse=True
    )
    mine = store.list_decisions(bdb, {"since": since, "agent_id": agent}, limit=1000)
    assert {d["decision_id"] for d in mine} == {
        d["decision_id"]
        for d in scenario.decisions
        if d["decided_at"] >= since and d["agent_id"] == agent
    }


def test_decision_list_filters_strategy_in_the_database(bdb, scenario):
    now = datetime.now(UTC)
    added = add_decisions(
        bdb,
        scenario,
        [
            {"decided_at": now - timedelta(seconds=30 - i), "strategy": strategy}
            for i, strategy in enumerate(["p2c", None, "p2c", "adaptive", None, "p2c"])
        ],
        "ct-strategies",
    )
    newest_first = added[::-1]
    p2c = store.list_decisions(bdb, {"strategy": "p2c"}, limit=2)
    assert [d["decision_id"] for d in p2c] == [
        d["decision_id"] for d in newest_first if d["strategy"] == "p2c"
    ][:2]
    rest = store.list_decisions(bdb, {"strategy": "p2c"}, before=p2c[-1]["decision_id"])
    assert [d["strategy"] for d in p2c + rest] == ["p2c"] * 3
    since = now - timedelta(minutes=15)
    assigned = store.list_decisions(bdb, {"strategy": "assigned", "since": since}, limit=1000)
    assert len(assigned) == sum(1 for d in scenario.decisions[:-6] if d["decided_at"] >= since)
    everything = store.list_decisions(bdb, {"since": now - timedelta(minutes=1)}, limit=1000)
    assert [d["decision_id"] for d in everything[:6]] == [d["decision_id"] for d in newest_first]
    assert [d["strategy"] for d in everything[:6]] == [d["strategy"] for d in newest_first]
    one = store.list_decisions(
        bdb, {"strategy": "adaptive", "agent_id": scenario.agents[0], "since": since}
    )
    assert [d["decision_id"] for d in one] == [added[3]["decision_id"]]
    assert store.list_decisions(bdb, {"strategy": "no-such-strategy"}) == []


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda db: store.get_routing_stats(db, 0), 10001),
        (lambda db: store.get_routing_stats(db, 8761), 10001),
        (lambda db: store.get_model_performance(db, "ct-model-0", -1), 10001),
        (lambda db: store.get_model_performance(db, "no-such-model", 24), 10004),
        (lambda db: store.get_top_agent_model_pairs(db, 0), 10001),
        (lambda db: store.get_top_agent_model_pairs(db, 1001), 10001),
        (lambda db: store.purge_history(db, 0, max_rows=100), 10001),
        (lambda db: store.purge_history(db, 1, max_rows=0), 10001),
        (lambda db: store.activate_assignment_run(db, "no-such-run"), 10003),
    ],
)
def test_invalid_arguments_raise_documented_codes(bdb, call, code):
    store.create_model(
        bdb, {"id": "ct-model-0", "endpoint": "http://x", "context_window": 1, "max_concurrency": 1}
    )
    with pytest.raises(errors.ProcedureError) as info:
        call(bdb)
    assert info.value.code == code
    assert code in store.PROCEDURE_ERRORS


def test_alerts_open_once_and_resolve_when_cleared(bdb):
    now = datetime.now(UTC)
    models = ["al-err", "al-slow", "al-busy", "al-fine"]
    for m in models:
        store.create_model(
            bdb, {"id": m, "endpoint": "http://x", "context_window": 1, "max_concurrency": 1}
        )
    store.create_agent(bdb, {"id": "al-agent"})
    decisions, outcomes = [], []
    for m, n, fail_every, latency in (
        ("al-err", 40, 2, 100.0),
        ("al-slow", 30, 0, 8000.0),
        ("al-fine", 40, 0, 50.0),
    ):
        for i in range(n):
            d = {
                "decision_id": new_decision_id(),
                "decided_at": now - timedelta(seconds=30 + i),
                "agent_id": "al-agent",
                "model_id": m,
            }
            decisions.append(d)
            outcomes.append(
                {
                    "decision_id": d["decision_id"],
                    "success": not (fail_every and i % fail_every == 0),
                    "latency_ms": latency + i,
                }
            )
    store.save_routing_decisions(bdb, decisions)
    store.save_metrics_batch(bdb, outcomes, "alerts-batch")
    store.save_load_snapshots(
        bdb,
        [
            {"model_id": "al-busy", "in_flight": 9, "utilization": 0.95},
            {"model_id": "al-fine", "in_flight": 1, "utilization": 0.1},
        ],
    )
    opened = store.evaluate_alerts(bdb)
    got = {(a["rule_id"], a["model_id"]): a for a in opened}
    assert set(got) == {
        ("default-error-rate", "al-err"),
        ("default-p95-latency", "al-slow"),
        ("default-utilization", "al-busy"),
    }
    assert got[("default-error-rate", "al-err")]["observed_value"] == pytest.approx(0.5)
    slow = [8000.0 + i for i in range(30)]  # the histogram's p95: within 2 % of the exact one
    p95 = got[("default-p95-latency", "al-slow")]["observed_value"]
    assert p95 == pytest.approx(histogram_percentile(slow, 95), rel=1e-9)
    assert_percentile(p95, nearest_rank(slow, 95))
    assert all(a["state"] == "open" for a in opened)
    assert store.evaluate_alerts(bdb) == []  # no duplicates while the condition holds
    assert store.count_open_alerts(bdb) == {"critical": 1, "warning": 2}

    busy = got[("default-utilization", "al-busy")]
    assert store.ack_alert(bdb, busy["id"])["state"] == "acknowledged"
    rules = {r["rule_id"]: r for r in store.get_alert_rules(bdb)}
    store.put_alert_rule(bdb, {**rules["default-error-rate"], "threshold": 0.9})
    assert store.evaluate_alerts(bdb) == []
    states = {(a["rule_id"], a["model_id"]): a["state"] for a in store.list_alerts(bdb)}
    assert states == {
        ("default-p95-latency", "al-slow"): "open",
        ("default-utilization", "al-busy"): "acknowledged",
    }
    resolved = store.list_alerts(bdb, "resolved")
    assert [(a["rule_id"], a["model_id"]) for a in resolved] == [("default-error-rate", "al-err")]
    assert store.resolve_alert(bdb, busy["id"])["state"] == "resolved"
    assert store.get_alert(bdb, 999999) is None


def test_purge_keeps_rollups_and_reports_counts(bdb, scenario):
    before, now = stable_hour(lambda _: store.get_routing_stats(bdb, 8760))
    # one bounded step: exactly the 2 oldest decisions, with exactly their outcomes
    step = store.purge_history(bdb, 1, max_rows=2)
    cutoff = datetime.fromisoformat(step["cutoff"])
    old = sorted(
        (d for d in scenario.decisions if d["decided_at"] < cutoff),
        key=lambda d: (d["decided_at"], d["decision_id"]),
    )
    assert len(old) > 2
    assert step["decisions"] == 2
    assert step["outcomes"] == sum(1 for d in old[:2] if d["decision_id"] in scenario.outcomes)
    assert [store.get_decision(bdb, d["decision_id"]) for d in old[:2]] == [None, None]
    third = store.get_decision(bdb, old[2]["decision_id"])
    assert third is not None
    assert (third["outcome"] is not None) == (old[2]["decision_id"] in scenario.outcomes)

    result = store.purge_history_in_steps(bdb, 1, max_rows=1000, pause_s=0.0, deadline_s=60.0)
    assert result["complete"] and result["steps"] >= 1
    assert result["decisions"] == len(old) - 2
    rest = old[2:]
    assert result["outcomes"] == sum(1 for d in rest if d["decision_id"] in scenario.outcomes)
    after, _ = stable_hour(lambda _: store.get_routing_stats(bdb, 8760))
    assert after == before  # analytics read rollups, which the purge keeps
    assert store.get_decision(bdb, old[-1]["decision_id"]) is None
    assert store.purge_history(bdb, 1, max_rows=1000)["decisions"] == 0


def test_catalog_round_trip(bdb):
    model = {
        "id": "cat-m",
        "display_name": "M",
        "provider": "p",
        "endpoint": "http://m",
        "context_window": 4096,
        "max_concurrency": 2,
        "cost_per_1k_tokens": 0.25,
        "prior_latency_ms": 800.0,
        "status": "active",
        "capabilities": {"coding": 0.9, "chat": 0.4},
    }
    created = store.create_model(bdb, model)
    assert {k: created[k] for k in model} == model
    with pytest.raises(errors.UniqueViolation):
        store.create_model(bdb, model)
    updated = store.update_model(bdb, "cat-m", {**model, "capabilities": {"chat": 0.5}})
    assert updated["capabilities"] == {"chat": 0.5}
    assert store.update_model(bdb, "nope", model) is None
    assert store.set_model_status(bdb, "cat-m", "draining")["status"] == "draining"
    agent = {
        "id": "cat-a",
        "display_name": "A",
        "task_type": "coding",
        "min_context": 1000,
        "max_latency_ms": 2000.0,
        "max_cost_per_1k": 1.0,
        "priority": 3,
        "status": "active",
        "requirements": {"coding": 1.0},
    }
    created = store.create_agent(bdb, agent)
    assert {k: created[k] for k in agent} == agent
    assert [m["id"] for m in store.list_models(bdb, status="draining")] == ["cat-m"]
    assert store.list_agents(bdb, after="cat-a") == []
    assert store.get_agent(bdb, "nope") is None


def test_row_conversions_are_idempotent():
    decision = {
        "decision_id": new_decision_id(),
        "decided_at": datetime.now(UTC),
        "agent_id": "a",
        "model_id": "m",
        "cache_hit": True,
        "fallbacks": [{"model_id": "n", "endpoint": "http://n"}],
    }
    once = store.decision_row(decision)
    assert store.decision_row(once) == once
    assert once["cache_hit"] == 1 and once["fallbacks"].startswith("[")
    outcome = {
        "decision_id": decision["decision_id"],
        "success": False,
        "latency_ms": 3.5,
        "recorded_at": "2026-01-21T20:50:00+00:00",
    }
    row = store.outcome_row(outcome, "b")
    assert row["recorded_at"] == "2026-01-21 20:50:00.000000" and row["success"] == 0
    assert store.outcome_row(row, "b") == row
