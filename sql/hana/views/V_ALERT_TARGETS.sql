-- V_ALERT_TARGETS: the (rule, model) pairs alert evaluation looks at: every enabled rule with
-- each model in its scope (the rule's own model, or every model that is not disabled), and the
-- rule's window: SINCE = now - WINDOW_MINUTES (UTC; utilization reads LOAD_SNAPSHOTS since then)
-- and, for the outcome metrics read from the rollups (V_ALERT_OBSERVATIONS), the whole-minute
-- start S = SINCE_MINUTE = start of the current minute - WINDOW_MINUTES split at H0 = the first
-- whole hour at or after S and HC = the current hour: with H0 < HC the hours [HOURS_FROM,
-- HOURS_TO) = [H0, HC) come from the hourly rollups and the other minutes since S from
-- MODEL_METRICS_MINUTELY; otherwise HOURS_FROM = HOURS_TO = S (no hours, every minute since S).
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_ALERT_TARGETS (
    RULE_ID, MODEL_ID, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
    SINCE, SINCE_MINUTE, HOURS_FROM, HOURS_TO
) AS
SELECT RULE_ID, MODEL_ID, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
       SINCE, SINCE_MINUTE,
       CASE WHEN H0 < HC THEN H0 ELSE SINCE_MINUTE END,
       CASE WHEN H0 < HC THEN HC ELSE SINCE_MINUTE END
  FROM (SELECT t.*,
               SERIES_ROUND(ADD_SECONDS(t.SINCE_MINUTE, 3540), 'INTERVAL 1 HOUR', ROUND_DOWN)
                 AS H0
          FROM (SELECT r.RULE_ID,
                       m.MODEL_ID,
                       r.METRIC,
                       r.COMPARATOR,
                       r.THRESHOLD,
                       r.WINDOW_MINUTES,
                       r.MIN_SAMPLES,
                       r.SEVERITY,
                       ADD_SECONDS(CURRENT_UTCTIMESTAMP, -60 * r.WINDOW_MINUTES) AS SINCE,
                       ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 MINUTE',
                                                ROUND_DOWN),
                                   -60 * r.WINDOW_MINUTES) AS SINCE_MINUTE,
                       SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 HOUR', ROUND_DOWN) AS HC
                  FROM ALERT_RULES r
                  JOIN MODELS m
                    ON (r.MODEL_ID IS NULL OR r.MODEL_ID = m.MODEL_ID) AND m.STATUS <> 'disabled'
                 WHERE r.ENABLED = 1) t) w;
COMMENT ON COLUMN V_ALERT_TARGETS.RULE_ID IS 'Enabled rule (ALERT_RULES.RULE_ID)';
COMMENT ON COLUMN V_ALERT_TARGETS.MODEL_ID IS 'A model in the rule scope';
COMMENT ON COLUMN V_ALERT_TARGETS.METRIC IS 'error_rate, p95_latency_ms, utilization or no_traffic';
COMMENT ON COLUMN V_ALERT_TARGETS.COMPARATOR IS 'gt: breach above THRESHOLD; lt: breach below';
COMMENT ON COLUMN V_ALERT_TARGETS.THRESHOLD IS 'Threshold of the rule';
COMMENT ON COLUMN V_ALERT_TARGETS.WINDOW_MINUTES IS 'Window length in minutes';
COMMENT ON COLUMN V_ALERT_TARGETS.MIN_SAMPLES IS 'Fewest samples for an observation to count';
COMMENT ON COLUMN V_ALERT_TARGETS.SEVERITY IS 'info, warning or critical';
COMMENT ON COLUMN V_ALERT_TARGETS.SINCE IS 'Start of the window (UTC)';
COMMENT ON COLUMN V_ALERT_TARGETS.SINCE_MINUTE IS 'Start of the window in whole minutes (outcome metrics)';
COMMENT ON COLUMN V_ALERT_TARGETS.HOURS_FROM IS 'First whole hour read from the hourly rollups (= SINCE_MINUTE: none)';
COMMENT ON COLUMN V_ALERT_TARGETS.HOURS_TO IS 'End (exclusive) of the hours read from the hourly rollups';
