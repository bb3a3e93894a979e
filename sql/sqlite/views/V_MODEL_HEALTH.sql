-- V_MODEL_HEALTH: every catalog model's recent health for the adaptive router: outcomes of the
-- decisions made in the last 15 minutes (raw INFERENCE_METRICS through IX_METRICS_DECIDED_AT,
-- so the cost is the window's rows): requests, successes, failures, success rate, average
-- latency and exact p95 latency (nearest rank). Models without recent traffic show zero
-- requests and NULL rates and latencies.
-- Inputs: none (window fixed at 15 minutes). Security: read-only; BI surface.
CREATE VIEW V_MODEL_HEALTH AS
WITH recent AS (
    SELECT MODEL_ID, SUCCESS, LATENCY_MS,
           ROW_NUMBER() OVER (PARTITION BY MODEL_ID ORDER BY LATENCY_MS) AS RN,
           COUNT(*) OVER (PARTITION BY MODEL_ID) AS N
      FROM INFERENCE_METRICS
     WHERE DECIDED_AT >= strftime('%Y-%m-%d %H:%M:%f000', 'now', '-15 minutes')
), agg AS (
    SELECT MODEL_ID, COUNT(*) AS REQUESTS, SUM(SUCCESS) AS SUCCESSES,
           AVG(LATENCY_MS) AS AVG_LATENCY_MS,
           MAX(CASE WHEN RN = ceil(95 * N / 100.0) THEN LATENCY_MS END) AS P95_LATENCY_MS
      FROM recent
     GROUP BY MODEL_ID
)
SELECT m.MODEL_ID,
       m.STATUS,
       15 AS WINDOW_MINUTES,
       COALESCE(a.REQUESTS, 0) AS REQUESTS,
       COALESCE(a.SUCCESSES, 0) AS SUCCESSES,
       COALESCE(a.REQUESTS - a.SUCCESSES, 0) AS FAILURES,
       CAST(a.SUCCESSES AS REAL) / a.REQUESTS AS SUCCESS_RATE,
       a.AVG_LATENCY_MS,
       a.P95_LATENCY_MS
  FROM MODELS m
  LEFT JOIN agg a ON a.MODEL_ID = m.MODEL_ID;
