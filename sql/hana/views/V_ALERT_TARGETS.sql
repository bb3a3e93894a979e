-- V_ALERT_TARGETS: the (rule, model) pairs alert evaluation looks at: every enabled rule with
-- each model in its scope (the rule's own model, or every model that is not disabled), and the
-- start of the rule's window (SINCE = now - WINDOW_MINUTES, UTC).
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_ALERT_TARGETS (
    RULE_ID, MODEL_ID, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
    SINCE
) AS
SELECT r.RULE_ID,
       m.MODEL_ID,
       r.METRIC,
       r.COMPARATOR,
       r.THRESHOLD,
       r.WINDOW_MINUTES,
       r.MIN_SAMPLES,
       r.SEVERITY,
       ADD_SECONDS(CURRENT_UTCTIMESTAMP, -60 * r.WINDOW_MINUTES)
  FROM ALERT_RULES r
  JOIN MODELS m ON (r.MODEL_ID IS NULL OR r.MODEL_ID = m.MODEL_ID) AND m.STATUS <> 'disabled'
 WHERE r.ENABLED = 1;
COMMENT ON COLUMN V_ALERT_TARGETS.RULE_ID IS 'Enabled rule (ALERT_RULES.RULE_ID)';
COMMENT ON COLUMN V_ALERT_TARGETS.MODEL_ID IS 'A model in the rule scope';
COMMENT ON COLUMN V_ALERT_TARGETS.METRIC IS 'error_rate, p95_latency_ms, utilization or no_traffic';
COMMENT ON COLUMN V_ALERT_TARGETS.COMPARATOR IS 'gt: breach above THRESHOLD; lt: breach below';
COMMENT ON COLUMN V_ALERT_TARGETS.THRESHOLD IS 'Threshold of the rule';
COMMENT ON COLUMN V_ALERT_TARGETS.WINDOW_MINUTES IS 'Window length in minutes';
COMMENT ON COLUMN V_ALERT_TARGETS.MIN_SAMPLES IS 'Fewest samples for an observation to count';
COMMENT ON COLUMN V_ALERT_TARGETS.SEVERITY IS 'info, warning or critical';
COMMENT ON COLUMN V_ALERT_TARGETS.SINCE IS 'Start of the window (UTC)';
