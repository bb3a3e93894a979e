"""The live filter: which ranked candidates may take a request right now.

A candidate is live when its context holds the prompt, its breaker lets traffic through (closed,
or half-open with its one probe not yet out) and it has a free slot (in flight < capacity).
Full candidates are kept aside as fallback material; half-open ones are marked as probes.
Runs on the hot path: plain loops, lock-free reads.
"""

from __future__ import annotations

from app.routing.catalog import Assignment
from app.routing.learning import BLOCKED, PROBE, Learner
from app.routing.load import LoadTracker
from app.routing.ranking import Candidate, Ranking


def live_filter(
    ranking: Ranking,
    prompt_tokens: int,
    now: float,
    limit: int,
    learner: Learner,
    load: LoadTracker,
) -> tuple[list[Candidate], list[Candidate], set[str]]:
    """Split the ranking: live (may take it now; at most `limit`), spare (full), probes."""
    live: list[Candidate] = []
    spare: list[Candidate] = []
    probes: set[str] = set()
    blocked = learner.blocked
    gate = learner.gate
    inflight = load.inflight
    for c in ranking.candidates:
        if c.context_window < prompt_tokens:
            continue
        mid = c.model_id
        if blocked and mid in blocked:
            g = gate(mid, now)
            if g == BLOCKED:
                continue
            if g == PROBE:
                probes.add(mid)
        if inflight(mid) >= c.capacity:
            if mid not in probes:
                spare.append(c)
            continue
        live.append(c)
        if len(live) >= limit:
            break
    return live, spare, probes


def add_assigned(
    live: list[Candidate],
    probes: set[str],
    ranking: Ranking,
    prompt_tokens: int,
    now: float,
    assignment: Assignment,
    learner: Learner,
    load: LoadTracker,
) -> None:
    """The scan for `assigned` stops early; make sure the assigned model is considered."""
    c = ranking.by_model.get(assignment.model_id)
    if c is None or c in live or c.context_window < prompt_tokens:
        return
    g = learner.gate(c.model_id, now)
    if g != BLOCKED and load.inflight(c.model_id) < c.capacity:
        if g == PROBE:
            probes.add(c.model_id)
        live.append(c)


def why_none(
    ranking: Ranking, prompt_tokens: int, agent_id: str, now: float, learner: Learner
) -> str:
    """The NoModelAvailable reason: how many candidates are too small, cooling, or full."""
    if not ranking.candidates:
        return f"no active model satisfies the requirements of agent {agent_id!r}"
    small = cooling = full = 0
    for c in ranking.candidates:
        if c.context_window < prompt_tokens:
            small += 1
        elif learner.gate(c.model_id, now) == BLOCKED:
            cooling += 1
        else:
            full += 1
    return (
        f"all {len(ranking.candidates)} candidate models of agent {agent_id!r} are "
        f"unavailable: {small} too small for {prompt_tokens} tokens, {cooling} cooling down, "
        f"{full} at capacity"
    )
