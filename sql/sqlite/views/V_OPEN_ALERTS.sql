-- V_OPEN_ALERTS: alerts not yet resolved (open or acknowledged), with their rule's name.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_OPEN_ALERTS AS
SELECT a.ALERT_ID,
       a.RULE_ID,
       r.NAME AS RULE_NAME,
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
