-- SP_PURGE_HISTORY: deletes one bounded step of raw history older than p_retention_days days: the
-- p_max_rows oldest decisions (by DECIDED_AT, then DECISION_ID) with exactly their outcomes, and
-- at most p_max_rows of each of: load snapshots, resolved alerts (by resolution time) and applied
-- batch records, oldest first. Rollups, counters, open alerts and the catalog are kept, except the
-- per-minute rollup MODEL_METRICS_MINUTELY, which serves only the live windows (V_MODEL_HEALTH,
-- alert rules of up to 1440 minutes): at most p_max_rows of its rows older than 2 days are
-- deleted whatever p_retention_days is (the hourly rollups keep those outcomes).
-- One call is one short transaction of the caller (bounded undo and log volume);
-- store.purge_history_in_steps calls it until a step deletes fewer than p_max_rows of every table.
-- Each step's rows are chosen once into a table variable (ROW_NUMBER ranks, as
-- SP_GET_TOP_AGENT_MODEL_PAIRS chooses its pairs) and deleted by key (IN, or EXISTS for composite
-- keys, as SP_EVALUATE_ALERTS matches ALERTS against :obs); outcomes go before their decisions
-- (foreign key (DECISION_ID, DECIDED_AT) -> ROUTING_DECISIONS). Counts are ::ROWCOUNT.
-- Inputs:  p_retention_days, an integer 1..3650; p_max_rows, an integer >= 1.
-- Returns: one row: PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
--          LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES (rows deleted by this call), also kept in
--          HISTORY_PURGES (one row per call, empty calls included), and MINUTE_ROLLUPS
--          (MODEL_METRICS_MINUTELY rows deleted; returned only, not kept).
-- Errors:  10001 p_retention_days missing or outside 1..3650, or p_max_rows missing or < 1.
-- Security: deletes raw rows; granted to ROUTER_APP (maintenance job). Does not commit.
CREATE OR REPLACE PROCEDURE SP_PURGE_HISTORY(IN p_retention_days INTEGER, IN p_max_rows INTEGER)
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER AS
BEGIN
  DECLARE v_now TIMESTAMP = CURRENT_UTCTIMESTAMP;
  DECLARE v_cutoff TIMESTAMP;
  DECLARE v_outcomes BIGINT;
  DECLARE v_decisions BIGINT;
  DECLARE v_snapshots BIGINT;
  DECLARE v_alerts BIGINT;
  DECLARE v_batches BIGINT;
  DECLARE v_minutes BIGINT;
  IF :p_retention_days IS NULL OR :p_retention_days < 1 OR :p_retention_days > 3650 THEN
    SIGNAL SQL_ERROR_CODE 10001
      SET MESSAGE_TEXT = 'p_retention_days must be an integer between 1 and 3650';
  END IF;
  IF :p_max_rows IS NULL OR :p_max_rows < 1 THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_max_rows must be an integer of at least 1';
  END IF;
  -- ADD_SECONDS, not ADD_DAYS: ADD_DAYS' result type for a TIMESTAMP is undocumented
  v_cutoff = ADD_SECONDS(:v_now, -86400 * TO_BIGINT(:p_retention_days));

  old_decisions = SELECT DECISION_ID
                    FROM (SELECT DECISION_ID,
                                 ROW_NUMBER() OVER (ORDER BY DECIDED_AT, DECISION_ID) AS RN
                            FROM ROUTING_DECISIONS
                           WHERE DECIDED_AT < :v_cutoff) x
                   WHERE RN <= :p_max_rows;
  DELETE FROM INFERENCE_METRICS
   WHERE DECIDED_AT < :v_cutoff
     AND DECISION_ID IN (SELECT DECISION_ID FROM :old_decisions);
  v_outcomes = ::ROWCOUNT;
  DELETE FROM ROUTING_DECISIONS
   WHERE DECIDED_AT < :v_cutoff
     AND DECISION_ID IN (SELECT DECISION_ID FROM :old_decisions);
  v_decisions = ::ROWCOUNT;

  old_snapshots = SELECT MODEL_ID, SNAPSHOT_AT, SOURCE
                    FROM (SELECT MODEL_ID, SNAPSHOT_AT, SOURCE,
                                 ROW_NUMBER() OVER (ORDER BY SNAPSHOT_AT, MODEL_ID, SOURCE) AS RN
                            FROM LOAD_SNAPSHOTS
                           WHERE SNAPSHOT_AT < :v_cutoff) x
                   WHERE RN <= :p_max_rows;
  DELETE FROM LOAD_SNAPSHOTS
   WHERE SNAPSHOT_AT < :v_cutoff
     AND EXISTS (SELECT 1 FROM :old_snapshots s
                  WHERE s.MODEL_ID = LOAD_SNAPSHOTS.MODEL_ID
                    AND s.SNAPSHOT_AT = LOAD_SNAPSHOTS.SNAPSHOT_AT
                    AND s.SOURCE = LOAD_SNAPSHOTS.SOURCE);
  v_snapshots = ::ROWCOUNT;

  old_alerts = SELECT ALERT_ID
                 FROM (SELECT ALERT_ID,
                              ROW_NUMBER() OVER (ORDER BY RESOLVED_AT, ALERT_ID) AS RN
                         FROM ALERTS
                        WHERE STATE = 'resolved' AND RESOLVED_AT < :v_cutoff) x
                WHERE RN <= :p_max_rows;
  DELETE FROM ALERTS WHERE ALERT_ID IN (SELECT ALERT_ID FROM :old_alerts);
  v_alerts = ::ROWCOUNT;

  old_batches = SELECT BATCH_ID
                  FROM (SELECT BATCH_ID,
                               ROW_NUMBER() OVER (ORDER BY APPLIED_AT, BATCH_ID) AS RN
                          FROM OUTCOME_BATCHES
                         WHERE APPLIED_AT < :v_cutoff) x
                 WHERE RN <= :p_max_rows;
  DELETE FROM OUTCOME_BATCHES WHERE BATCH_ID IN (SELECT BATCH_ID FROM :old_batches);
  v_batches = ::ROWCOUNT;

  old_minutes = SELECT MINUTE_START, MODEL_ID, BUCKET
                  FROM (SELECT MINUTE_START, MODEL_ID, BUCKET,
                               ROW_NUMBER() OVER (ORDER BY MINUTE_START, MODEL_ID, BUCKET) AS RN
                          FROM MODEL_METRICS_MINUTELY
                         WHERE MINUTE_START < ADD_SECONDS(:v_now, -172800)) x
                 WHERE RN <= :p_max_rows;
  DELETE FROM MODEL_METRICS_MINUTELY
   WHERE MINUTE_START < ADD_SECONDS(:v_now, -172800)
     AND EXISTS (SELECT 1 FROM :old_minutes m
                  WHERE m.MINUTE_START = MODEL_METRICS_MINUTELY.MINUTE_START
                    AND m.MODEL_ID = MODEL_METRICS_MINUTELY.MODEL_ID
                    AND m.BUCKET = MODEL_METRICS_MINUTELY.BUCKET);
  v_minutes = ::ROWCOUNT;

  INSERT INTO HISTORY_PURGES (PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
                              LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES)
  VALUES (:v_now, :p_retention_days, :v_cutoff, :v_decisions, :v_outcomes, :v_snapshots,
          :v_alerts, :v_batches);

  SELECT PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES, LOAD_SNAPSHOTS,
         ALERTS, OUTCOME_BATCHES, :v_minutes AS MINUTE_ROLLUPS
    FROM HISTORY_PURGES
   WHERE PURGE_ID = CURRENT_IDENTITY_VALUE();
END;
