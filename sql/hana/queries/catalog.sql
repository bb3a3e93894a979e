-- Catalog: models with capabilities, agents with requirements. Writes: admin (ROUTER_APP);
-- reads: every role. Lists are keyset-paginated by id (:after = last id of the previous page,
-- '' for the first) and filtered by :status when it is not NULL.

-- name: insert-model
INSERT INTO MODELS (MODEL_ID, DISPLAY_NAME, PROVIDER, ENDPOINT, CONTEXT_WINDOW, MAX_CONCURRENCY,
                    COST_PER_1K_TOKENS, PRIOR_LATENCY_MS, STATUS)
VALUES (:model_id, :display_name, :provider, :endpoint, :context_window, :max_concurrency,
        :cost_per_1k_tokens, :prior_latency_ms, :status);

-- name: update-model
UPDATE MODELS
   SET DISPLAY_NAME = :display_name, PROVIDER = :provider, ENDPOINT = :endpoint,
       CONTEXT_WINDOW = :context_window, MAX_CONCURRENCY = :max_concurrency,
       COST_PER_1K_TOKENS = :cost_per_1k_tokens, PRIOR_LATENCY_MS = :prior_latency_ms,
       STATUS = :status, UPDATED_AT = CURRENT_UTCTIMESTAMP
 WHERE MODEL_ID = :model_id;

-- name: set-model-status
UPDATE MODELS SET STATUS = :status, UPDATED_AT = CURRENT_UTCTIMESTAMP
 WHERE MODEL_ID = :model_id;

-- name: get-model
SELECT MODEL_ID, DISPLAY_NAME, PROVIDER, ENDPOINT, CONTEXT_WINDOW, MAX_CONCURRENCY,
       COST_PER_1K_TOKENS, PRIOR_LATENCY_MS, STATUS, CREATED_AT, UPDATED_AT
  FROM MODELS
 WHERE MODEL_ID = :model_id;

-- name: list-models
SELECT MODEL_ID, DISPLAY_NAME, PROVIDER, ENDPOINT, CONTEXT_WINDOW, MAX_CONCURRENCY,
       COST_PER_1K_TOKENS, PRIOR_LATENCY_MS, STATUS, CREATED_AT, UPDATED_AT
  FROM MODELS
 WHERE MODEL_ID > :after AND STATUS = COALESCE(:status, STATUS)
 ORDER BY MODEL_ID
 LIMIT :limit;

-- name: delete-model-capabilities
DELETE FROM MODEL_CAPABILITIES WHERE MODEL_ID = :model_id;

-- name: insert-model-capability
INSERT INTO MODEL_CAPABILITIES (MODEL_ID, CAPABILITY, SCORE)
VALUES (:model_id, :capability, :score);

-- name: list-model-capabilities
-- Capabilities of the models whose ids lie in [:first, :last] (one page of models).
SELECT MODEL_ID, CAPABILITY, SCORE
  FROM MODEL_CAPABILITIES
 WHERE MODEL_ID >= :first AND MODEL_ID <= :last
 ORDER BY MODEL_ID, CAPABILITY;

-- name: insert-agent
INSERT INTO AGENTS (AGENT_ID, DISPLAY_NAME, TASK_TYPE, MIN_CONTEXT, MAX_LATENCY_MS,
                    MAX_COST_PER_1K, PRIORITY, STATUS)
VALUES (:agent_id, :display_name, :task_type, :min_context, :max_latency_ms,
        :max_cost_per_1k, :priority, :status);

-- name: update-agent
UPDATE AGENTS
   SET DISPLAY_NAME = :display_name, TASK_TYPE = :task_type, MIN_CONTEXT = :min_context,
       MAX_LATENCY_MS = :max_latency_ms, MAX_COST_PER_1K = :max_cost_per_1k,
       PRIORITY = :priority, STATUS = :status,
       UPDATED_AT = CURRENT_UTCTIMESTAMP
 WHERE AGENT_ID = :agent_id;

-- name: set-agent-status
UPDATE AGENTS SET STATUS = :status, UPDATED_AT = CURRENT_UTCTIMESTAMP
 WHERE AGENT_ID = :agent_id;

-- name: get-agent
SELECT AGENT_ID, DISPLAY_NAME, TASK_TYPE, MIN_CONTEXT, MAX_LATENCY_MS, MAX_COST_PER_1K,
       PRIORITY, STATUS, CREATED_AT, UPDATED_AT
  FROM AGENTS
 WHERE AGENT_ID = :agent_id;

-- name: list-agents
SELECT AGENT_ID, DISPLAY_NAME, TASK_TYPE, MIN_CONTEXT, MAX_LATENCY_MS, MAX_COST_PER_1K,
       PRIORITY, STATUS, CREATED_AT, UPDATED_AT
  FROM AGENTS
 WHERE AGENT_ID > :after AND STATUS = COALESCE(:status, STATUS)
 ORDER BY AGENT_ID
 LIMIT :limit;

-- name: delete-agent-requirements
DELETE FROM AGENT_REQUIREMENTS WHERE AGENT_ID = :agent_id;

-- name: insert-agent-requirement
INSERT INTO AGENT_REQUIREMENTS (AGENT_ID, CAPABILITY, WEIGHT)
VALUES (:agent_id, :capability, :weight);

-- name: list-agent-requirements
-- Requirements of the agents whose ids lie in [:first, :last] (one page of agents).
SELECT AGENT_ID, CAPABILITY, WEIGHT
  FROM AGENT_REQUIREMENTS
 WHERE AGENT_ID >= :first AND AGENT_ID <= :last
 ORDER BY AGENT_ID, CAPABILITY;
