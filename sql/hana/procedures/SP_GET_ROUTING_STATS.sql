-- SP_GET_ROUTING_STATS: per model over the last p_hours whole hours including the current one
-- (HOUR_START >= start of the current UTC hour - (p_hours - 1) h), read from the hourly rollups
-- (cost grows with hours x models, not with requests).
-- Inputs:  p_hours, an integer 1..8760.
-- Returns: MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS,
--          P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT for every model
--          with traffic in the window, most requests first. Percentiles: nearest rank on the
--          merged latency histogram, within 2 % of the exact value (docs/ANALYTICS.md).
-- Errors:  10001 p_hours missing or outside 1..8760.
-- Security: read-only; granted to ROUTER_APP.
CREATE OR REPLACE PROCEDURE SP_GET_ROUTING_STATS(IN p_hours INTEGER)
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER READS SQL DATA AS
BEGIN
  DECLARE v_from TIMESTAMP;
  IF :p_hours IS NULL OR :p_hours < 1 OR :p_hours > 8760 THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_hours must be an integer between 1 and 8760';
  END IF;
  v_from = ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 HOUR', ROUND_DOWN),
                       -3600 * (:p_hours - 1));

  totals = SELECT MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
                  SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
                  SUM(TOKENS_OUT) AS TOKENS_OUT
             FROM MODEL_METRICS_HOURLY
            WHERE HOUR_START >= :v_from
            GROUP BY MODEL_ID;
  hist = SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
           FROM MODEL_LATENCY_HOURLY
          WHERE HOUR_START >= :v_from
          GROUP BY MODEL_ID, BUCKET;
  ranks = SELECT MODEL_ID,
                 MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
                 MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
                 MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
            FROM (SELECT MODEL_ID, BUCKET,
                         SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                           AS CUM,
                         SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
                    FROM :hist) c
           GROUP BY MODEL_ID;

  SELECT t.MODEL_ID,
         t.REQUESTS,
         t.SUCCESSES,
         t.REQUESTS - t.SUCCESSES AS FAILURES,
         TO_DOUBLE(t.SUCCESSES) / t.REQUESTS AS SUCCESS_RATE,
         t.LATENCY_SUM_MS / t.REQUESTS AS AVG_LATENCY_MS,
         CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END
           AS P50_LATENCY_MS,
         CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END
           AS P95_LATENCY_MS,
         CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END
           AS P99_LATENCY_MS,
         t.TOKENS_IN,
         t.TOKENS_OUT
    FROM :totals t
    JOIN :ranks r ON r.MODEL_ID = t.MODEL_ID
   WHERE t.REQUESTS > 0
   ORDER BY t.REQUESTS DESC, t.MODEL_ID;
END;
