-- V_ROUTING_ANALYTICS_24H: per model, the last 24 whole hours including the current one
-- (HOUR_START >= start of the current UTC hour - 23 h), from the hourly rollups: requests,
-- successes, failures, success rate, average latency, p50/p95/p99 latency from the merged
-- histograms (nearest rank, within 2 % of the exact value; docs/ANALYTICS.md), tokens.
-- Only models with traffic in the window appear. Inputs: none (window fixed at 24 h).
-- Security: read-only; BI surface.
CREATE VIEW V_ROUTING_ANALYTICS_24H AS
WITH totals AS (
    SELECT MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
           SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
           SUM(TOKENS_OUT) AS TOKENS_OUT
      FROM MODEL_METRICS_HOURLY
     WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now', '-23 hours')
     GROUP BY MODEL_ID
), hist AS (
    SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
      FROM MODEL_LATENCY_HOURLY
     WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now', '-23 hours')
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
SELECT t.MODEL_ID,
       t.REQUESTS,
       t.SUCCESSES,
       t.REQUESTS - t.SUCCESSES AS FAILURES,
       CAST(t.SUCCESSES AS REAL) / t.REQUESTS AS SUCCESS_RATE,
       t.LATENCY_SUM_MS / t.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       t.TOKENS_IN,
       t.TOKENS_OUT
  FROM totals t
  JOIN ranks r ON r.MODEL_ID = t.MODEL_ID
 WHERE t.REQUESTS > 0;
