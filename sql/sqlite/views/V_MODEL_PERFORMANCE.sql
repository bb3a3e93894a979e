-- V_MODEL_PERFORMANCE: every catalog model with its performance over the last 7 days (168 whole
-- hours including the current one) from the hourly rollups: requests, successes, failures,
-- success rate, average and p50/p95/p99 latency (histogram, nearest rank, within 2 %), tokens,
-- and the first and last hour with traffic. Models without traffic show zero counts and NULLs.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_MODEL_PERFORMANCE AS
WITH totals AS (
    SELECT MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
           SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
           SUM(TOKENS_OUT) AS TOKENS_OUT, MIN(HOUR_START) AS FIRST_HOUR,
           MAX(HOUR_START) AS LAST_HOUR
      FROM MODEL_METRICS_HOURLY
     WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now', '-167 hours')
     GROUP BY MODEL_ID
), hist AS (
    SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
      FROM MODEL_LATENCY_HOURLY
     WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now', '-167 hours')
     GROUP BY MODEL_ID, BUCKET
), cumulative AS (
    SELECT MODEL_ID, BUCKET,
           SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
      FROM hist
), ranks AS (
    SELECT MODEL_ID,
           MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
     GROUP BY MODEL_ID
)
SELECT m.MODEL_ID,
       m.DISPLAY_NAME,
       m.PROVIDER,
       m.STATUS,
       m.COST_PER_1K_TOKENS,
       COALESCE(t.REQUESTS, 0) AS REQUESTS,
       COALESCE(t.SUCCESSES, 0) AS SUCCESSES,
       COALESCE(t.REQUESTS - t.SUCCESSES, 0) AS FAILURES,
       CAST(t.SUCCESSES AS REAL) / t.REQUESTS AS SUCCESS_RATE,
       t.LATENCY_SUM_MS / t.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       COALESCE(t.TOKENS_IN, 0) AS TOKENS_IN,
       COALESCE(t.TOKENS_OUT, 0) AS TOKENS_OUT,
       t.FIRST_HOUR,
       t.LAST_HOUR
  FROM MODELS m
  LEFT JOIN totals t ON t.MODEL_ID = m.MODEL_ID
  LEFT JOIN ranks r ON r.MODEL_ID = m.MODEL_ID;
