-- V_MODEL_HEALTH: every catalog model's recent health for the adaptive router: outcomes of the
-- decisions made in the last 15 minutes (raw INFERENCE_METRICS through IX_METRICS_MODEL_TIME,
-- so the cost is the window's rows): requests, successes, failures, success rate, average
-- latency and exact p95 latency (nearest rank). Models without recent traffic show zero
-- requests and NULL rates and latencies.
-- Inputs: none (window fixed at 15 minutes). Security: read-only; BI surface.
CREATE VIEW V_MODEL_HEALTH AS
WITH recent AS (
    SELECT i.MODEL_ID, i.SUCCESS, i.LATENCY_MS,
           ROW_NUMBER() OVER (PARTITION BY i.MODEL_ID ORDER BY i.LATENCY_MS) AS RN,
           COUNT(*) OVER (PARTITION BY i.MODEL_ID) AS N
      FROM MODELS m
      JOIN INFERENCE_METRICS i
        ON i.MODEL_ID = m.MODEL_ID
       AND i.DECIDED_AT >= strftime('%Y-%m-%d %H:%M:%f000', 'now', '-15 minutes')
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
