-- V_ALERT_OBSERVATIONS: what SP_EVALUATE_ALERTS compares: one row per V_ALERT_TARGETS row
-- (enabled rule x model in its scope) with the value observed over the
-- rule's window (the last WINDOW_MINUTES minutes of decision time) and whether it breaches.
--   error_rate      failed / all outcomes, from raw INFERENCE_METRICS (exact)
--   p95_latency_ms  exact nearest-rank p95 of the outcomes' latencies
--   no_traffic      number of outcomes (never NULL: 0 when none)
--   utilization     average UTILIZATION of the LOAD_SNAPSHOTS taken in the window
-- OBSERVED_VALUE is NULL (never a breach) when fewer than MIN_SAMPLES samples exist.
-- Windows in minutes are too fine for the hourly rollups, so raw rows are read once per
-- distinct window length through IX_METRICS_DECIDED_AT (cost: the windows' rows).
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_ALERT_OBSERVATIONS AS
WITH targets AS (
    SELECT * FROM V_ALERT_TARGETS
), traffic AS (
    SELECT w.WINDOW_MINUTES, i.MODEL_ID, COUNT(*) AS N, SUM(i.SUCCESS) AS S
      FROM (SELECT DISTINCT WINDOW_MINUTES, SINCE FROM targets
             WHERE METRIC IN ('error_rate', 'no_traffic')) w
     CROSS JOIN INFERENCE_METRICS i
     WHERE i.DECIDED_AT >= w.SINCE
     GROUP BY w.WINDOW_MINUTES, i.MODEL_ID
), ranked AS (
    SELECT w.WINDOW_MINUTES, i.MODEL_ID, i.LATENCY_MS,
           ROW_NUMBER() OVER (PARTITION BY w.WINDOW_MINUTES, i.MODEL_ID
                              ORDER BY i.LATENCY_MS) AS RN,
           COUNT(*) OVER (PARTITION BY w.WINDOW_MINUTES, i.MODEL_ID) AS N
      FROM (SELECT DISTINCT WINDOW_MINUTES, SINCE FROM targets
             WHERE METRIC = 'p95_latency_ms') w
     CROSS JOIN INFERENCE_METRICS i
     WHERE i.DECIDED_AT >= w.SINCE
), p95 AS (
    SELECT WINDOW_MINUTES, MODEL_ID, N, LATENCY_MS
      FROM ranked
     WHERE RN = ceil(95 * N / 100.0)
), util AS (
    SELECT t.RULE_ID, t.MODEL_ID, COUNT(*) AS N, AVG(s.UTILIZATION) AS U
      FROM targets t
      JOIN LOAD_SNAPSHOTS s ON s.MODEL_ID = t.MODEL_ID AND s.SNAPSHOT_AT >= t.SINCE
     WHERE t.METRIC = 'utilization'
     GROUP BY t.RULE_ID, t.MODEL_ID
), observed AS (
    SELECT t.RULE_ID, t.MODEL_ID, t.METRIC, t.COMPARATOR, t.THRESHOLD, t.WINDOW_MINUTES,
           t.MIN_SAMPLES, t.SEVERITY,
           CASE t.METRIC WHEN 'p95_latency_ms' THEN COALESCE(p.N, 0)
                         WHEN 'utilization' THEN COALESCE(u.N, 0)
                         ELSE COALESCE(tr.N, 0) END AS SAMPLES,
           CASE t.METRIC
                WHEN 'no_traffic' THEN CAST(COALESCE(tr.N, 0) AS REAL)
                WHEN 'error_rate' THEN CASE WHEN tr.N >= t.MIN_SAMPLES
                                            THEN CAST(tr.N - tr.S AS REAL) / tr.N END
                WHEN 'p95_latency_ms' THEN CASE WHEN p.N >= t.MIN_SAMPLES THEN p.LATENCY_MS END
                WHEN 'utilization' THEN CASE WHEN u.N >= t.MIN_SAMPLES THEN u.U END
           END AS OBSERVED_VALUE
      FROM targets t
      LEFT JOIN traffic tr ON tr.WINDOW_MINUTES = t.WINDOW_MINUTES AND tr.MODEL_ID = t.MODEL_ID
      LEFT JOIN p95 p ON p.WINDOW_MINUTES = t.WINDOW_MINUTES AND p.MODEL_ID = t.MODEL_ID
      LEFT JOIN util u ON u.RULE_ID = t.RULE_ID AND u.MODEL_ID = t.MODEL_ID
)
SELECT RULE_ID,
       MODEL_ID,
       METRIC,
       COMPARATOR,
       THRESHOLD,
       WINDOW_MINUTES,
       MIN_SAMPLES,
       SEVERITY,
       SAMPLES,
       OBSERVED_VALUE,
       CASE WHEN OBSERVED_VALUE IS NULL THEN 0
            WHEN COMPARATOR = 'gt' AND OBSERVED_VALUE > THRESHOLD THEN 1
            WHEN COMPARATOR = 'lt' AND OBSERVED_VALUE < THRESHOLD THEN 1
            ELSE 0 END AS BREACHED
  FROM observed;
