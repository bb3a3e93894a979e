-- SP_GET_MODEL_PERFORMANCE: one model over the last p_hours whole hours including the current
-- one (same window and method as SP_GET_ROUTING_STATS), from the hourly rollups.
-- Inputs:  p_model_id (a model of MODELS); p_hours, an integer 1..8760.
-- Returns: one row MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS,
--          P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT; a model
--          without traffic in the window has zero counts and NULL rates and latencies.
-- Errors:  10001 p_hours missing or outside 1..8760; 10004 unknown model.
-- Security: read-only; granted to ROUTER_APP.
CREATE OR REPLACE PROCEDURE SP_GET_MODEL_PERFORMANCE(
    IN p_model_id NVARCHAR(128),
    IN p_hours INTEGER)
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER READS SQL DATA AS
BEGIN
  DECLARE v_from TIMESTAMP;
  DECLARE v_count INTEGER;
  DECLARE v_message NVARCHAR(500);
  IF :p_hours IS NULL OR :p_hours < 1 OR :p_hours > 8760 THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_hours must be an integer between 1 and 8760';
  END IF;
  SELECT COUNT(*) INTO v_count FROM MODELS WHERE MODEL_ID = :p_model_id;
  IF :v_count = 0 THEN
    v_message = 'unknown model ' || COALESCE(:p_model_id, 'NULL');
    SIGNAL SQL_ERROR_CODE 10004 SET MESSAGE_TEXT = :v_message;
  END IF;
  v_from = ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 HOUR', ROUND_DOWN),
                       -3600 * (:p_hours - 1));

  totals = SELECT SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
                  SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
                  SUM(TOKENS_OUT) AS TOKENS_OUT
             FROM MODEL_METRICS_HOURLY
            WHERE MODEL_ID = :p_model_id AND HOUR_START >= :v_from;
  hist = SELECT BUCKET, SUM(SAMPLES) AS SAMPLES
           FROM MODEL_LATENCY_HOURLY
          WHERE MODEL_ID = :p_model_id AND HOUR_START >= :v_from
          GROUP BY BUCKET;
  ranks = SELECT MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
                 MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
                 MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
            FROM (SELECT BUCKET,
                         SUM(SAMPLES) OVER (ORDER BY BUCKET
                                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                           AS CUM,
                         SUM(SAMPLES) OVER () AS N
                    FROM :hist) c;

  SELECT :p_model_id AS MODEL_ID,
         COALESCE(t.REQUESTS, 0) AS REQUESTS,
         COALESCE(t.SUCCESSES, 0) AS SUCCESSES,
         COALESCE(t.REQUESTS - t.SUCCESSES, 0) AS FAILURES,
         TO_DOUBLE(t.SUCCESSES) / t.REQUESTS AS SUCCESS_RATE,
         t.LATENCY_SUM_MS / t.REQUESTS AS AVG_LATENCY_MS,
         CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END
           AS P50_LATENCY_MS,
         CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END
           AS P95_LATENCY_MS,
         CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END
           AS P99_LATENCY_MS,
         COALESCE(t.TOKENS_IN, 0) AS TOKENS_IN,
         COALESCE(t.TOKENS_OUT, 0) AS TOKENS_OUT
    FROM :totals t
   CROSS JOIN :ranks r;
END;
