-- V_TOP_AGENT_MODEL_PAIRS: the 100 (agent, model) pairs with the most requests in the last 24
-- whole hours including the current one (SP_GET_TOP_AGENT_MODEL_PAIRS takes any limit up to
-- 1000), with success rate, average and p50/p95/p99 latency from the pairs' merged histograms
-- (nearest rank, within 2 %) and tokens. PAIR_RANK 1 = most requests. Hours after the next one
-- (a worker's clock far ahead) count nowhere: ranking and figures read the same 25 hours.
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_TOP_AGENT_MODEL_PAIRS (
    PAIR_RANK, AGENT_ID, MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS,
    P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT, LAST_HOUR
) AS
SELECT c.PAIR_RANK,
       c.AGENT_ID,
       c.MODEL_ID,
       c.REQUESTS,
       c.SUCCESSES,
       c.REQUESTS - c.SUCCESSES,
       TO_DOUBLE(c.SUCCESSES) / c.REQUESTS,
       c.LATENCY_SUM_MS / c.REQUESTS,
       CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END,
       CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END,
       CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END,
       c.TOKENS_IN,
       c.TOKENS_OUT,
       c.LAST_HOUR
  FROM (SELECT *
          FROM (SELECT p.*,
                       ROW_NUMBER() OVER (ORDER BY REQUESTS DESC, AGENT_ID, MODEL_ID)
                         AS PAIR_RANK
                  FROM (SELECT AGENT_ID, MODEL_ID, SUM(REQUESTS) AS REQUESTS,
                               SUM(SUCCESSES) AS SUCCESSES,
                               SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS,
                               SUM(TOKENS_IN) AS TOKENS_IN, SUM(TOKENS_OUT) AS TOKENS_OUT,
                               MAX(HOUR_START) AS LAST_HOUR
                          FROM AGENT_MODEL_METRICS_HOURLY
                         WHERE HOUR_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                      'INTERVAL 1 HOUR',
                                                                      ROUND_DOWN), -82800)
                           AND HOUR_START < ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                     'INTERVAL 1 HOUR',
                                                                     ROUND_DOWN), 7200)
                         GROUP BY AGENT_ID, MODEL_ID) p
                 WHERE REQUESTS > 0) x
         WHERE PAIR_RANK <= 100) c
  JOIN (SELECT AGENT_ID, MODEL_ID,
               MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
               MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
               MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
          FROM (SELECT AGENT_ID, MODEL_ID, BUCKET,
                       SUM(SAMPLES) OVER (PARTITION BY AGENT_ID, MODEL_ID ORDER BY BUCKET
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                         AS CUM,
                       SUM(SAMPLES) OVER (PARTITION BY AGENT_ID, MODEL_ID) AS N
                  FROM (SELECT AGENT_ID, MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
                          FROM AGENT_MODEL_LATENCY_HOURLY
                         WHERE HOUR_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                      'INTERVAL 1 HOUR',
                                                                      ROUND_DOWN), -82800)
                           AND HOUR_START < ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                     'INTERVAL 1 HOUR',
                                                                     ROUND_DOWN), 7200)
                         GROUP BY AGENT_ID, MODEL_ID, BUCKET) h) cu
         GROUP BY AGENT_ID, MODEL_ID) r
    ON r.AGENT_ID = c.AGENT_ID AND r.MODEL_ID = c.MODEL_ID;
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.PAIR_RANK IS '1 = most requests in the window (ties by agent, then model)';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.AGENT_ID IS 'Agent (AGENTS.AGENT_ID)';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.MODEL_ID IS 'Model (MODELS.MODEL_ID)';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.REQUESTS IS 'Outcomes of the pair decisions in the last 24 whole UTC hours';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.SUCCESSES IS 'Successful outcomes';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.FAILURES IS 'Failed outcomes';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.SUCCESS_RATE IS 'SUCCESSES / REQUESTS';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.AVG_LATENCY_MS IS 'Mean latency in milliseconds (exact)';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.P50_LATENCY_MS IS 'Median latency in ms, histogram nearest rank, within 2 percent';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.P95_LATENCY_MS IS '95th percentile latency in ms, within 2 percent';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.P99_LATENCY_MS IS '99th percentile latency in ms, within 2 percent';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.TOKENS_IN IS 'Prompt tokens';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.TOKENS_OUT IS 'Completion tokens';
COMMENT ON COLUMN V_TOP_AGENT_MODEL_PAIRS.LAST_HOUR IS 'Last hour (UTC) with traffic for the pair';
