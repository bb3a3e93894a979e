"""Request and response bodies of the v1 API, as pydantic models.

The same classes validate requests (strict types, unknown fields rejected, ranges checked) and
generate the OpenAPI description (`app.api.openapi`), so the two cannot disagree. Response models
are used for the description only; the schemathesis test checks that responses conform.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.config import BY_NAME

# Ids are path segments, log fields and primary keys: a conservative alphabet, bounded length.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
CAPABILITY_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
# Free text is stored verbatim; control characters are refused (they break logs and CSV exports).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=128)]
CapabilityName = Annotated[str, Field(pattern=CAPABILITY_PATTERN, max_length=64)]
Text = Annotated[str, Field(pattern=TEXT_PATTERN, max_length=200)]
Endpoint = Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2048)]
DecisionId = Annotated[str, Field(pattern=UUID_PATTERN, min_length=36, max_length=36)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0, le=1000.0)]
LatencyMs = Annotated[float, Field(ge=0.0, le=86_400_000.0)]
PositiveLatencyMs = Annotated[float, Field(gt=0.0, le=86_400_000.0)]
Tokens = Annotated[int, Field(ge=0, le=1_000_000_000)]
Cost = Annotated[float, Field(ge=0.0, le=1_000_000.0)]

# The strategy names are declared once, as the choices of routing.default_strategy.
STRATEGIES: tuple[str, ...] = tuple(c for c in BY_NAME["routing.default_strategy"].choices if c)
Strategy = Literal[STRATEGIES]
Method = Literal["hungarian", "greedy"]
ModelStatus = Literal["active", "draining", "disabled"]
AgentStatus = Literal["active", "disabled"]
Role = Literal["admin", "router", "viewer"]

MAX_CAPABILITIES = 64
MAX_BATCH = 1000


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (null: no more)."""

    items: list[T]
    next_cursor: str | None


class Strict(BaseModel):
    """Base of every request body: exact JSON types, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _absent_keeps_the_value(schema: dict) -> None:
    """A PATCH field left out keeps its stored value; its Python default (None) only marks it
    absent, and is no JSON default where null is not an accepted value: client generators and
    validators (openapi-spec-validator) refuse a default the field's own schema rejects."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf", [prop])
        if "default" in prop and prop["default"] is None:
            if not any(option.get("type") == "null" for option in options):
                del prop["default"]


class Patch(Strict):
    """Base of PATCH bodies: any subset of fields; a field left out is unchanged."""

    model_config = ConfigDict(json_schema_extra=_absent_keeps_the_value)


