-- V_MODEL_PERFORMANCE: every catalog model with its performance over the last 7 days (168 whole
-- hours including the current one) from the hourly rollups: requests, successes, failures,
-- success rate, average and p50/p95/p99 latency (histogram, nearest rank, within 2 %), tokens,
-- and the first and last hour with traffic. Models without traffic show zero counts and NULLs.
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_MODEL_PERFORMANCE (
    MODEL_ID, DISPLAY_NAME, PROVIDER, STATUS, COST_PER_1K_TOKENS, REQUESTS, SUCCESSES, FAILURES,
    SUCCESS_RATE, AVG_LATENCY_MS, P50_LATENCY_MS, P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN,
    TOKENS_OUT, FIRST_HOUR, LAST_HOUR
) AS
SELECT m.MODEL_ID,
       m.DISPLAY_NAME,
       m.PROVIDER,
       m.STATUS,
       m.COST_PER_1K_TOKENS,
       COALESCE(t.REQUESTS, 0),
       COALESCE(t.SUCCESSES, 0),
       COALESCE(t.REQUESTS - t.SUCCESSES, 0),
       TO_DOUBLE(t.SUCCESSES) / t.REQUESTS,
       t.LATENCY_SUM_MS / t.REQUESTS,
       CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END,
       CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END,
       CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END,
       COALESCE(t.TOKENS_IN, 0),
       COALESCE(t.TOKENS_OUT, 0),
       t.FIRST_HOUR,
       t.LAST_HOUR
  FROM MODELS m
  LEFT JOIN (SELECT MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
                    SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
                    SUM(TOKENS_OUT) AS TOKENS_OUT, MIN(HOUR_START) AS FIRST_HOUR,
                    MAX(HOUR_START) AS LAST_HOUR
               FROM MODEL_METRICS_HOURLY
              WHERE HOUR_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                           'INTERVAL 1 HOUR', ROUND_DOWN),
                                              -601200)
              GROUP BY MODEL_ID) t
    ON t.MODEL_ID = m.MODEL_ID
  LEFT JOIN (SELECT MODEL_ID,
                    MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
                    MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
                    MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
               FROM (SELECT MODEL_ID, BUCKET,
                            SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                                               ROWS BETWEEN UNBOUNDED PRECEDING
                                                        AND CURRENT ROW) AS CUM,
                            SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
                       FROM (SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
                               FROM MODEL_LATENCY_HOURLY
                              WHERE HOUR_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                           'INTERVAL 1 HOUR',
                                                                           ROUND_DOWN),
                                                              -601200)
                              GROUP BY MODEL_ID, BUCKET) h) c
              GROUP BY MODEL_ID) r
    ON r.MODEL_ID = m.MODEL_ID;
COMMENT ON COLUMN V_MODEL_PERFORMANCE.MODEL_ID IS 'Model (MODELS.MODEL_ID)';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.DISPLAY_NAME IS 'Display name from the catalog';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.PROVIDER IS 'Provider from the catalog';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.STATUS IS 'active, draining or disabled';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.COST_PER_1K_TOKENS IS 'Catalog cost per 1,000 tokens';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.REQUESTS IS 'Outcomes of decisions made in the last 168 whole UTC hours';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.SUCCESSES IS 'Successful outcomes in the window';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.FAILURES IS 'Failed outcomes in the window';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.SUCCESS_RATE IS 'SUCCESSES / REQUESTS (NULL without traffic)';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.AVG_LATENCY_MS IS 'Mean latency in milliseconds (exact)';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.P50_LATENCY_MS IS 'Median latency in ms, histogram nearest rank, within 2 percent';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.P95_LATENCY_MS IS '95th percentile latency in ms, within 2 percent';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.P99_LATENCY_MS IS '99th percentile latency in ms, within 2 percent';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.TOKENS_IN IS 'Prompt tokens in the window';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.TOKENS_OUT IS 'Completion tokens in the window';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.FIRST_HOUR IS 'First hour (UTC) with traffic in the window';
COMMENT ON COLUMN V_MODEL_PERFORMANCE.LAST_HOUR IS 'Last hour (UTC) with traffic in the window';
