"""Route decisions: which model serves each request of each agent.

Process model: the service runs ONE worker process per host (granian) with many threads
(app/server.py), and more hosts behind a load balancer for scale (DESIGN §7). All state here (in
flight counts, EWMA latency, success posteriors, cooldowns, the ranking cache) is in process
memory, and it is exact because the process that makes a decision is the only one on its host
that can receive the outcome: there is no second worker whose counters could drift or go negative.
Threads share the state under short locks. Across hosts the state is per host by design: each
host counts and steers its own traffic; the database (V_MODEL_HEALTH) seeds every host with the
fleet's recent record. When a load balancer sends an outcome to another host than the one that
decided, that host learns from it (`record_outcome(None, model_id, ...)`, after the database
accepted it as the decision's first outcome) and the deciding host releases the request through
`Router.reconcile`, a background lookup of outcomes for its requests open longer than a few
seconds, so in-flight counts neither drift nor wait for the expiry.

Modules: `catalog` (immutable snapshot), `ranking` (capability rankings), `cache` (the ranking
cache, by agent, task and prompt size), `load` (in-flight requests per decision id), `quota`
(in-flight quotas per API key and per agent), `cooldown` (per-model posterior and breaker),
`learning` (learned state behind one lock), `live` (the live filter), `strategies` (the picks),
`decision` (result and errors), `router` (the decision path).
"""

from app.routing.catalog import EMPTY_CATALOG, AgentView, Assignment, Catalog, ModelView
from app.routing.decision import Decision, NoModelAvailable, UnknownAgent, UnknownStrategy
from app.routing.quota import QuotaExceeded, Quotas
from app.routing.ranking import Candidate, Ranking
from app.routing.router import Router
from app.routing.strategies import STRATEGIES, Tuning

__all__ = [
    "EMPTY_CATALOG",
    "STRATEGIES",
    "AgentView",
    "Assignment",
    "Candidate",
    "Catalog",
    "Decision",
    "ModelView",
    "NoModelAvailable",
    "QuotaExceeded",
    "Quotas",
    "Ranking",
    "Router",
    "Tuning",
    "UnknownAgent",
    "UnknownStrategy",
]
