-- SP_GET_MODEL_PERFORMANCE: one model over the last p_hours whole hours including the current
-- one (same window and method as SP_GET_ROUTING_STATS), from the hourly rollups.
-- Inputs:  p_model_id (a model of MODELS); p_hours, an integer 1..8760.
-- Returns: one row MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS,
--          P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT; a model
--          without traffic in the window has zero counts and NULL rates and latencies.
-- Errors:  10001 p_hours missing or outside 1..8760; 10004 unknown model.
-- Security: read-only; viewer role.
-- params: p_model_id, p_hours
SELECT RAISE_ERROR(10001, 'p_hours must be an integer between 1 and 8760')
 WHERE :p_hours IS NULL OR typeof(:p_hours) <> 'integer' OR :p_hours < 1 OR :p_hours > 8760;

SELECT RAISE_ERROR(10004, 'unknown model ' || COALESCE(:p_model_id, 'NULL'))
 WHERE NOT EXISTS (SELECT 1 FROM MODELS WHERE MODEL_ID = :p_model_id);

WITH totals AS (
    SELECT SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
           SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
           SUM(TOKENS_OUT) AS TOKENS_OUT
      FROM MODEL_METRICS_HOURLY
     WHERE MODEL_ID = :p_model_id
       AND HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now',
                                  printf('-%d hours', :p_hours - 1))
), hist AS (
    SELECT BUCKET, SUM(SAMPLES) AS SAMPLES
      FROM MODEL_LATENCY_HOURLY
     WHERE MODEL_ID = :p_model_id
       AND HOUR_START >= strftime('%Y-%m-%d %H:00:00.000000', 'now',
                                  printf('-%d hours', :p_hours - 1))
     GROUP BY BUCKET
), cumulative AS (
    SELECT BUCKET,
           SUM(SAMPLES) OVER (ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER () AS N
      FROM hist
), ranks AS (
    SELECT MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
)
SELECT :p_model_id AS MODEL_ID,
       COALESCE(t.REQUESTS, 0) AS REQUESTS,
       COALESCE(t.SUCCESSES, 0) AS SUCCESSES,
       COALESCE(t.REQUESTS - t.SUCCESSES, 0) AS FAILURES,
       CAST(t.SUCCESSES AS REAL) / t.REQUESTS AS SUCCESS_RATE,
       t.LATENCY_SUM_MS / t.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       COALESCE(t.TOKENS_IN, 0) AS TOKENS_IN,
       COALESCE(t.TOKENS_OUT, 0) AS TOKENS_OUT
  FROM totals t
 CROSS JOIN ranks r;