class Lenient(BaseModel):
    """Base of query strings: values arrive as text and are converted, unknown names refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# -- catalog --------------------------------------------------------------------------------------


class ModelIn(Strict):
    """A model of the catalog (POST /models; also one entry of a catalog file)."""

    id: Id
    display_name: Text | None = None
    provider: Text | None = None
    endpoint: Endpoint
    capabilities: dict[CapabilityName, Score] = Field(
        default_factory=dict, max_length=MAX_CAPABILITIES
    )
    context_window: int = Field(ge=1, le=100_000_000)
    max_concurrency: int = Field(default=4, ge=1, le=100_000)
    cost_per_1k_tokens: Cost = 0.0
    prior_latency_ms: LatencyMs = 1000.0
    status: ModelStatus = "active"


class ModelPatch(Patch):
    """PATCH /models/{id}: any subset of fields. `capabilities` merges (RFC 7396): a key set to
    null removes that capability, keys not named are kept."""

    display_name: Text | None = None
    provider: Text | None = None
    endpoint: Endpoint = None
    capabilities: dict[CapabilityName, Score | None] = Field(
        default=None, max_length=MAX_CAPABILITIES
    )
    context_window: int = Field(default=None, ge=1, le=100_000_000)
    max_concurrency: int = Field(default=None, ge=1, le=100_000)
    cost_per_1k_tokens: Cost = None
    prior_latency_ms: LatencyMs = None
    status: ModelStatus = None


class ModelOut(ModelIn):
    created_at: str | None = None
    updated_at: str | None = None


class AgentIn(Strict):
    """An agent and its requirement weights (POST /agents; also one entry of a catalog file)."""

    id: Id
    display_name: Text | None = None
    task_type: Id | None = None
    requirements: dict[CapabilityName, Weight] = Field(min_length=1, max_length=MAX_CAPABILITIES)
    min_context: int = Field(default=0, ge=0, le=100_000_000)
    max_latency_ms: PositiveLatencyMs | None = None
    max_cost_per_1k: Cost | None = None
    priority: int = Field(default=0, ge=0, le=1000)
    status: AgentStatus = "active"

    @field_validator("requirements")
    @classmethod
    def _some_weight(cls, value: dict[str, float]) -> dict[str, float]:
        if not any(w > 0 for w in value.values()):
            raise ValueError("at least one weight must be greater than 0")
        return value


class AgentPatch(Patch):
    """PATCH /agents/{id}: any subset of fields; `requirements` merges like model capabilities."""

    display_name: Text | None = None
    task_type: Id | None = None
    requirements: dict[CapabilityName, Weight | None] = Field(
        default=None, max_length=MAX_CAPABILITIES
    )
    min_context: int = Field(default=None, ge=0, le=100_000_000)
    max_latency_ms: PositiveLatencyMs | None = None
    max_cost_per_1k: Cost | None = None
    priority: int = Field(default=None, ge=0, le=1000)
    status: AgentStatus = None


class AgentOut(AgentIn):
    created_at: str | None = None
    updated_at: str | None = None


class CatalogFile(Strict):
    """The catalog file read by `bootstrap` and `catalog import`, written by `catalog export`."""

    version: Literal[1] = 1
    models: list[ModelIn] = Field(default_factory=list, max_length=10_000)
    agents: list[AgentIn] = Field(default_factory=list, max_length=10_000)


# -- assignments ----------------------------------------------------------------------------------


class AutoAssignIn(Strict):
    method: Method = "hungarian"
    dry_run: bool = False


class PinIn(Strict):
    model_id: Id


class AssignedPair(BaseModel):
    agent_id: str
    model_id: str
    score: float


class Unassigned(BaseModel):
    agent_id: str
    reason: str


class AutoAssignOut(BaseModel):
    run_id: str | None
    method: Method
    assignments: list[AssignedPair]
    unassigned: list[Unassigned]
    total_score: float
    greedy_total_score: float
    improvement_pct: float | None
    dry_run: bool


class AssignmentOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    agent_id: str
    model_id: str
    score: float | None = None
    method: str | None = None


class ScoresOut(BaseModel):
    agents: list[str]
    models: list[str]
    scores: list[list[float | None]]
    feasible: list[list[bool]]


# -- routing and outcomes ------------------------------------------------------------------------


class RouteIn(Strict):
    agent_id: Id
    task_type: Id | None = None
    prompt_tokens: Tokens = 0
    strategy: Strategy | None = None


class Fallback(BaseModel):
    model_id: str
    endpoint: str


class RouteOut(BaseModel):
    decision_id: str
    model_id: str
    endpoint: str
    fallbacks: list[Fallback]
    strategy: str
    score: float | None
    cache_hit: bool
    reason: str | None


class OutcomeIn(Strict):
    success: bool
    latency_ms: LatencyMs
    tokens_in: Tokens = 0
    tokens_out: Tokens = 0
    error_code: Annotated[str, Field(pattern=TEXT_PATTERN, max_length=64)] | None = None


class OutcomeItem(OutcomeIn):
    decision_id: DecisionId


class OutcomeBatchIn(Strict):
    items: list[OutcomeItem] = Field(min_length=1, max_length=MAX_BATCH)


class OutcomeOut(BaseModel):
    success: bool
    latency_ms: float
    tokens_in: int | None = None
    tokens_out: int | None = None
    error_code: str | None = None
    recorded_at: str | None = None


class DecisionOut(RouteOut):
    agent_id: str
    task_type: str | None = None
    decided_at: str | None = None
    outcome: OutcomeOut | None = None


class BatchItemOut(BaseModel):
    decision_id: str
    status: Literal[201, 404, 409, 503]
    detail: str | None = None


class OutcomeBatchOut(BaseModel):
    items: list[BatchItemOut]
    accepted: int
    rejected: int


class LoadItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_id: str
    in_flight: int
    capacity: int | None = None
    utilization: float | None = None
    ewma_latency_ms: float | None = None
    cooldown: Any = None


class LoadOut(BaseModel):
    items: list[LoadItem]
    cooldowns: list[dict[str, Any]]


class Figures(BaseModel):
    """Pool and writer figures; the set of names follows the database layer."""

    model_config = ConfigDict(extra="allow")


# -- analytics ------------------------------------------------------------------------------------


class StatsItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_id: str
    requests: int
    successes: int
    failures: int
    success_rate: float | None = None
    avg_latency_ms: float | None = None
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    p99_latency_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None


class RoutingStatsOut(BaseModel):
    hours: int
    items: list[StatsItem]


class ModelPerformanceOut(StatsItem):
    hours: int


class PairItem(StatsItem):
    rank: int
    agent_id: str
    last_hour: str | None = None


class TopPairsOut(BaseModel):
    limit: int
    items: list[PairItem]


# -- keys, alerts -------------------------------------------------------------------------------


class KeyIn(Strict):
    role: Role
    label: Text = ""


class KeyOut(BaseModel):
    key_id: str
    role: Role
    label: str | None = None
    created_at: str | None = None
    revoked_at: str | None = None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The API key; shown once, only its hash is stored.")


class AlertRuleIn(Strict):
    """One alert rule; a rule without `model_id` watches every model."""

    rule_id: Id
    name: Text | None = None
    metric: Literal["error_rate", "p95_latency_ms", "utilization", "no_traffic"]
    comparator: Literal["gt", "lt"]
    threshold: Annotated[float, Field(ge=-1e12, le=1e12)]
    window_minutes: int = Field(ge=1, le=1440)
    min_samples: int = Field(default=1, ge=1, le=1_000_000)
    severity: Literal["info", "warning", "critical"] = "warning"
    model_id: Id | None = None
    enabled: bool = True


class AlertRuleOut(BaseModel):
    rule_id: str
    name: str
    metric: str
    comparator: str
    threshold: float
    window_minutes: int
    min_samples: int
    severity: str
    model_id: str | None = None
    enabled: bool
    created_at: str | None = None
    updated_at: str | None = None
    last_evaluated_at: str | None = None


class AlertRulesIn(Strict):
    items: list[AlertRuleIn] = Field(max_length=1000)

    @field_validator("items")
    @classmethod
    def _unique(cls, value: list[AlertRuleIn]) -> list[AlertRuleIn]:
        ids = [rule.rule_id for rule in value]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return value


class AlertOut(BaseModel):
    id: int
    rule_id: str
    rule_name: str | None = None
    model_id: str
    metric: str
    severity: str
    threshold: float | None = None
    observed_value: float | None = None
    state: Literal["open", "acknowledged", "resolved"]
    raised_at: str | None = None
    acked_at: str | None = None
    resolved_at: str | None = None


# -- queries --------------------------------------------------------------------------------------


class PageQuery(Lenient):
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Annotated[str, Field(max_length=512)] | None = None


class ModelListQuery(PageQuery):
    status: ModelStatus | None = None


class AgentListQuery(PageQuery):
    status: AgentStatus | None = None


class AlertListQuery(PageQuery):
    state: Literal["unresolved", "open", "acknowledged", "resolved"] = "unresolved"


class HoursQuery(Lenient):
    hours: int = Field(default=24, ge=1, le=8760)


class TopPairsQuery(Lenient):
    limit: int = Field(default=10, ge=1, le=100)


class NoQuery(Lenient):
    """Endpoints without query parameters still refuse unknown ones."""


class Problem(BaseModel):
    """application/problem+json (RFC 9457) with per-field errors."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None
