-- V_ALERT_OBSERVATIONS: what SP_EVALUATE_ALERTS compares: one row per V_ALERT_TARGETS row
-- (enabled rule x model in its scope) with the value observed over the rule's window (the last
-- WINDOW_MINUTES minutes of decision time) and whether it breaches.
--   error_rate      failed / all outcomes, from raw INFERENCE_METRICS (exact)
--   p95_latency_ms  exact nearest-rank p95 of the outcomes' latencies
--   no_traffic      number of outcomes (never NULL: 0 when none)
--   utilization     average UTILIZATION of the LOAD_SNAPSHOTS taken in the window
-- OBSERVED_VALUE is NULL (never a breach) when fewer than MIN_SAMPLES samples exist.
-- Windows in minutes are too fine for the hourly rollups, so raw rows are read once per
-- distinct window length (cost: the windows' rows).
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_ALERT_OBSERVATIONS (
    RULE_ID, MODEL_ID, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
    SAMPLES, OBSERVED_VALUE, BREACHED
) AS
SELECT RULE_ID, MODEL_ID, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
       SAMPLES, OBSERVED_VALUE,
       CASE WHEN OBSERVED_VALUE IS NULL THEN 0
            WHEN COMPARATOR = 'gt' AND OBSERVED_VALUE > THRESHOLD THEN 1
            WHEN COMPARATOR = 'lt' AND OBSERVED_VALUE < THRESHOLD THEN 1
            ELSE 0 END
  FROM (SELECT t.RULE_ID, t.MODEL_ID, t.METRIC, t.COMPARATOR, t.THRESHOLD, t.WINDOW_MINUTES,
               t.MIN_SAMPLES, t.SEVERITY,
               CASE t.METRIC WHEN 'p95_latency_ms' THEN COALESCE(p.N, 0)
                             WHEN 'utilization' THEN COALESCE(u.N, 0)
                             ELSE COALESCE(tr.N, 0) END AS SAMPLES,
               CASE t.METRIC
                    WHEN 'no_traffic' THEN TO_DOUBLE(COALESCE(tr.N, 0))
                    WHEN 'error_rate' THEN CASE WHEN tr.N >= t.MIN_SAMPLES
                                                THEN TO_DOUBLE(tr.N - tr.S) / tr.N END
                    WHEN 'p95_latency_ms' THEN CASE WHEN p.N >= t.MIN_SAMPLES
                                                    THEN p.LATENCY_MS END
                    WHEN 'utilization' THEN CASE WHEN u.N >= t.MIN_SAMPLES THEN u.U END
               END AS OBSERVED_VALUE
          FROM V_ALERT_TARGETS t
          LEFT JOIN (SELECT w.WINDOW_MINUTES, i.MODEL_ID, COUNT(*) AS N,
                            SUM(TO_BIGINT(i.SUCCESS)) AS S
                       FROM (SELECT DISTINCT WINDOW_MINUTES, SINCE FROM V_ALERT_TARGETS
                              WHERE METRIC IN ('error_rate', 'no_traffic')) w
                       JOIN INFERENCE_METRICS i ON i.DECIDED_AT >= w.SINCE
                      GROUP BY w.WINDOW_MINUTES, i.MODEL_ID) tr
            ON tr.WINDOW_MINUTES = t.WINDOW_MINUTES AND tr.MODEL_ID = t.MODEL_ID
          LEFT JOIN (SELECT WINDOW_MINUTES, MODEL_ID, N, LATENCY_MS
                       FROM (SELECT w.WINDOW_MINUTES, i.MODEL_ID, i.LATENCY_MS,
                                    ROW_NUMBER() OVER (PARTITION BY w.WINDOW_MINUTES, i.MODEL_ID
                                                       ORDER BY i.LATENCY_MS) AS RN,
                                    COUNT(*) OVER (PARTITION BY w.WINDOW_MINUTES, i.MODEL_ID)
                                      AS N
                               FROM (SELECT DISTINCT WINDOW_MINUTES, SINCE FROM V_ALERT_TARGETS
                                      WHERE METRIC = 'p95_latency_ms') w
                               JOIN INFERENCE_METRICS i ON i.DECIDED_AT >= w.SINCE) ranked
                      WHERE RN = CEIL(95 * N / 100.0)) p
            ON p.WINDOW_MINUTES = t.WINDOW_MINUTES AND p.MODEL_ID = t.MODEL_ID
          LEFT JOIN (SELECT t2.RULE_ID, t2.MODEL_ID, COUNT(*) AS N, AVG(s.UTILIZATION) AS U
                       FROM V_ALERT_TARGETS t2
                       JOIN LOAD_SNAPSHOTS s
                         ON s.MODEL_ID = t2.MODEL_ID AND s.SNAPSHOT_AT >= t2.SINCE
                      WHERE t2.METRIC = 'utilization'
                      GROUP BY t2.RULE_ID, t2.MODEL_ID) u
            ON u.RULE_ID = t.RULE_ID AND u.MODEL_ID = t.MODEL_ID) o;
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.RULE_ID IS 'Enabled rule (ALERT_RULES.RULE_ID)';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.MODEL_ID IS 'A model in the rule scope';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.METRIC IS 'error_rate, p95_latency_ms, utilization or no_traffic';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.COMPARATOR IS 'gt: breach above THRESHOLD; lt: breach below';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.THRESHOLD IS 'Threshold of the rule';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.WINDOW_MINUTES IS 'Window length in minutes';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.MIN_SAMPLES IS 'Fewest samples for an observation to count';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.SEVERITY IS 'info, warning or critical';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.SAMPLES IS 'Outcomes (or load snapshots) in the window';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.OBSERVED_VALUE IS 'Observed value; NULL with fewer than MIN_SAMPLES samples';
COMMENT ON COLUMN V_ALERT_OBSERVATIONS.BREACHED IS '1 when OBSERVED_VALUE breaches the threshold, else 0';
