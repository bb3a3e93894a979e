-- V_TOP_AGENT_MODEL_PAIRS: the 100 (agent, model) pairs with the most requests in the last 24
-- whole hours including the current one (SP_GET_TOP_AGENT_MODEL_PAIRS takes any limit up to
-- 1000), with success rate, average and p50/p95/p99 latency from the pairs' merged histograms
-- (nearest rank, within 2 %) and tokens. PAIR_RANK 1 = most requests. Hours after the next one
-- (a worker's clock far ahead) count nowhere: ranking and figures read the same 25 hours.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_TOP_AGENT_MODEL_PAIRS AS
WITH RECURSIVE hours (HOUR_START, K) AS (
    -- the 24 hours of the window and the next one (a worker's clock may run slightly ahead),
    -- so the lookups below see every row the ranking's HOUR_START >= ... counts
    SELECT strftime('%Y-%m-%d %H:00:00.000000', 'now', '-23 hours'), 0
    UNION ALL
    SELECT strftime('%Y-%m-%d %H:00:00.000000', HOUR_START, '+1 hour'), K + 1
      FROM hours
     WHERE K < 24
), chosen AS (
    SELECT AGENT_ID, MODEL_ID, REQUESTS,
           ROW_NUMBER() OVER (ORDER BY REQUESTS DESC, AGENT_ID, MODEL_ID) AS PAIR_RANK
      FROM (SELECT AGENT_ID, MODEL_ID, SUM(REQUESTS) AS REQUESTS
              FROM AGENT_MODEL_METRICS_HOURLY
             WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now', '-23 hours')
               AND HOUR_START < strftime('%Y-%m-%d %H:00:00.000000', 'now', '+2 hours')
             GROUP BY AGENT_ID, MODEL_ID
            HAVING SUM(REQUESTS) > 0
             ORDER BY REQUESTS DESC, AGENT_ID, MODEL_ID
             LIMIT 100)
), totals AS (
    SELECT c.AGENT_ID, c.MODEL_ID, SUM(m.SUCCESSES) AS SUCCESSES,
           SUM(m.LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(m.TOKENS_IN) AS TOKENS_IN,
           SUM(m.TOKENS_OUT) AS TOKENS_OUT, MAX(m.HOUR_START) AS LAST_HOUR
      FROM chosen c
     CROSS JOIN hours h
      JOIN AGENT_MODEL_METRICS_HOURLY m
        ON m.HOUR_START = h.HOUR_START AND m.AGENT_ID = c.AGENT_ID AND m.MODEL_ID = c.MODEL_ID
     GROUP BY c.AGENT_ID, c.MODEL_ID
), hist AS (
    SELECT c.AGENT_ID, c.MODEL_ID, l.BUCKET, SUM(l.SAMPLES) AS SAMPLES
      FROM chosen c
     CROSS JOIN hours h
      JOIN AGENT_MODEL_LATENCY_HOURLY l
        ON l.HOUR_START = h.HOUR_START AND l.AGENT_ID = c.AGENT_ID AND l.MODEL_ID = c.MODEL_ID
     GROUP BY c.AGENT_ID, c.MODEL_ID, l.BUCKET
), cumulative AS (
    SELECT AGENT_ID, MODEL_ID, BUCKET,
           SUM(SAMPLES) OVER (PARTITION BY AGENT_ID, MODEL_ID ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY AGENT_ID, MODEL_ID) AS N
      FROM hist
), ranks AS (
    SELECT AGENT_ID, MODEL_ID,
           MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
     GROUP BY AGENT_ID, MODEL_ID
)
SELECT c.PAIR_RANK,
       c.AGENT_ID,
       c.MODEL_ID,
       c.REQUESTS,
       t.SUCCESSES,
       c.REQUESTS - t.SUCCESSES AS FAILURES,
       CAST(t.SUCCESSES AS REAL) / c.REQUESTS AS SUCCESS_RATE,
       t.LATENCY_SUM_MS / c.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       t.TOKENS_IN,
       t.TOKENS_OUT,
       t.LAST_HOUR
  FROM chosen c
  JOIN totals t ON t.AGENT_ID = c.AGENT_ID AND t.MODEL_ID = c.MODEL_ID
  JOIN ranks r ON r.AGENT_ID = c.AGENT_ID AND r.MODEL_ID = c.MODEL_ID;
