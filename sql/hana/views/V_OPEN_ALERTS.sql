-- V_OPEN_ALERTS: alerts not yet resolved (open or acknowledged), with their rule's name.
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_OPEN_ALERTS (
    ALERT_ID, RULE_ID, RULE_NAME, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
    RAISED_AT, ACKED_AT
) AS
SELECT a.ALERT_ID,
       a.RULE_ID,
       r.NAME,
       a.MODEL_ID,
       a.METRIC,
       a.SEVERITY,
       a.THRESHOLD,
       a.OBSERVED_VALUE,
       a.STATE,
       a.RAISED_AT,
       a.ACKED_AT
  FROM ALERTS a
  JOIN ALERT_RULES r ON r.RULE_ID = a.RULE_ID
 WHERE a.STATE IN ('open', 'acknowledged');
COMMENT ON COLUMN V_OPEN_ALERTS.ALERT_ID IS 'Alert id';
COMMENT ON COLUMN V_OPEN_ALERTS.RULE_ID IS 'Rule that raised it (ALERT_RULES.RULE_ID)';
COMMENT ON COLUMN V_OPEN_ALERTS.RULE_NAME IS 'Name of the rule';
COMMENT ON COLUMN V_OPEN_ALERTS.MODEL_ID IS 'Model the alert is about';
COMMENT ON COLUMN V_OPEN_ALERTS.METRIC IS 'error_rate, p95_latency_ms, utilization or no_traffic';
COMMENT ON COLUMN V_OPEN_ALERTS.SEVERITY IS 'info, warning or critical (the rule at raise time)';
COMMENT ON COLUMN V_OPEN_ALERTS.THRESHOLD IS 'Threshold of the rule at raise time';
COMMENT ON COLUMN V_OPEN_ALERTS.OBSERVED_VALUE IS 'Value observed when the alert was raised';
COMMENT ON COLUMN V_OPEN_ALERTS.STATE IS 'open or acknowledged';
COMMENT ON COLUMN V_OPEN_ALERTS.RAISED_AT IS 'When it was raised (UTC)';
COMMENT ON COLUMN V_OPEN_ALERTS.ACKED_AT IS 'When it was acknowledged (UTC), NULL while open';
