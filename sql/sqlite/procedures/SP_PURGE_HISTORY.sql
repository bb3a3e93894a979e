-- SP_PURGE_HISTORY: deletes one bounded step of raw history older than p_retention_days days: the
-- p_max_rows oldest decisions (by DECIDED_AT, then DECISION_ID) with exactly their outcomes, and
-- at most p_max_rows of each of: load snapshots, resolved alerts (by resolution time) and applied
-- batch records, oldest first. Rollups, counters, open alerts and the catalog are kept, except the
-- per-minute rollup MODEL_METRICS_MINUTELY, which serves only the live windows (V_MODEL_HEALTH,
-- alert rules of up to 1440 minutes): at most p_max_rows of its rows older than 2 days are
-- deleted whatever p_retention_days is (the hourly rollups keep those outcomes).
-- One call is one short transaction of the caller (the write lock is held for one step only);
-- store.purge_history_in_steps calls it until a step deletes fewer than p_max_rows of every table.
-- The decisions of the step are chosen once, into the connection's TEMP table PURGE_DECISIONS
-- (created on first use, emptied and refilled here; the HANA twin uses a table variable), so the
-- outcomes and the decisions deleted are the same set. Counts are the rows each DELETE removed
-- (changes()), written into this call's HISTORY_PURGES row.
-- Inputs:  p_retention_days, an integer 1..3650; p_max_rows, an integer >= 1.
-- Returns: one row: PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
--          LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES (rows deleted by this call), also kept in
--          HISTORY_PURGES (one row per call, empty calls included), and MINUTE_ROLLUPS
--          (MODEL_METRICS_MINUTELY rows deleted; returned only, not kept).
-- Errors:  10001 p_retention_days missing or outside 1..3650, or p_max_rows missing or < 1.
-- Security: deletes raw rows; ROUTER_APP (maintenance job).
-- params: p_retention_days, p_max_rows
SELECT RAISE_ERROR(10001, 'p_retention_days must be an integer between 1 and 3650')
 WHERE :p_retention_days IS NULL OR typeof(:p_retention_days) <> 'integer'
    OR :p_retention_days < 1 OR :p_retention_days > 3650;

SELECT RAISE_ERROR(10001, 'p_max_rows must be an integer of at least 1')
 WHERE :p_max_rows IS NULL OR typeof(:p_max_rows) <> 'integer' OR :p_max_rows < 1;

-- the cutoff is computed once, here, and read back by every step below; counts start at 0
INSERT INTO HISTORY_PURGES (PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES,
                            LOAD_SNAPSHOTS, ALERTS, OUTCOME_BATCHES)
VALUES (strftime('%Y-%m-%d %H:%M:%f000', 'now'), :p_retention_days,
        strftime('%Y-%m-%d %H:%M:%f000', 'now', printf('-%d days', :p_retention_days)),
        0, 0, 0, 0, 0);

CREATE TEMP TABLE IF NOT EXISTS PURGE_DECISIONS (
    DECISION_ID  TEXT  NOT NULL PRIMARY KEY
);

DELETE FROM temp.PURGE_DECISIONS;

-- IX_DECISIONS_DECIDED_AT: reads the oldest rows only, stops after p_max_rows
INSERT INTO temp.PURGE_DECISIONS (DECISION_ID)
SELECT DECISION_ID
  FROM ROUTING_DECISIONS
 WHERE DECIDED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                      WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES))
 ORDER BY DECIDED_AT, DECISION_ID
 LIMIT :p_max_rows;

-- outcomes first: INFERENCE_METRICS.DECISION_ID references ROUTING_DECISIONS
DELETE FROM INFERENCE_METRICS
 WHERE DECISION_ID IN (SELECT DECISION_ID FROM temp.PURGE_DECISIONS);

UPDATE HISTORY_PURGES SET OUTCOMES = changes()
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);

DELETE FROM ROUTING_DECISIONS
 WHERE DECISION_ID IN (SELECT DECISION_ID FROM temp.PURGE_DECISIONS);

UPDATE HISTORY_PURGES SET DECISIONS = changes()
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);

-- IX_LOAD_SNAPSHOTS_TIME holds (SNAPSHOT_AT, MODEL_ID, SOURCE): the order needs no sort
DELETE FROM LOAD_SNAPSHOTS
 WHERE (MODEL_ID, SNAPSHOT_AT, SOURCE) IN (
        SELECT MODEL_ID, SNAPSHOT_AT, SOURCE
          FROM LOAD_SNAPSHOTS
         WHERE SNAPSHOT_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                               WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES))
         ORDER BY SNAPSHOT_AT, MODEL_ID, SOURCE
         LIMIT :p_max_rows);

UPDATE HISTORY_PURGES SET LOAD_SNAPSHOTS = changes()
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);

DELETE FROM ALERTS
 WHERE ALERT_ID IN (
        SELECT ALERT_ID
          FROM ALERTS
         WHERE STATE = 'resolved'
           AND RESOLVED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                               WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES))
         ORDER BY RESOLVED_AT, ALERT_ID
         LIMIT :p_max_rows);

UPDATE HISTORY_PURGES SET ALERTS = changes()
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);

DELETE FROM OUTCOME_BATCHES
 WHERE BATCH_ID IN (
        SELECT BATCH_ID
          FROM OUTCOME_BATCHES
         WHERE APPLIED_AT < (SELECT CUTOFF FROM HISTORY_PURGES
                              WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES))
         ORDER BY APPLIED_AT, BATCH_ID
         LIMIT :p_max_rows);

UPDATE HISTORY_PURGES SET OUTCOME_BATCHES = changes()
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);

-- the primary key's order: a range at the start of the table
DELETE FROM MODEL_METRICS_MINUTELY
 WHERE (MINUTE_START, MODEL_ID, BUCKET) IN (
        SELECT MINUTE_START, MODEL_ID, BUCKET
          FROM MODEL_METRICS_MINUTELY
         WHERE MINUTE_START < strftime('%Y-%m-%d %H:%M:%f000', 'now', '-2 days')
         ORDER BY MINUTE_START, MODEL_ID, BUCKET
         LIMIT :p_max_rows);

-- must follow the minute rollup's DELETE directly: changes() is that statement's count
SELECT PURGE_ID, PURGED_AT, RETENTION_DAYS, CUTOFF, DECISIONS, OUTCOMES, LOAD_SNAPSHOTS, ALERTS,
       OUTCOME_BATCHES, changes() AS MINUTE_ROLLUPS
  FROM HISTORY_PURGES
 WHERE PURGE_ID = (SELECT MAX(PURGE_ID) FROM HISTORY_PURGES);
