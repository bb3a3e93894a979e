-- SP_PURGE_HISTORY: deletes raw history older than p_retention_days days: decisions and their
-- outcomes (by decision time), load snapshots, resolved alerts (by resolution time) and applied
-- batch records. Rollups, counters, open alerts and the catalog are kept, except the per-minute
-- rollup MODEL_METRICS_MINUTELY, which serves only the live windows (V_MODEL_HEALTH, alert rules
-- of up to 1440 minutes): its rows older than 2 days are deleted whatever p_retention_days is
-- (not counted in the result; the hourly rollups keep those outcomes).
-- Inputs:  p_retention_days, an integer 1..3650.
-- Returns: one row: PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
--          LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES (rows deleted), also kept in HISTORY_PURGES.
-- Errors:  10001 p_retention_days missing or outside 1..3650.
-- Security: deletes raw rows; ROUTER_APP (maintenance job).
-- params: p_retention_days
SELECT RAISE_ERROR(10001, 'p_retention_days must be an integer between 1 and 3650')
 WHERE :p_retention_days IS NULL OR typeof(:p_retention_days) <> 'integer'
    OR :p_retention_days < 1 OR :p_retention_days > 3650;

INSERT INTO HISTORY_PURGES (PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
                            LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES)
SELECT strftime('%Y-%m-%d %H:%M:%f000', 'now'), :p_retention_days, c.CUTOFF,
       (SELECT COUNT(*) FROM ROUTING_DECISIONS WHERE DECIDED_AT < c.CUTOFF),
       (SELECT COUNT(*) FROM INFERENCE_METRICS WHERE DECIDED_AT < c.CUTOFF),
       (SELECT COUNT(*) FROM LOAD_SNAPSHOTS WHERE SNAPSHOT_AT < c.CUTOFF),
       (SELECT COUNT(*) FROM ALERTS WHERE STATE = 'resolved' AND RESOLVED_AT < c.CUTOFF),
       (SELECT COUNT(*) FROM OUTCOME_BATCHES WHERE APPLIED_AT < c.CUTOFF)
  FROM (SELECT strftime('%Y-%m-%d %H:%M:%f000', 'now',
                        printf('-%d days', :p_retention_days)) AS CUTOFF) c;

DELETE FROM INFERENCE_METRICS
 WHERE DECIDED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                   WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES));

DELETE FROM ROUTING_DECISIONS
 WHERE DECIDED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                   WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES));

DELETE FROM LOAD_SNAPSHOTS
 WHERE SNAPSHOT_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                   WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES));

DELETE FROM ALERTS
 WHERE STATE = 'resolved'
   AND RESOLVED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                       WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES));

DELETE FROM OUTCOME_BATCHES
 WHERE APPLIED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                   WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES));

DELETE FROM MODEL_METRICS_MINUTELY
 WHERE MINUTE_START < strftime('%Y-%m-%d %H:%M:%f000', 'now', '-2 days');

SELECT PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES, LOAD_SNAPSHOTS, ALERTS,
       OUTCOME_BATCHES
  FROM HISTORY_PURGES
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);
