-- SP_GET_TOP_AGENT_MODEL_PAIRS: the p_limit (agent, model) pairs with the most requests in the
-- last 24 whole hours including the current one (as V_ROUTING_ANALYTICS_24H), from the hourly
-- pair rollups, with their percentiles from the pairs' merged latency histograms (nearest
-- rank, within 2 %; docs/ANALYTICS.md). The ranking sorts only (pair, requests); the chosen
-- pairs' other sums and histograms are then read by key, one lookup per (hour, pair).
-- Inputs:  p_limit, an integer 1..1000.
-- Returns: PAIR_RANK, AGENT_ID, MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE,
--          AVG_LATENCY_MS, P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN,
--          TOKENS_OUT, LAST_HOUR; most requests first (ties by agent, then model).
-- Errors:  10001 p_limit missing or outside 1..1000.
-- Security: read-only; viewer role.
-- params: p_limit
SELECT RAISE_ERROR(10001, 'p_limit must be an integer between 1 and 1000')
 WHERE :p_limit IS NULL OR typeof(:p_limit) <> 'integer' OR :p_limit < 1 OR :p_limit > 1000;

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
             GROUP BY AGENT_ID, MODEL_ID
            HAVING SUM(REQUESTS) > 0
             ORDER BY REQUESTS DESC, AGENT_ID, MODEL_ID
             LIMIT :p_limit)
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
  JOIN ranks r ON r.AGENT_ID = c.AGENT_ID AND r.MODEL_ID = c.MODEL_ID
 ORDER BY c.PAIR_RANK;
