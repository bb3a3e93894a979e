-- Load snapshots, alert rules and alerts. Security: writes ROUTER_APP; reads every role.

-- name: insert-load-snapshot
INSERT INTO LOAD_SNAPSHOTS (MODEL_ID, SNAPSHOT_AT, SOURCE, IN_FLIGHT, UTILIZATION,
                            EWMA_LATENCY_MS)
VALUES (:model_id, :snapshot_at, :source, :in_flight, :utilization, :ewma_latency_ms);

-- name: list-alert-rules
SELECT RULE_ID, NAME, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES, MIN_SAMPLES, SEVERITY,
       MODEL_ID, ENABLED, CREATED_AT, UPDATED_AT, LAST_EVALUATED_AT
  FROM ALERT_RULES
 ORDER BY RULE_ID;

-- name: insert-alert-rule
INSERT INTO ALERT_RULES (RULE_ID, NAME, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES,
                         MIN_SAMPLES, SEVERITY, MODEL_ID, ENABLED)
VALUES (:rule_id, :name, :metric, :comparator, :threshold, :window_minutes,
        :min_samples, :severity, :model_id, :enabled);

-- name: update-alert-rule
UPDATE ALERT_RULES
   SET NAME = :name, METRIC = :metric, COMPARATOR = :comparator, THRESHOLD = :threshold,
       WINDOW_MINUTES = :window_minutes, MIN_SAMPLES = :min_samples, SEVERITY = :severity,
       MODEL_ID = :model_id, ENABLED = :enabled,
       UPDATED_AT = CURRENT_UTCTIMESTAMP
 WHERE RULE_ID = :rule_id;

-- name: disable-alert-rule
UPDATE ALERT_RULES
   SET ENABLED = 0, UPDATED_AT = CURRENT_UTCTIMESTAMP
 WHERE RULE_ID = :rule_id AND ENABLED = 1;

-- name: list-open-alerts
SELECT ALERT_ID, RULE_ID, RULE_NAME, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE,
       STATE, RAISED_AT, ACKED_AT, CAST(NULL AS TIMESTAMP) AS RESOLVED_AT
  FROM V_OPEN_ALERTS
 ORDER BY RAISED_AT DESC, ALERT_ID DESC;

-- name: list-alerts-by-state
-- Newest first, at most :limit (resolved alerts accumulate until purged).
SELECT a.ALERT_ID, a.RULE_ID, r.NAME AS RULE_NAME, a.MODEL_ID, a.METRIC, a.SEVERITY,
       a.THRESHOLD, a.OBSERVED_VALUE, a.STATE, a.RAISED_AT, a.ACKED_AT, a.RESOLVED_AT
  FROM ALERTS a
  JOIN ALERT_RULES r ON r.RULE_ID = a.RULE_ID
 WHERE a.STATE = :state
 ORDER BY a.RAISED_AT DESC, a.ALERT_ID DESC
 LIMIT :limit;

-- name: get-alert
SELECT a.ALERT_ID, a.RULE_ID, r.NAME AS RULE_NAME, a.MODEL_ID, a.METRIC, a.SEVERITY,
       a.THRESHOLD, a.OBSERVED_VALUE, a.STATE, a.RAISED_AT, a.ACKED_AT, a.RESOLVED_AT
  FROM ALERTS a
  JOIN ALERT_RULES r ON r.RULE_ID = a.RULE_ID
 WHERE a.ALERT_ID = :alert_id;

-- name: count-open-alerts
SELECT SEVERITY, COUNT(*) AS OPEN_ALERTS
  FROM V_OPEN_ALERTS
 GROUP BY SEVERITY;

-- name: ack-alert
UPDATE ALERTS
   SET STATE = 'acknowledged', ACKED_AT = CURRENT_UTCTIMESTAMP
 WHERE ALERT_ID = :alert_id AND STATE = 'open';

-- name: resolve-alert
UPDATE ALERTS
   SET STATE = 'resolved', RESOLVED_AT = CURRENT_UTCTIMESTAMP
 WHERE ALERT_ID = :alert_id AND STATE IN ('open', 'acknowledged');
