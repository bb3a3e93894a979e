-- SP_EVALUATE_ALERTS: evaluates every enabled alert rule against V_ALERT_OBSERVATIONS.
--   1. stamps LAST_EVALUATED_AT on the enabled rules (on HANA this also locks them, so two
--      evaluations never run at once);
--   2. resolves open or acknowledged alerts whose (rule, model) no longer breaches (condition
--      cleared, too few samples, rule disabled or model disabled);
--   3. opens an alert for each breaching (rule, model) that has no open or acknowledged alert
--      (no duplicates; UX_ALERTS_ONE_OPEN also refuses them).
-- V_ALERT_OBSERVATIONS is evaluated once per call, into the connection's TEMP table
-- ALERT_OBSERVED (created on first use, emptied and refilled here; the HANA twin uses a table
-- variable), so steps 2 and 3 see the same observations. It reads the per-minute rollups, so a
-- call costs minutes x models x buckets, not the window's outcomes: this procedure runs inside
-- the writer's write lock (BEGIN IMMEDIATE).
-- Inputs:  none.
-- Returns: the newly opened alerts (ALERT_ID, RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD,
--          OBSERVED_VALUE, STATE, RAISED_AT), for logging and notifications.
-- Errors:  none of ours.
-- Security: writes ALERTS and ALERT_RULES.LAST_EVALUATED_AT; ROUTER_APP.
-- params:
UPDATE ALERT_RULES
   SET LAST_EVALUATED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE ENABLED = 1;

CREATE TEMP TABLE IF NOT EXISTS ALERT_OBSERVED (
    RULE_ID         TEXT    NOT NULL,
    MODEL_ID        TEXT    NOT NULL,
    METRIC          TEXT    NOT NULL,
    SEVERITY        TEXT    NOT NULL,
    THRESHOLD       REAL    NOT NULL,
    OBSERVED_VALUE  REAL,
    BREACHED        INTEGER NOT NULL,
    PRIMARY KEY (RULE_ID, MODEL_ID)
);

DELETE FROM temp.ALERT_OBSERVED;

INSERT INTO temp.ALERT_OBSERVED (RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE,
                                 BREACHED)
SELECT RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, BREACHED
  FROM V_ALERT_OBSERVATIONS;

UPDATE ALERTS
   SET STATE = 'resolved', RESOLVED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE STATE IN ('open', 'acknowledged')
   AND (RULE_ID, MODEL_ID) NOT IN (SELECT RULE_ID, MODEL_ID
                                     FROM temp.ALERT_OBSERVED
                                    WHERE BREACHED = 1);

INSERT INTO ALERTS (RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
                    RAISED_AT)
SELECT o.RULE_ID, o.MODEL_ID, o.METRIC, o.SEVERITY, o.THRESHOLD, o.OBSERVED_VALUE, 'open',
       strftime('%Y-%m-%d %H:%M:%f000', 'now')
  FROM temp.ALERT_OBSERVED o
 WHERE o.BREACHED = 1
   AND (o.RULE_ID, o.MODEL_ID) NOT IN (SELECT RULE_ID, MODEL_ID
                                         FROM ALERTS
                                        WHERE STATE IN ('open', 'acknowledged'))
 ORDER BY o.RULE_ID, o.MODEL_ID
RETURNING ALERT_ID, RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE, STATE,
          RAISED_AT;
