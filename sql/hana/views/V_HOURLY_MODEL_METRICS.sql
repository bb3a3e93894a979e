-- V_HOURLY_MODEL_METRICS: one row per (hour, model) with traffic, from the hourly rollups:
-- requests, successes, failures, success rate, average and p50/p95/p99 latency of that hour
-- (histogram, nearest rank, within 2 %), tokens. Hour = the decisions' UTC hour. Filter on
-- HOUR_START (and MODEL_ID): the percentile window is partitioned by them.
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_HOURLY_MODEL_METRICS (
    HOUR_START, MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS,
    P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT
) AS
SELECT h.HOUR_START,
       h.MODEL_ID,
       h.REQUESTS,
       h.SUCCESSES,
       h.REQUESTS - h.SUCCESSES,
       TO_DOUBLE(h.SUCCESSES) / h.REQUESTS,
       h.LATENCY_SUM_MS / h.REQUESTS,
       CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END,
       CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END,
       CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END,
       h.TOKENS_IN,
       h.TOKENS_OUT
  FROM MODEL_METRICS_HOURLY h
  JOIN (SELECT HOUR_START, MODEL_ID,
               MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
               MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
               MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
          FROM (SELECT HOUR_START, MODEL_ID, BUCKET,
                       SUM(SAMPLES) OVER (PARTITION BY HOUR_START, MODEL_ID ORDER BY BUCKET
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                         AS CUM,
                       SUM(SAMPLES) OVER (PARTITION BY HOUR_START, MODEL_ID) AS N
                  FROM MODEL_LATENCY_HOURLY) c
         GROUP BY HOUR_START, MODEL_ID) r
    ON r.HOUR_START = h.HOUR_START AND r.MODEL_ID = h.MODEL_ID
 WHERE h.REQUESTS > 0;
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.HOUR_START IS 'Start of the UTC hour in which the decisions were made';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.MODEL_ID IS 'Model (MODELS.MODEL_ID)';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.REQUESTS IS 'Outcomes of the decisions of that hour';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.SUCCESSES IS 'Successful outcomes';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.FAILURES IS 'Failed outcomes';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.SUCCESS_RATE IS 'SUCCESSES / REQUESTS';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.AVG_LATENCY_MS IS 'Mean latency in milliseconds (exact)';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.P50_LATENCY_MS IS 'Median latency in ms, histogram nearest rank, within 2 percent';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.P95_LATENCY_MS IS '95th percentile latency in ms, within 2 percent';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.P99_LATENCY_MS IS '99th percentile latency in ms, within 2 percent';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.TOKENS_IN IS 'Prompt tokens';
COMMENT ON COLUMN V_HOURLY_MODEL_METRICS.TOKENS_OUT IS 'Completion tokens';
