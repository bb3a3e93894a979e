-- SP_GET_ROUTING_STATS: per model over the last p_hours whole hours including the current one
-- (HOUR_START >= start of the current UTC hour - (p_hours - 1) h), read from the hourly rollups
-- (cost grows with hours x models, not with requests).
-- Inputs:  p_hours, an integer 1..8760.
-- Returns: MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS,
--          P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT for every model
--          with traffic in the window, most requests first. Percentiles: nearest rank on the
--          merged latency histogram, within 2 % of the exact value (docs/ANALYTICS.md).
-- Errors:  10001 p_hours missing or outside 1..8760.
-- Security: read-only; viewer role (ROUTER_APP on HANA).
-- params: p_hours
SELECT RAISE_ERROR(10001, 'p_hours must be an integer between 1 and 8760')
 WHERE :p_hours IS NULL OR typeof(:p_hours) <> 'integer' OR :p_hours < 1 OR :p_hours > 8760;

WITH totals AS (
    SELECT MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
           SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
           SUM(TOKENS_OUT) AS TOKENS_OUT
      FROM MODEL_METRICS_HOURLY
     WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now',
                                  printf('-%d hours', :p_hours - 1))
     GROUP BY MODEL_ID
), hist AS (
    SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
      FROM MODEL_LATENCY_HOURLY
     WHERE HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now',
                                  printf('-%d hours', :p_hours - 1))
     GROUP BY MODEL_ID, BUCKET
), cumulative AS (
    SELECT MODEL_ID, BUCKET,
           SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
      FROM hist
), ranks AS (
    SELECT MODEL_ID,
           MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
     GROUP BY MODEL_ID
)
SELECT t.MODEL_ID,
       t.REQUESTS,
       t.SUCCESSES,
       t.REQUESTS - t.SUCCESSES AS FAILURES,
       CAST(t.SUCCESSES AS REAL) / t.REQUESTS AS SUCCESS_RATE,
       t.LATENCY_SUM_MS / t.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       t.TOKENS_IN,
       t.TOKENS_OUT
  FROM totals t
  JOIN ranks r ON r.MODEL_ID = t.MODEL_ID
 WHERE t.REQUESTS > 0
 ORDER BY t.REQUESTS DESC, t.MODEL_ID;
