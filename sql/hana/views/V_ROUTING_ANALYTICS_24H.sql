-- V_ROUTING_ANALYTICS_24H: per model, the last 24 whole hours including the current one
-- (HOUR_START >= start of the current UTC hour - 23 h), from the hourly rollups: requests,
-- successes, failures, success rate, average latency, p50/p95/p99 latency from the merged
-- histograms (nearest rank, within 2 % of the exact value; docs/ANALYTICS.md), tokens.
-- Only models with traffic in the window appear. Inputs: none (window fixed at 24 h).
-- Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_ROUTING_ANALYTICS_24H (
    MODEL_ID, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE, AVG_LATENCY_MS, P50_LATENCY_MS,
    P95_LATENCY_MS, P99_LATENCY_MS, TOKENS_IN, TOKENS_OUT
) AS
SELECT t.MODEL_ID,
       t.REQUESTS,
       t.SUCCESSES,
       t.REQUESTS - t.SUCCESSES,
       TO_DOUBLE(t.SUCCESSES) / t.REQUESTS,
       t.LATENCY_SUM_MS / t.REQUESTS,
       CASE WHEN r.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B50 - 0.5) END,
       CASE WHEN r.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B95 - 0.5) END,
       CASE WHEN r.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), r.B99 - 0.5) END,
       t.TOKENS_IN,
       t.TOKENS_OUT
  FROM (SELECT MODEL_ID, SUM(REQUESTS) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
               SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS, SUM(TOKENS_IN) AS TOKENS_IN,
               SUM(TOKENS_OUT) AS TOKENS_OUT
          FROM MODEL_METRICS_HOURLY
         WHERE HOUR_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 HOUR',
                                                      ROUND_DOWN), -82800)
         GROUP BY MODEL_ID) t
  JOIN (SELECT MODEL_ID,
               MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
               MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
               MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
          FROM (SELECT MODEL_ID, BUCKET,
                       SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                         AS CUM,
                       SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
                  FROM (SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES
                          FROM MODEL_LATENCY_HOURLY
                         WHERE HOUR_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                      'INTERVAL 1 HOUR',
                                                                      ROUND_DOWN), -82800)
                         GROUP BY MODEL_ID, BUCKET) h) c
         GROUP BY MODEL_ID) r
    ON r.MODEL_ID = t.MODEL_ID
 WHERE t.REQUESTS > 0;
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.MODEL_ID IS 'Model (MODELS.MODEL_ID)';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.REQUESTS IS 'Outcomes of decisions made in the last 24 whole UTC hours';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.SUCCESSES IS 'Successful outcomes in the window';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.FAILURES IS 'Failed outcomes in the window';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.SUCCESS_RATE IS 'SUCCESSES / REQUESTS';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.AVG_LATENCY_MS IS 'Mean latency in milliseconds (exact)';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.P50_LATENCY_MS IS 'Median latency in ms, nearest rank on the histogram, within 2 percent';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.P95_LATENCY_MS IS '95th percentile latency in ms, nearest rank on the histogram, within 2 percent';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.P99_LATENCY_MS IS '99th percentile latency in ms, nearest rank on the histogram, within 2 percent';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.TOKENS_IN IS 'Prompt tokens (missing counts as 0)';
COMMENT ON COLUMN V_ROUTING_ANALYTICS_24H.TOKENS_OUT IS 'Completion tokens (missing counts as 0)';
