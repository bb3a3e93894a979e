-- V_ROUTING_MINUTELY_1H: one row per UTC minute with decisions in the last 60 whole minutes
-- including the current, partial one (MINUTE_START >= start of the current minute - 59 min), read
-- from the raw rows (the decision-time indexes and the current partition bound the cost to the
-- window's rows). Per minute: decisions and cache hits (ROUTING_DECISIONS), outcomes and
-- successes of those decisions (INFERENCE_METRICS), exact nearest-rank p50/p95/p99 latency over
-- the minute's outcomes (the value at rank ceil(q * n / 100) by ROW_NUMBER, as V_MODEL_HEALTH).
-- An outcome counts in the minute of its decision. Minutes without decisions have no row;
-- percentiles are NULL in a minute without outcomes.
-- Inputs: none (window fixed at 60 minutes). Security: read-only; BI surface: SELECT granted to
-- ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_ROUTING_MINUTELY_1H (
    MINUTE_START, DECISIONS, CACHE_HITS, OUTCOMES, SUCCESSES, P50_LATENCY_MS, P95_LATENCY_MS,
    P99_LATENCY_MS
) AS
SELECT d.MINUTE_START,
       d.DECISIONS,
       d.CACHE_HITS,
       COALESCE(o.OUTCOMES, 0),
       COALESCE(o.SUCCESSES, 0),
       o.P50_LATENCY_MS,
       o.P95_LATENCY_MS,
       o.P99_LATENCY_MS
  FROM (SELECT MINUTE_START, COUNT(*) AS DECISIONS, SUM(TO_BIGINT(CACHE_HIT)) AS CACHE_HITS
          FROM (SELECT SERIES_ROUND(DECIDED_AT, 'INTERVAL 1 MINUTE', ROUND_DOWN) AS MINUTE_START,
                       CACHE_HIT
                  FROM ROUTING_DECISIONS
                 WHERE DECIDED_AT >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                              'INTERVAL 1 MINUTE', ROUND_DOWN),
                                                 -3540)) r
         GROUP BY MINUTE_START) d
  LEFT JOIN (SELECT MINUTE_START, COUNT(*) AS OUTCOMES, SUM(TO_BIGINT(SUCCESS)) AS SUCCESSES,
                    MAX(CASE WHEN RN = CEIL(50 * N / 100.0) THEN LATENCY_MS END)
                      AS P50_LATENCY_MS,
                    MAX(CASE WHEN RN = CEIL(95 * N / 100.0) THEN LATENCY_MS END)
                      AS P95_LATENCY_MS,
                    MAX(CASE WHEN RN = CEIL(99 * N / 100.0) THEN LATENCY_MS END)
                      AS P99_LATENCY_MS
               FROM (SELECT MINUTE_START, SUCCESS, LATENCY_MS,
                            ROW_NUMBER() OVER (PARTITION BY MINUTE_START ORDER BY LATENCY_MS)
                              AS RN,
                            COUNT(*) OVER (PARTITION BY MINUTE_START) AS N
                       FROM (SELECT SERIES_ROUND(DECIDED_AT, 'INTERVAL 1 MINUTE', ROUND_DOWN)
                                      AS MINUTE_START,
                                    SUCCESS, LATENCY_MS
                               FROM INFERENCE_METRICS
                              WHERE DECIDED_AT >= ADD_SECONDS(
                                      SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 MINUTE',
                                                   ROUND_DOWN), -3540)) m) w
              GROUP BY MINUTE_START) o
    ON o.MINUTE_START = d.MINUTE_START;
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.MINUTE_START IS 'Start of the UTC minute in which the decisions were made (last 60 whole minutes including the current one)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.DECISIONS IS 'Routing decisions made in that minute';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.CACHE_HITS IS 'Decisions of that minute whose model ranking came from the router cache (CACHE_HIT = 1)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.OUTCOMES IS 'Outcomes recorded so far for the decisions of that minute';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.SUCCESSES IS 'Successful outcomes among OUTCOMES';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.P50_LATENCY_MS IS 'Exact nearest-rank median latency in ms over the outcomes (NULL without outcomes)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.P95_LATENCY_MS IS 'Exact nearest-rank 95th percentile latency in ms over the outcomes (NULL without outcomes)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.P99_LATENCY_MS IS 'Exact nearest-rank 99th percentile latency in ms over the outcomes (NULL without outcomes)';
