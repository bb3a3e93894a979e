-- V_ALERT_TARGETS: the (rule, model) pairs alert evaluation looks at: every enabled rule with
-- each model in its scope (the rule's own model, or every model that is not disabled), and the
-- start of the rule's window (SINCE = now - WINDOW_MINUTES, UTC).
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_ALERT_TARGETS AS
SELECT r.RULE_ID,
       m.MODEL_ID,
       r.METRIC,
       r.COMPARATOR,
       r.THRESHOLD,
       r.WINDOW_MINUTES,
       r.MIN_SAMPLES,
       r.SEVERITY,
       strftime('%Y-%m-%d %H:%M:%f000', 'now', printf('-%d minutes', r.WINDOW_MINUTES)) AS SINCE
  FROM ALERT_RULES r
  JOIN MODELS m ON (r.MODEL_ID IS NULL OR r.MODEL_ID = m.MODEL_ID) AND m.STATUS <> 'disabled'
 WHERE r.ENABLED = 1;
