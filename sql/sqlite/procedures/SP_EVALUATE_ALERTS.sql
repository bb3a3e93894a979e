-- SP_EVALUATE_ALERTS: evaluates every enabled alert rule against V_ALERT_OBSERVATIONS.
--   1. stamps LAST_EVALUATED_AT on the enabled rules (on HANA this also locks them, so two
--      evaluations never run at once);
--   2. resolves open or acknowledged alerts whose (rule, model) no longer breaches (condition
--      cleared, too few samples, rule disabled or model disabled);
--   3. opens an alert for each breaching (rule, model) that has no open or acknowledged alert
--      (no duplicates; UX_ALERTS_ONE_OPEN also refuses them).
-- Inputs:  none.
-- Returns: the newly opened alerts (ALERT_ID, RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD,
--          OBSERVED_VALUE, STATE, RAISED_AT), for logging and notifications.
-- Errors:  none of ours.
-- Security: writes ALERTS and ALERT_RULES.LAST_EVALUATED_AT; ROUTER_APP.
-- params:
UPDATE ALERT_RULES
   SET LAST_EVALUATED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE ENABLED = 1;

UPDATE ALERTS
   SET STATE = 'resolved', RESOLVED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE STATE IN ('open', 'acknowledged')
   AND (RULE_ID, MODEL_ID) NOT IN (SELECT RULE_ID, MODEL_ID
                                     FROM V_ALERT_OBSERVATIONS
                                    WHERE BREACHED = 1);

INSERT INTO ALERTS (RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
                    RAISED_AT)
SELECT o.RULE_ID, o.MODEL_ID, o.METRIC, o.SEVERITY, o.THRESHOLD, o.OBSERVED_VALUE, 'open',
       strftime('%Y-%m-%d %H:%M:%f000', 'now')
  FROM V_ALERT_OBSERVATIONS o
 WHERE o.BREACHED = 1
   AND (o.RULE_ID, o.MODEL_ID) NOT IN (SELECT RULE_ID, MODEL_ID
                                         FROM ALERTS
                                        WHERE STATE IN ('open', 'acknowledged'))
 ORDER BY o.RULE_ID, o.MODEL_ID
RETURNING ALERT_ID, RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
          RAISED_AT;
