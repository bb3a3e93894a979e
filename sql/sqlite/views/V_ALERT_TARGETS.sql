-- V_ALERT_TARGETS: the (rule, model) pairs alert evaluation looks at: every enabled rule with
-- each model in its scope (the rule's own model, or every model that is not disabled), and the
-- rule's window: SINCE = now - WINDOW_MINUTES (UTC; utilization reads LOAD_SNAPSHOTS since then)
-- and, for the outcome metrics read from the rollups (V_ALERT_OBSERVATIONS), the whole-minute
-- start S = SINCE_MINUTE = start of the current minute - WINDOW_MINUTES split at H0 = the first
-- whole hour at or after S and HC = the current hour: with H0 < HC the hours [HOURS_FROM,
-- HOURS_TO) = [H0, HC) come from the hourly rollups and the other minutes since S from
-- MODEL_METRICS_MINUTELY; otherwise HOURS_FROM = HOURS_TO = S (no hours, every minute since S).
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_ALERT_TARGETS AS
SELECT RULE_ID, MODEL_ID, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
       SINCE, SINCE_MINUTE,
       CASE WHEN H0 < HC THEN H0 ELSE SINCE_MINUTE END AS HOURS_FROM,
       CASE WHEN H0 < HC THEN HC ELSE SINCE_MINUTE END AS HOURS_TO
  FROM (SELECT t.*,
               strftime('%Y-%m-%d %H:00:00.000000', t.SINCE_MINUTE, '+59 minutes') AS H0
          FROM (SELECT r.RULE_ID,
                       m.MODEL_ID,
                       r.METRIC,
                       r.COMPARATOR,
                       r.THRESHOLD,
                       r.WINDOW_MINUTES,
                       r.MIN_SAMPLES,
                       r.SEVERITY,
                       strftime('%Y-%m-%d %H:%M:%f000', 'now',
                                printf('-%d minutes', r.WINDOW_MINUTES)) AS SINCE,
                       strftime('%Y-%m-%d %H:%M:00.000000', 'now',
                                printf('-%d minutes', r.WINDOW_MINUTES)) AS SINCE_MINUTE,
                       strftime('%Y-%m-%d %H:00:00.000000', 'now') AS HC
                  FROM ALERT_RULES r
                  JOIN MODELS m
                    ON (r.MODEL_ID IS NULL OR r.MODEL_ID = m.MODEL_ID) AND m.STATUS <> 'disabled'
                 WHERE r.ENABLED = 1) t);
