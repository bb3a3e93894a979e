-- SP_APPLY_OUTCOMES: folds one batch of outcomes into the assignment counters and the rollups.
-- Inputs:  p_batch_id - the BATCH_ID of INFERENCE_METRICS rows inserted earlier in the same
--          transaction by the writer (store.save_metrics_batch).
-- Returns: one row (BATCH_ID, OUTCOMES): how many outcomes were applied.
-- Set-based: one statement per target table, each an INSERT ... SELECT ... GROUP BY with an
-- upsert; never a loop over rows. Rollup hour = the hour of the decision (DECIDED_AT), rollup
-- minute (MODEL_METRICS_MINUTELY, for the live windows) = its minute, only for decisions of the
-- last 1440 whole minutes (the longest window; older ones, e.g. a late spool replay or a
-- history import, could never be read and would only wait for the purge).
-- Histogram bucket = ceil(ln(latency_ms) / ln(1.04)); latency < 0.001 ms -> bucket -32768.
-- Errors:  10001 p_batch_id is missing; 10007 the batch was applied before (a reused batch id
--          would count its outcomes twice).
-- Security: writes counters and rollups; run by the router's writer (role ROUTER_APP on HANA).
-- params: p_batch_id
SELECT RAISE_ERROR(10001, 'p_batch_id is required') WHERE :p_batch_id IS NULL;

SELECT RAISE_ERROR(10007, 'batch ' || :p_batch_id || ' was already applied')
 WHERE EXISTS (SELECT 1 FROM OUTCOME_BATCHES WHERE BATCH_ID = :p_batch_id);

INSERT INTO OUTCOME_BATCHES (BATCH_ID, APPLIED_AT, OUTCOMES)
SELECT :p_batch_id, strftime('%Y-%m-%d %H:%M:%f000', 'now'), COUNT(*)
  FROM INFERENCE_METRICS
 WHERE BATCH_ID = :p_batch_id;

UPDATE AGENT_MODEL_ASSIGNMENTS
   SET TOTAL_REQUESTS = TOTAL_REQUESTS + b.N,
       SUCCESS_COUNT = SUCCESS_COUNT + b.S,
       FAILURE_COUNT = FAILURE_COUNT + b.N - b.S,
       TOTAL_LATENCY_MS = TOTAL_LATENCY_MS + b.L,
       AVG_LATENCY_MS = (TOTAL_LATENCY_MS + b.L) / (TOTAL_REQUESTS + b.N),
       LAST_USED_AT = max(COALESCE(LAST_USED_AT, b.LAST_AT), b.LAST_AT)
  FROM (SELECT d.ASSIGNMENT_ID, COUNT(*) AS N, SUM(m.SUCCESS) AS S, SUM(m.LATENCY_MS) AS L,
               MAX(m.RECORDED_AT) AS LAST_AT
          FROM INFERENCE_METRICS m
          JOIN ROUTING_DECISIONS d ON d.DECISION_ID = m.DECISION_ID
         WHERE m.BATCH_ID = :p_batch_id AND d.ASSIGNMENT_ID IS NOT NULL
         GROUP BY d.ASSIGNMENT_ID) AS b
 WHERE AGENT_MODEL_ASSIGNMENTS.ASSIGNMENT_ID = b.ASSIGNMENT_ID;

INSERT INTO MODEL_METRICS_HOURLY (HOUR_START, MODEL_ID, REQUESTS, SUCCESSES, LATENCY_SUM_MS,
                                  TOKENS_IN, TOKENS_OUT)
SELECT HOUR_START, MODEL_ID, COUNT(*), SUM(SUCCESS), SUM(LATENCY_MS),
       COALESCE(SUM(TOKENS_IN), 0), COALESCE(SUM(TOKENS_OUT), 0)
  FROM (SELECT substr(DECIDED_AT, 1, 13) || ':00:00.000000' AS HOUR_START, MODEL_ID, SUCCESS,
               LATENCY_MS, TOKENS_IN, TOKENS_OUT
          FROM INFERENCE_METRICS
         WHERE BATCH_ID = :p_batch_id)
 GROUP BY HOUR_START, MODEL_ID
    ON CONFLICT (HOUR_START, MODEL_ID) DO UPDATE
   SET REQUESTS = REQUESTS + excluded.REQUESTS,
       SUCCESSES = SUCCESSES + excluded.SUCCESSES,
       LATENCY_SUM_MS = LATENCY_SUM_MS + excluded.LATENCY_SUM_MS,
       TOKENS_IN = TOKENS_IN + excluded.TOKENS_IN,
       TOKENS_OUT = TOKENS_OUT + excluded.TOKENS_OUT;

