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
-- Security: deletes raw rows; granted to ROUTER_APP (maintenance job). Does not commit.
CREATE OR REPLACE PROCEDURE SP_PURGE_HISTORY(IN p_retention_days INTEGER)
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER AS
BEGIN
  DECLARE v_now TIMESTAMP = CURRENT_UTCTIMESTAMP;
  DECLARE v_cutoff TIMESTAMP;
  DECLARE v_outcomes BIGINT;
  DECLARE v_decisions BIGINT;
  DECLARE v_snapshots BIGINT;
  DECLARE v_alerts BIGINT;
  DECLARE v_batches BIGINT;
  IF :p_retention_days IS NULL OR :p_retention_days < 1 OR :p_retention_days > 3650 THEN
    SIGNAL SQL_ERROR_CODE 10001
      SET MESSAGE_TEXT = 'p_retention_days must be an integer between 1 and 3650';
  END IF;
  v_cutoff = ADD_DAYS(:v_now, -1 * :p_retention_days);

  DELETE FROM INFERENCE_METRICS WHERE DECIDED_AT < :v_cutoff;
  v_outcomes = ::ROWCOUNT;
  DELETE FROM ROUTING_DECISIONS WHERE DECIDED_AT < :v_cutoff;
  v_decisions = ::ROWCOUNT;
  DELETE FROM LOAD_SNAPSHOTS WHERE SNAPSHOT_AT < :v_cutoff;
  v_snapshots = ::ROWCOUNT;
  DELETE FROM ALERTS WHERE STATE = 'resolved' AND RESOLVED_AT < :v_cutoff;
  v_alerts = ::ROWCOUNT;
  DELETE FROM OUTCOME_BATCHES WHERE APPLIED_AT < :v_cutoff;
  v_batches = ::ROWCOUNT;

  DELETE FROM MODEL_METRICS_MINUTELY WHERE MINUTE_START < ADD_DAYS(:v_now, -2);

  INSERT INTO HISTORY_PURGES (PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
                              LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES)
  VALUES (:v_now, :p_retention_days, :v_cutoff, :v_decisions, :v_outcomes, :v_snapshots,
          :v_alerts, :v_batches);

  SELECT PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES, LOAD_SNAPSHOTS,
         ALERTS, OUTCOME_BATCHES
    FROM HISTORY_PURGES
   WHERE PURGE_ID = CURRENT_IDENTITY_VALUE();
END;
