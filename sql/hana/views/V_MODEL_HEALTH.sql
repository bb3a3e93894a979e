-- V_MODEL_HEALTH: every catalog model's recent health for the adaptive router: outcomes of the
-- decisions made in the last 15 minutes (raw INFERENCE_METRICS; the time index and the current
-- partition bound the cost to the window's rows): requests, successes, failures, success rate,
-- average latency and exact p95 latency (nearest rank). Models without recent traffic show
-- zero requests and NULL rates and latencies.
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
       a.AVG_LATENCY_MS,
       a.P95_LATENCY_MS
  FROM MODELS m
  LEFT JOIN (SELECT MODEL_ID, COUNT(*) AS REQUESTS, SUM(TO_BIGINT(SUCCESS)) AS SUCCESSES,
                    AVG(LATENCY_MS) AS AVG_LATENCY_MS,
                    MAX(CASE WHEN RN = CEIL(95 * N / 100.0) THEN LATENCY_MS END)
                      AS P95_LATENCY_MS
               FROM (SELECT MODEL_ID, SUCCESS, LATENCY_MS,
                            ROW_NUMBER() OVER (PARTITION BY MODEL_ID ORDER BY LATENCY_MS)
                              AS RN,
                            COUNT(*) OVER (PARTITION BY MODEL_ID) AS N
                       FROM INFERENCE_METRICS
                      WHERE DECIDED_AT >= ADD_SECONDS(CURRENT_UTCTIMESTAMP, -900)) w
              GROUP BY MODEL_ID) a
    ON a.MODEL_ID = m.MODEL_ID;
COMMENT ON COLUMN V_MODEL_HEALTH.MODEL_ID IS 'Model (MODELS.MODEL_ID)';
COMMENT ON COLUMN V_MODEL_HEALTH.STATUS IS 'Catalog status: active, draining or disabled';
COMMENT ON COLUMN V_MODEL_HEALTH.WINDOW_MINUTES IS 'Window length in minutes (decision time, up to now)';
COMMENT ON COLUMN V_MODEL_HEALTH.REQUESTS IS 'Outcomes of decisions made in the window';
COMMENT ON COLUMN V_MODEL_HEALTH.SUCCESSES IS 'Successful outcomes in the window';
COMMENT ON COLUMN V_MODEL_HEALTH.FAILURES IS 'Failed outcomes in the window';
COMMENT ON COLUMN V_MODEL_HEALTH.SUCCESS_RATE IS 'SUCCESSES / REQUESTS (NULL without traffic)';
COMMENT ON COLUMN V_MODEL_HEALTH.AVG_LATENCY_MS IS 'Mean latency in milliseconds';
COMMENT ON COLUMN V_MODEL_HEALTH.P95_LATENCY_MS IS 'Exact nearest-rank 95th percentile latency in ms';
