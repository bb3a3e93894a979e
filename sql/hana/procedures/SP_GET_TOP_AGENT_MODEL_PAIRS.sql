-- SP_GET_TOP_AGENT_MODEL_PAIRS: the p_limit (agent, model) pairs with the most requests in the
-- last 24 whole hours including the current one (as V_ROUTING_ANALYTICS_24H), from the hourly
-- pair rollups, with their percentiles from the pairs' merged latency histograms (nearest
-- rank, within 2 %; docs/ANALYTICS.md). Only the chosen pairs' histogram rows are read.
-- Inputs:  p_limit, an integer 1..1000.
-- Returns: PAIR_RANK, AGENT_ID, MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE,
--          AVG_LATENCY_MS, P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN,
--          TOKENS_OUT, LAST_HOUR; most requests first (ties by agent, then model).
-- Errors:  10001 p_limit missing or outside 1..1000.
-- Security: read-only; granted to ROUTER_APP.
CREATE OR REPLACE PROCEDURE SP_GET_TOP_AGENT_MODEL_PAIRS(IN p_limit INTEGER)
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER READS SQL DATA AS
BEGIN
  DECLARE v_from TIMESTAMP;
  IF :p_limit IS NULL OR :p_limit < 1 OR :p_limit > 1000 THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_limit must be an integer between 1 and 1000';
  END IF;
  v_from = ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 HOUR', ROUND_DOWN),
                       -3600 * 23);

  pairs = SELECT AGENT_ID, MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
                 SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
                 SUM(TOKENS_OUT) AS TOKENS_OUT, MAX(HOUR_START) AS LAST_HOUR
            FROM AGENT_MODEL_METRICS_HOURLY
           WHERE HOUR_START >= :v_from
           GROUP BY AGENT_ID, MODEL_ID;
  chosen = SELECT *
             FROM (SELECT p.*,
                          ROW_NUMBER() OVER (ORDER BY REQUESTS DESC, AGENT_ID,
                                                      MODEL_ID) AS PAIR_RANK
                     FROM :pairs p
                    WHERE REQUESTS > 0) x
            WHERE PAIR_RANK <= :p_limit;
  hist = SELECT l.AGENT_ID, l.MODEL_ID, l.BUCKET, SUM(l.SAMPLES) AS SAMPLES
           FROM :chosen c
           JOIN AGENT_MODEL_LATENCY_HOURLY l
             ON l.AGENT_ID = c.AGENT_ID AND l.MODEL_ID = c.MODEL_ID AND l.HOUR_START >= :v_from
          GROUP BY l.AGENT_ID, l.MODEL_ID, l.BUCKET;
  ranks = SELECT AGENT_ID, MODEL_ID,
                 MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
                 MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
                 MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
            FROM (SELECT AGENT_ID, MODEL_ID, BUCKET,
                         SUM(SAMPLES) OVER (PARTITION BY AGENT_ID, MODEL_ID ORDER BY BUCKET
                                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                           AS CUM,
                         SUM(SAMPLES) OVER (PARTITION BY AGENT_ID, MODEL_ID) AS N
                    FROM :hist) c
           GROUP BY AGENT_ID, MODEL_ID;

  SELECT c.PAIR_RANK,
         c.AGENT_ID,
         c.MODEL_ID,
         c.REQUESTS,
         c.SUCCESSES,
         c.REQUESTS - c.SUCCESSES AS FAILURES,
         TO_DOUBLE(c.SUCCESSES) / c.REQUESTS AS SUCCESS_RATE,
         c.LATENCY_SUM_MS / c.REQUESTS AS AVG_LATENCY_MS,
         CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END
           AS P50_LATENCY_MS,
         CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END
           AS P95_LATENCY_MS,
         CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END
           AS P99_LATENCY_MS,
         c.TOKENS_IN,
         c.TOKENS_OUT,
         c.LAST_HOUR
    FROM :chosen c
    JOIN :ranks r ON r.AGENT_ID = c.AGENT_ID AND r.MODEL_ID = c.MODEL_ID
   ORDER BY c.PAIR_RANK;
END;
