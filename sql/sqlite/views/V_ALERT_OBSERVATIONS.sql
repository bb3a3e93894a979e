-- V_ALERT_OBSERVATIONS: what SP_EVALUATE_ALERTS compares: one row per (enabled rule, model in
-- its scope: the rule's model, or every model not disabled) with the value observed over the
-- rule's window (the last WINDOW_MINUTES minutes of decision time) and whether it breaches.
--   error_rate      failed / all outcomes, from raw INFERENCE_METRICS (exact)
--   p95_latency_ms  exact nearest-rank p95 of the outcomes' latencies
--   no_traffic      number of outcomes (never NULL: 0 when none)
--   utilization     average UTILIZATION of LOAD_SNAPSHOTS taken in the window
-- OBSERVED_VALUE is NULL (never a breach) when fewer than MIN_SAMPLES samples exist.
-- Windows in minutes are too fine for the hourly rollups, so raw rows are read, bounded by the
-- (MODEL_ID, DECIDED_AT) index. Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_ALERT_OBSERVATIONS AS
WITH targets AS (
    SELECT r.RULE_ID, m.MODEL_ID, r.METRIC, r.COMPARATOR, r.THRESHOLD, r.WINDOW_MINUTES,
           r.MIN_SAMPLES, r.SEVERITY,
           strftime('%Y-%m-%d %H:%M:%f000', 'now',
                    printf('-%d minutes', r.WINDOW_MINUTES)) AS SINCE
      FROM ALERT_RULES r
      JOIN MODELS m ON (r.MODEL_ID IS NULL OR r.MODEL_ID = m.MODEL_ID) AND m.STATUS <> 'disabled'
     WHERE r.ENABLED = 1
), traffic AS (
    SELECT t.RULE_ID, t.MODEL_ID, COUNT(i.DECISION_ID) AS N, SUM(i.SUCCESS) AS S
      FROM targets t
      LEFT JOIN INFERENCE_METRICS i ON i.MODEL_ID = t.MODEL_ID AND i.DECIDED_AT >= t.SINCE
     WHERE t.METRIC IN ('error_rate', 'no_traffic')
     GROUP BY t.RULE_ID, t.MODEL_ID
), ranked AS (
    SELECT t.RULE_ID, t.MODEL_ID, i.LATENCY_MS,
           ROW_NUMBER() OVER (PARTITION BY t.RULE_ID, t.MODEL_ID ORDER BY i.LATENCY_MS) AS RN,
           COUNT(*) OVER (PARTITION BY t.RULE_ID, t.MODEL_ID) AS N
      FROM targets t
      JOIN INFERENCE_METRICS i ON i.MODEL_ID = t.MODEL_ID AND i.DECIDED_AT >= t.SINCE
     WHERE t.METRIC = 'p95_latency_ms'
), p95 AS (
    SELECT RULE_ID, MODEL_ID, N, LATENCY_MS FROM ranked WHERE RN = ceil(95 * N / 100.0)
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
                WHEN 'no_traffic' THEN COALESCE(tr.N, 0)
                WHEN 'error_rate' THEN CASE WHEN tr.N >= t.MIN_SAMPLES
                                            THEN CAST(tr.N - tr.S AS REAL) / tr.N END
                WHEN 'p95_latency_ms' THEN CASE WHEN p.N >= t.MIN_SAMPLES THEN p.LATENCY_MS END
                WHEN 'utilization' THEN CASE WHEN u.N >= t.MIN_SAMPLES THEN u.U END
           END AS OBSERVED_VALUE
      FROM targets t
      LEFT JOIN traffic tr ON tr.RULE_ID = t.RULE_ID AND tr.MODEL_ID = t.MODEL_ID
      LEFT JOIN p95 p ON p.RULE_ID = t.RULE_ID AND p.MODEL_ID = t.MODEL_ID
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