INSERT INTO MODEL_LATENCY_HOURLY (HOUR_START, MODEL_ID, BUCKET, SAMPLES)
SELECT HOUR_START, MODEL_ID, BUCKET, COUNT(*)
  FROM (SELECT substr(DECIDED_AT, 1, 13) || ':00:00.000000' AS HOUR_START, MODEL_ID,
               CASE WHEN LATENCY_MS < 0.001 THEN -32768
                    ELSE CAST(ceil(ln(LATENCY_MS) / ln(1.04)) AS INTEGER) END AS BUCKET
          FROM INFERENCE_METRICS
         WHERE BATCH_ID = :p_batch_id)
 GROUP BY HOUR_START, MODEL_ID, BUCKET
    ON CONFLICT (HOUR_START, MODEL_ID, BUCKET) DO UPDATE
   SET SAMPLES = SAMPLES + excluded.SAMPLES;

INSERT INTO MODEL_METRICS_MINUTELY (MINUTE_START, MODEL_ID, BUCKET, SAMPLES, SUCCESSES,
                                    LATENCY_SUM_MS)
SELECT MINUTE_START, MODEL_ID, BUCKET, COUNT(*), SUM(SUCCESS), SUM(LATENCY_MS)
  FROM (SELECT substr(DECIDED_AT, 1, 16) || ':00.000000' AS MINUTE_START, MODEL_ID, SUCCESS,
               LATENCY_MS,
               CASE WHEN LATENCY_MS < 0.001 THEN -32768
                    ELSE CAST(ceil(ln(LATENCY_MS) / ln(1.04)) AS INTEGER) END AS BUCKET
          FROM INFERENCE_METRICS
         WHERE BATCH_ID = :p_batch_id
           AND DECIDED_AT >= strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-1440 minutes'))
 GROUP BY MINUTE_START, MODEL_ID, BUCKET
    ON CONFLICT (MINUTE_START, MODEL_ID, BUCKET) DO UPDATE
   SET SAMPLES = SAMPLES + excluded.SAMPLES,
       SUCCESSES = SUCCESSES + excluded.SUCCESSES,
       LATENCY_SUM_MS = LATENCY_SUM_MS + excluded.LATENCY_SUM_MS;

INSERT INTO AGENT_MODEL_METRICS_HOURLY (HOUR_START, AGENT_ID, MODEL_ID, REQUESTS, SUCCESSES,
                                        LATENCY_SUM_MS, TOKENS_IN, TOKENS_OUT)
SELECT HOUR_START, AGENT_ID, MODEL_ID, COUNT(*), SUM(SUCCESS), SUM(LATENCY_MS),
       COALESCE(SUM(TOKENS_IN), 0), COALESCE(SUM(TOKENS_OUT), 0)
  FROM (SELECT substr(DECIDED_AT, 1, 13) || ':00:00.000000' AS HOUR_START, AGENT_ID, MODEL_ID,
               SUCCESS, LATENCY_MS, TOKENS_IN, TOKENS_OUT
          FROM INFERENCE_METRICS
         WHERE BATCH_ID = :p_batch_id)
 GROUP BY HOUR_START, AGENT_ID, MODEL_ID
    ON CONFLICT (HOUR_START, AGENT_ID, MODEL_ID) DO UPDATE
   SET REQUESTS = REQUESTS + excluded.REQUESTS,
       SUCCESSES = SUCCESSES + excluded.SUCCESSES,
       LATENCY_SUM_MS = LATENCY_SUM_MS + excluded.LATENCY_SUM_MS,
       TOKENS_IN = TOKENS_IN + excluded.TOKENS_IN,
       TOKENS_OUT = TOKENS_OUT + excluded.TOKENS_OUT;

INSERT INTO AGENT_MODEL_LATENCY_HOURLY (HOUR_START, AGENT_ID, MODEL_ID, BUCKET, SAMPLES)
SELECT HOUR_START, AGENT_ID, MODEL_ID, BUCKET, COUNT(*)
  FROM (SELECT substr(DECIDED_AT, 1, 13) || ':00:00.000000' AS HOUR_START, AGENT_ID, MODEL_ID,
               CASE WHEN LATENCY_MS < 0.001 THEN -32768
                    ELSE CAST(ceil(ln(LATENCY_MS) / ln(1.04)) AS INTEGER) END AS BUCKET
          FROM INFERENCE_METRICS
         WHERE BATCH_ID = :p_batch_id)
 GROUP BY HOUR_START, AGENT_ID, MODEL_ID, BUCKET
    ON CONFLICT (HOUR_START, AGENT_ID, MODEL_ID, BUCKET) DO UPDATE
   SET SAMPLES = SAMPLES + excluded.SAMPLES;

SELECT BATCH_ID, OUTCOMES FROM OUTCOME_BATCHES WHERE BATCH_ID = :p_batch_id;
