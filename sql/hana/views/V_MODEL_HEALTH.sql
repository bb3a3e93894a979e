-- V_MODEL_HEALTH: every catalog model's recent health for the adaptive router: outcomes of the
-- decisions made in the last 15 whole minutes plus the current, partial one (MINUTE_START >=
-- start of the current minute - 15 min, so 15 to 16 minutes of decisions), read from the
-- per-minute rollup MODEL_METRICS_MINUTELY (maintained by SP_APPLY_OUTCOMES), never from raw
-- rows: requests, successes, failures, success rate, average latency (exact: sum / count) and
-- p95 latency from the latency histogram (nearest rank, the bucket's representative value
-- 1.04^(BUCKET - 0.5), within 2 %: the rule of V_MODEL_PERFORMANCE, docs/ANALYTICS.md). Models
-- without recent traffic show zero requests and NULL rates and latencies.
-- Cost: rows = 16 minutes x models x latency buckets in use, independent of the traffic.
-- Inputs: none (window fixed at 15 minutes). Security: read-only; BI surface.
CREATE OR REPLACE VIEW V_MODEL_HEALTH (
    MODEL_ID, STATUS, WINDOW_MINUTES, REQUESTS, SUCCESSES, FAILURES, SUCCESS_RATE,
    AVG_LATENCY_MS, P95_LATENCY_MS
) AS
SELECT m.MODEL_ID,
       m.STATUS,
       15,
       COALESCE(a.REQUESTS, 0),
       COALESCE(a.SUCCESSES, 0),
       COALESCE(a.REQUESTS - a.SUCCESSES, 0),
       TO_DOUBLE(a.SUCCESSES) / a.REQUESTS,
       a.LATENCY_SUM_MS / a.REQUESTS,
       CASE WHEN a.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), a.B95 - 0.5) END
  FROM MODELS m
  LEFT JOIN (SELECT MODEL_ID, SUM(SAMPLES) AS REQUESTS, SUM(SUCCESSES) AS SUCCESSES,
                    SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS,
                    MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95
               FROM (SELECT MODEL_ID, BUCKET, SAMPLES, SUCCESSES, LATENCY_SUM_MS,
                            SUM(SAMPLES) OVER (PARTITION BY MODEL_ID ORDER BY BUCKET
                                               ROWS BETWEEN UNBOUNDED PRECEDING
                                                        AND CURRENT ROW) AS CUM,
                            SUM(SAMPLES) OVER (PARTITION BY MODEL_ID) AS N
                       FROM (SELECT MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES,
                                    SUM(SUCCESSES) AS SUCCESSES,
                                    SUM(LATENCY_SUM_MS) AS LATENCY_SUM_MS
                               FROM MODEL_METRICS_MINUTELY
                              WHERE MINUTE_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                             'INTERVAL 1 MINUTE',
                                                                             ROUND_DOWN),
                                                                -900)
                              GROUP BY MODEL_ID, BUCKET) h) c
              GROUP BY MODEL_ID) a
    ON a.MODEL_ID = m.MODEL_ID;
COMMENT ON COLUMN V_MODEL_HEALTH.MODEL_ID IS 'Model (MODELS.MODEL_ID)';
COMMENT ON COLUMN V_MODEL_HEALTH.STATUS IS 'Catalog status: active, draining or disabled';
COMMENT ON COLUMN V_MODEL_HEALTH.WINDOW_MINUTES IS 'Window length in whole minutes: decisions since the start of the minute 15 minutes ago (15 to 16 minutes)';
COMMENT ON COLUMN V_MODEL_HEALTH.REQUESTS IS 'Outcomes of decisions made in the window';
COMMENT ON COLUMN V_MODEL_HEALTH.SUCCESSES IS 'Successful outcomes in the window';
COMMENT ON COLUMN V_MODEL_HEALTH.FAILURES IS 'Failed outcomes in the window';
COMMENT ON COLUMN V_MODEL_HEALTH.SUCCESS_RATE IS 'SUCCESSES / REQUESTS (NULL without traffic)';
COMMENT ON COLUMN V_MODEL_HEALTH.AVG_LATENCY_MS IS 'Mean latency in milliseconds (exact)';
COMMENT ON COLUMN V_MODEL_HEALTH.P95_LATENCY_MS IS '95th percentile latency in ms, histogram nearest rank, within 2 percent';
