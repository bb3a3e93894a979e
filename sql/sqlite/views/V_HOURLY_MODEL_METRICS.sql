-- V_HOURLY_MODEL_METRICS: one row per (hour, model) with traffic, from the hourly rollups:
-- requests, successes, failures, success rate, average and p50/p95/p99 latency of that hour
-- (histogram, nearest rank, within 2 %), tokens. Hour = the decisions' UTC hour. Filter on
-- HOUR_START (and MODEL_ID): the percentile window is partitioned by them.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_HOURLY_MODEL_METRICS AS
WITH cumulative AS (
    SELECT HOUR_START, MODEL_ID, BUCKET,
           SUM(SAMPLES) OVER (PARTITION BY HOUR_START, MODEL_ID ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY HOUR_START, MODEL_ID) AS N
      FROM MODEL_LATENCY_HOURLY
), ranks AS (
    SELECT HOUR_START, MODEL_ID,
           MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
     GROUP BY HOUR_START, MODEL_ID
)
SELECT h.HOUR_START,
       h.MODEL_ID,
       h.REQUESTS,
       h.SUCCESSES,
       h.REQUESTS - h.SUCCESSES AS FAILURES,
       CAST(h.SUCCESSES AS REAL) / h.REQUESTS AS SUCCESS_RATE,
       h.LATENCY_SUM_MS / h.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       h.TOKENS_IN,
       h.TOKENS_OUT
  FROM MODEL_METRICS_HOURLY h
  JOIN ranks r ON r.HOUR_START = h.HOUR_START AND r.MODEL_ID = h.MODEL_ID
 WHERE h.REQUESTS > 0;
