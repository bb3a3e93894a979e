-- V_MODEL_HEALTH: every catalog model's recent health for the adaptive router: outcomes of the
-- decisions made in the last 15 whole minutes plus the current, partial one (MINUTE_START >=
-- start of the current minute - 15 min, so 15 to 16 minutes of decisions), read from the
-- per-minute rollup MODEL_METRICS_MINUTELY (maintained by SP_APPLY_OUTCOMES), never from raw
-- rows: requests, successes, failures, success rate, average latency (exact: sum / count) and
-- p95 latency from the latency histogram (nearest rank, the bucket's representative value
-- 1.04^(BUCKET - 0.5), within 2 %: the rule of V_MODEL_PERFORMANCE, docs/ANALYTICS.md). Models
-- without recent traffic show zero requests and NULL rates and latencies.
-- Cost: rows = 16 minutes x models x latency buckets in use, independent of the traffic (a
-- range of the primary key, which starts with MINUTE_START).
-- Inputs: none (window fixed at 15 minutes). Security: read-only; BI surface.
CREATE VIEW V_MODEL_HEALTH AS
WITH hist AS (
    SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES, SUM(SUCCESSES) AS SUCCESSES,
           SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS
      FROM MODEL_METRICS_MINUTELY
     WHERE MINUTE_START >= strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-15 minutes')
     GROUP BY MODEL_ID, BUCKET
), cumulative AS (
    SELECT MODEL_ID, BUCKET, SAMPLES, SUCCESSES, LATENCY_SUM_MS,
           SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
      FROM hist
), agg AS (
    SELECT MODEL_ID, SUM(SAMPLES) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
           SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95
      FROM cumulative
     GROUP BY MODEL_ID
)
SELECT m.MODEL_ID,
       m.STATUS,
       15 AS WINDOW_MINUTES,
       COALESCE(a.REQUESTS, 0) AS REQUESTS,
       COALESCE(a.SUCCESSES, 0) AS SUCCESSES,
       COALESCE(a.REQUESTS - a.SUCCESSES, 0) AS FAILURES,
       CAST(a.SUCCESSES AS REAL) / a.REQUESTS AS SUCCESS_RATE,
       a.LATENCY_SUM_MS / a.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN a.B95 = -32768 THEN 0.0 ELSE pow(1.04, a.B95 - 0.5) END AS P95_LATENCY_MS
  FROM MODELS m
  LEFT JOIN agg a ON a.MODEL_ID = m.MODEL_ID;
