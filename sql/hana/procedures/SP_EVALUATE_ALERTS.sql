-- SP_EVALUATE_ALERTS: evaluates every enabled alert rule against V_ALERT_OBSERVATIONS.
--   1. stamps LAST_EVALUATED_AT on the enabled rules; the row locks this takes serialise
--      evaluations (HANA has no partial unique index to refuse a duplicate open alert);
--   2. resolves open or acknowledged alerts whose (rule, model) no longer breaches (condition
--      cleared, too few samples, rule disabled or model disabled);
--   3. opens an alert for each breaching (rule, model) that has no open or acknowledged alert.
-- Inputs:  none.
-- Returns: the newly opened alerts (ALERT_ID, RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD,
--          OBSERVED_VALUE, STATE, RAISED_AT), for logging and notifications.
-- Errors:  none of ours.
-- Security: writes ALERTS and ALERT_RULES.LAST_EVALUATED_AT; granted to ROUTER_APP. No commit.
CREATE OR REPLACE PROCEDURE SP_EVALUATE_ALERTS()
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER AS
BEGIN
  DECLARE v_now TIMESTAMP = CURRENT_UTCTIMESTAMP;
  UPDATE ALERT_RULES SET LAST_EVALUATED_AT = :v_now WHERE ENABLED = 1;

  obs = SELECT RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, BREACHED
          FROM V_ALERT_OBSERVATIONS;

  UPDATE ALERTS
     SET STATE = 'resolved', RESOLVED_AT = :v_now
   WHERE STATE IN ('open', 'acknowledged')
     AND NOT EXISTS (SELECT 1 FROM :obs o
                      WHERE o.RULE_ID = ALERTS.RULE_ID AND o.MODEL_ID = ALERTS.MODEL_ID
                        AND o.BREACHED = 1);

  INSERT INTO ALERTS (RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
                      RAISED_AT)
  SELECT o.RULE_ID, o.MODEL_ID, o.METRIC, o.SEVERITY, o.THRESHOLD, o.OBSERVED_VALUE, 'open',
         :v_now
    FROM :obs o
   WHERE o.BREACHED = 1
     AND NOT EXISTS (SELECT 1 FROM ALERTS a
                      WHERE a.RULE_ID = o.RULE_ID AND a.MODEL_ID = o.MODEL_ID
                        AND a.STATE IN ('open', 'acknowledged'));

  SELECT ALERT_ID, RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
         RAISED_AT
    FROM ALERTS
   WHERE STATE = 'open' AND RAISED_AT = :v_now
   ORDER BY RULE_ID, MODEL_ID;
END;
