-- Routing decisions and their outcomes (raw facts, insert-only).
-- Times are bound as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'. Security: ROUTER_APP.

-- name: insert-decision
-- One routing decision; run with executemany for a batch.
INSERT INTO ROUTING_DECISIONS (DECISION_ID, DECIDED_AT, AGENT_ID, TASK_TYPE, MODEL_ID,
                               ASSIGNMENT_ID, STRATEGY, SCORE, CACHE_HIT, FALLBACKS, REASON)
VALUES (:decision_id, :decided_at, :agent_id, :task_type, :model_id,
        :assignment_id, :strategy, :score, :cache_hit, :fallbacks, :reason);

-- name: insert-outcome
-- One outcome; DECIDED_AT, MODEL_ID and AGENT_ID are copied from the decision, so an outcome for
-- an unknown decision inserts nothing, and a second outcome for a decision violates the key.
INSERT INTO INFERENCE_METRICS (DECISION_ID, DECIDED_AT, MODEL_ID, AGENT_ID, RECORDED_AT,
                               SUCCESS, LATENCY_MS, TOKENS_IN, TOKENS_OUT, ERROR_CODE, BATCH_ID)
SELECT DECISION_ID, DECIDED_AT, MODEL_ID, AGENT_ID, :recorded_at,
       :success, :latency_ms, :tokens_in, :tokens_out, :error_code, :batch_id
  FROM ROUTING_DECISIONS
 WHERE DECISION_ID = :decision_id;

-- name: get-outcome
-- The outcome of one decision, if any (the writer's idempotent replay checks it).
SELECT DECISION_ID, RECORDED_AT, SUCCESS, LATENCY_MS, TOKENS_IN, TOKENS_OUT, ERROR_CODE, BATCH_ID
  FROM INFERENCE_METRICS
 WHERE DECISION_ID = :decision_id;

-- name: list-batch-outcome-ids
-- The decisions whose outcomes a batch stored (to name those it could not).
SELECT DECISION_ID FROM INFERENCE_METRICS WHERE BATCH_ID = :batch_id;

-- name: get-decision
-- One decision with its outcome (outcome columns NULL when none yet) and the model's endpoint.
SELECT d.DECISION_ID, d.DECIDED_AT, d.AGENT_ID, d.TASK_TYPE, d.MODEL_ID, mo.ENDPOINT,
       d.ASSIGNMENT_ID, d.STRATEGY, d.SCORE, d.CACHE_HIT, d.FALLBACKS, d.REASON,
       m.RECORDED_AT, m.SUCCESS, m.LATENCY_MS, m.TOKENS_IN, m.TOKENS_OUT, m.ERROR_CODE
  FROM ROUTING_DECISIONS d
  LEFT JOIN INFERENCE_METRICS m ON m.DECISION_ID = d.DECISION_ID
  LEFT JOIN MODELS mo ON mo.MODEL_ID = d.MODEL_ID
 WHERE d.DECISION_ID = :decision_id;

-- name: list-decisions
-- Newest first, keyset-paginated on the time-ordered id (:before = the previous page's last id,
-- 'g' for the first page: above every hex id). Optional filters :agent_id, :model_id,
-- :strategy and the decision-time bound :until (exclusive), NULL = no filter (STRATEGY itself
-- may be NULL, hence the COALESCE to '' on both sides). There is no agent, model or strategy
-- index (it would cost a random page write per decision): the newest rows are
-- read until the page is full. With a time window use list-decisions-since.
SELECT d.DECISION_ID, d.DECIDED_AT, d.AGENT_ID, d.TASK_TYPE, d.MODEL_ID, mo.ENDPOINT,
       d.ASSIGNMENT_ID, d.STRATEGY, d.SCORE, d.CACHE_HIT, d.FALLBACKS, d.REASON,
       m.RECORDED_AT, m.SUCCESS, m.LATENCY_MS, m.TOKENS_IN, m.TOKENS_OUT, m.ERROR_CODE
  FROM ROUTING_DECISIONS d
  LEFT JOIN INFERENCE_METRICS m ON m.DECISION_ID = d.DECISION_ID
  LEFT JOIN MODELS mo ON mo.MODEL_ID = d.MODEL_ID
 WHERE d.DECISION_ID < :before
   AND d.AGENT_ID = COALESCE(:agent_id, d.AGENT_ID)
   AND d.MODEL_ID = COALESCE(:model_id, d.MODEL_ID)
   AND COALESCE(d.STRATEGY, '') = COALESCE(:strategy, d.STRATEGY, '')
   AND d.DECIDED_AT < COALESCE(:until, '9999-12-31 23:59:59.999999')
 ORDER BY d.DECISION_ID DESC
 LIMIT :limit;

-- name: list-decisions-since
-- As list-decisions, for decisions made at or after :since (required): the rows come from
-- the DECIDED_AT index, so the cost is the window's rows, not the table's.
SELECT d.DECISION_ID, d.DECIDED_AT, d.AGENT_ID, d.TASK_TYPE, d.MODEL_ID, mo.ENDPOINT,
       d.ASSIGNMENT_ID, d.STRATEGY, d.SCORE, d.CACHE_HIT, d.FALLBACKS, d.REASON,
       m.RECORDED_AT, m.SUCCESS, m.LATENCY_MS, m.TOKENS_IN, m.TOKENS_OUT, m.ERROR_CODE
  FROM ROUTING_DECISIONS d INDEXED BY IX_DECISIONS_DECIDED_AT
  LEFT JOIN INFERENCE_METRICS m ON m.DECISION_ID = d.DECISION_ID
  LEFT JOIN MODELS mo ON mo.MODEL_ID = d.MODEL_ID
 WHERE d.DECIDED_AT >= :since
   AND d.DECISION_ID < :before
   AND d.AGENT_ID = COALESCE(:agent_id, d.AGENT_ID)
   AND d.MODEL_ID = COALESCE(:model_id, d.MODEL_ID)
   AND COALESCE(d.STRATEGY, '') = COALESCE(:strategy, d.STRATEGY, '')
   AND d.DECIDED_AT < COALESCE(:until, '9999-12-31 23:59:59.999999')
 ORDER BY d.DECISION_ID DESC
 LIMIT :limit;
