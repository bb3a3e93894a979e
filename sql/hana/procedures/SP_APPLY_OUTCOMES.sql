-- SP_APPLY_OUTCOMES: folds one batch of outcomes into the assignment counters and the rollups.
-- Inputs:  p_batch_id - the BATCH_ID of INFERENCE_METRICS rows inserted earlier in the same
--          transaction by the writer (store.save_metrics_batch).
-- Returns: one row (BATCH_ID, OUTCOMES): how many outcomes were applied.
-- Set-based: the batch is read once into a table variable (with its hour, minute and histogram
-- bucket), then one MERGE per target table from an aggregate of it; never a loop over rows.
-- Rollup hour = the hour of the decision (DECIDED_AT), rollup minute (MODEL_METRICS_MINUTELY, for
-- the live windows) = its minute, only for decisions of the last 1440 whole minutes (the longest
-- window; older ones could never be read). Histogram bucket = CEIL(LN(latency_ms) / LN(1.04));
-- latency < 0.001 ms -> bucket -32768.
-- Concurrency: two writers that MERGE the same new rollup key at once make the later INSERT
-- fail with a unique violation (301); store.save_metrics_batch retries the whole transaction,
-- which then takes the WHEN MATCHED branch.
-- Errors:  10001 p_batch_id is missing; 10007 the batch was applied before (a reused batch id
--          would count its outcomes twice).
-- Security: writes counters and rollups; granted to ROUTER_APP. Does not commit.
CREATE OR REPLACE PROCEDURE SP_APPLY_OUTCOMES(IN p_batch_id NVARCHAR(128))
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER AS
BEGIN
  DECLARE v_seen INTEGER;
  DECLARE v_applied BIGINT;
  DECLARE v_message NVARCHAR(500);
  IF :p_batch_id IS NULL THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_batch_id is required';
  END IF;
  SELECT COUNT(*) INTO v_seen FROM OUTCOME_BATCHES WHERE BATCH_ID = :p_batch_id;
  IF :v_seen > 0 THEN
    v_message = 'batch ' || :p_batch_id || ' was already applied';
    SIGNAL SQL_ERROR_CODE 10007 SET MESSAGE_TEXT = :v_message;
  END IF;

  batch = SELECT m.MODEL_ID, m.AGENT_ID, TO_BIGINT(m.SUCCESS) AS SUCCESS, m.LATENCY_MS,
                 m.RECORDED_AT,
                 COALESCE(m.TOKENS_IN, 0) AS TOKENS_IN,
                 COALESCE(m.TOKENS_OUT, 0) AS TOKENS_OUT,
                 SERIES_ROUND(m.DECIDED_AT, 'INTERVAL 1 HOUR', ROUND_DOWN) AS HOUR_START,
                 SERIES_ROUND(m.DECIDED_AT, 'INTERVAL 1 MINUTE', ROUND_DOWN) AS MINUTE_START,
                 CASE WHEN m.LATENCY_MS < 0.001 THEN -32768
                      ELSE TO_INTEGER(CEIL(LN(m.LATENCY_MS) / LN(TO_DOUBLE(1.04)))) END AS BUCKET,
                 d.ASSIGNMENT_ID
            FROM INFERENCE_METRICS m
            JOIN ROUTING_DECISIONS d
              ON d.DECISION_ID = m.DECISION_ID AND d.DECIDED_AT = m.DECIDED_AT
           WHERE m.BATCH_ID = :p_batch_id;

  SELECT COUNT(*) INTO v_applied FROM :batch;
  INSERT INTO OUTCOME_BATCHES (BATCH_ID, APPLIED_AT, OUTCOMES)
  VALUES (:p_batch_id, CURRENT_UTCTIMESTAMP, :v_applied);

  MERGE INTO AGENT_MODEL_ASSIGNMENTS t
  USING (SELECT ASSIGNMENT_ID, COUNT(*) AS N, SUM(SUCCESS) AS S, SUM(LATENCY_MS) AS L,
                MAX(RECORDED_AT) AS LAST_AT
           FROM :batch
          WHERE ASSIGNMENT_ID IS NOT NULL
          GROUP BY ASSIGNMENT_ID) s
     ON t.ASSIGNMENT_ID = s.ASSIGNMENT_ID
   WHEN MATCHED THEN UPDATE SET
        TOTAL_REQUESTS = t.TOTAL_REQUESTS + s.N,
        SUCCESS_COUNT = t.SUCCESS_COUNT + s.S,
        FAILURE_COUNT = t.FAILURE_COUNT + s.N - s.S,
        TOTAL_LATENCY_MS = t.TOTAL_LATENCY_MS + s.L,
        AVG_LATENCY_MS = (t.TOTAL_LATENCY_MS + s.L) / (t.TOTAL_REQUESTS + s.N),
        LAST_USED_AT = GREATEST(COALESCE(t.LAST_USED_AT, s.LAST_AT), s.LAST_AT);

  MERGE INTO MODEL_METRICS_HOURLY t
  USING (SELECT HOUR_START, MODEL_ID, COUNT(*) AS REQUESTS, SUM(SUCCESS) AS SUCCESSES,
                SUM(LATENCY_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
                SUM(TOKENS_OUT) AS TOKENS_OUT
           FROM :batch
          GROUP BY HOUR_START, MODEL_ID) s
     ON t.HOUR_START = s.HOUR_START AND t.MODEL_ID = s.MODEL_ID
   WHEN MATCHED THEN UPDATE SET
        REQUESTS = t.REQUESTS + s.REQUESTS,
        SUCCESSES = t.SUCCESSES + s.SUCCESSES,
        LATENCY_SUM_MS = t.LATENCY_SUM_MS + s.LATENCY_SUM_MS,
        TOKENS_IN = t.TOKENS_IN + s.TOKENS_IN,
        TOKENS_OUT = t.TOKENS_OUT + s.TOKENS_OUT
   WHEN NOT MATCHED THEN INSERT
        (HOUR_START, MODEL_ID, REQUESTS, SUCCESSES, LATENCY_SUM_MS, TOKENS_IN, TOKENS_OUT)
        VALUES (s.HOUR_START, s.MODEL_ID, s.REQUESTS, s.SUCCESSES, s.LATENCY_SUM_MS,
                s.TOKENS_IN, s.TOKENS_OUT);

  MERGE INTO MODEL_LATENCY_HOURLY t
  USING (SELECT HOUR_START, MODEL_ID, BUCKET, COUNT(*) AS SAMPLES
           FROM :batch
          GROUP BY HOUR_START, MODEL_ID, BUCKET) s
     ON t.HOUR_START = s.HOUR_START AND t.MODEL_ID = s.MODEL_ID AND t.BUCKET = s.BUCKET
   WHEN MATCHED THEN UPDATE SET SAMPLES = t.SAMPLES + s.SAMPLES
   WHEN NOT MATCHED THEN INSERT (HOUR_START, MODEL_ID, BUCKET, SAMPLES)
        VALUES (s.HOUR_START, s.MODEL_ID, s.BUCKET, s.SAMPLES);

  MERGE INTO MODEL_METRICS_MINUTELY t
  USING (SELECT MINUTE_START, MODEL_ID, BUCKET, COUNT(*) AS SAMPLES, SUM(SUCCESS) AS SUCCESSES,
                SUM(LATENCY_MS) AS LATENCY_SUM_MS
           FROM :batch
          WHERE MINUTE_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 MINUTE',
                                                         ROUND_DOWN), -86400)
          GROUP BY MINUTE_START, MODEL_ID, BUCKET) s
     ON t.MINUTE_START = s.MINUTE_START AND t.MODEL_ID = s.MODEL_ID AND t.BUCKET = s.BUCKET
   WHEN MATCHED THEN UPDATE SET
        SAMPLES = t.SAMPLES + s.SAMPLES,
        SUCCESSES = t.SUCCESSES + s.SUCCESSES,
        LATENCY_SUM_MS = t.LATENCY_SUM_MS + s.LATENCY_SUM_MS
   WHEN NOT MATCHED THEN INSERT
        (MINUTE_START, MODEL_ID, BUCKET, SAMPLES, SUCCESSES, LATENCY_SUM_MS)
        VALUES (s.MINUTE_START, s.MODEL_ID, s.BUCKET, s.SAMPLES, s.SUCCESSES, s.LATENCY_SUM_MS);

  MERGE INTO AGENT_MODEL_METRICS_HOURLY t
  USING (SELECT HOUR_START, AGENT_ID, MODEL_ID, COUNT(*) AS REQUESTS,
                SUM(SUCCESS) AS SUCCESSES, SUM(LATENCY_MS) AS LATENCY_SUM_MS,
                SUM(TOKENS_IN) AS TOKENS_IN, SUM(TOKENS_OUT) AS TOKENS_OUT
           FROM :batch
          GROUP BY HOUR_START, AGENT_ID, MODEL_ID) s
     ON t.HOUR_START = s.HOUR_START AND t.AGENT_ID = s.AGENT_ID AND t.MODEL_ID = s.MODEL_ID
   WHEN MATCHED THEN UPDATE SET
        REQUESTS = t.REQUESTS + s.REQUESTS,
        SUCCESSES = t.SUCCESSES + s.SUCCESSES,
        LATENCY_SUM_MS = t.LATENCY_SUM_MS + s.LATENCY_SUM_MS,
        TOKENS_IN = t.TOKENS_IN + s.TOKENS_IN,
        TOKENS_OUT = t.TOKENS_OUT + s.TOKENS_OUT
   WHEN NOT MATCHED THEN INSERT
        (HOUR_START, AGENT_ID, MODEL_ID, REQUESTS, SUCCESSES, LATENCY_SUM_MS, TOKENS_IN,
         TOKENS_OUT)
        VALUES (s.HOUR_START, s.AGENT_ID, s.MODEL_ID, s.REQUESTS, s.SUCCESSES,
                s.LATENCY_SUM_MS, s.TOKENS_IN, s.TOKENS_OUT);

  MERGE INTO AGENT_MODEL_LATENCY_HOURLY t
  USING (SELECT HOUR_START, AGENT_ID, MODEL_ID, BUCKET, COUNT(*) AS SAMPLES
           FROM :batch
          GROUP BY HOUR_START, AGENT_ID, MODEL_ID, BUCKET) s
     ON t.HOUR_START = s.HOUR_START AND t.AGENT_ID = s.AGENT_ID AND t.MODEL_ID = s.MODEL_ID
        AND t.BUCKET = s.BUCKET
   WHEN MATCHED THEN UPDATE SET SAMPLES = t.SAMPLES + s.SAMPLES
   WHEN NOT MATCHED THEN INSERT (HOUR_START, AGENT_ID, MODEL_ID, BUCKET, SAMPLES)
        VALUES (s.HOUR_START, s.AGENT_ID, s.MODEL_ID, s.BUCKET, s.SAMPLES);

  SELECT :p_batch_id AS BATCH_ID, :v_applied AS OUTCOMES FROM DUMMY;
END;
