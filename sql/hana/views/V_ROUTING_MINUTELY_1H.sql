-- V_ROUTING_MINUTELY_1H: one row per UTC minute with decisions in the last 60 whole minutes
-- including the current, partial one (MINUTE_START >= start of the current minute - 59 min).
-- Per minute: decisions and cache hits, counted on ROUTING_DECISIONS; outcomes and successes of
-- those decisions and p50/p95/p99 latency from the per-minute rollup MODEL_METRICS_MINUTELY
-- (maintained by SP_APPLY_OUTCOMES), summed over the models, never from raw outcomes: counts
-- exact, percentiles from the minute's summed latency histogram (nearest rank, the bucket's
-- representative value 1.04^(BUCKET - 0.5), within 2 %: the rule of V_MODEL_HEALTH and
-- V_ALERT_OBSERVATIONS, docs/ANALYTICS.md). An outcome counts in the minute of its decision.
-- Minutes without decisions have no row; percentiles are NULL in a minute without outcomes.
-- Decisions dated after the next minute (a worker's clock far ahead) are in no row.
-- Cost: a count and a sum over the window's decisions, two columns of the current partition of
-- the column table (SQLite counts one range of its IX_DECISIONS_DECIDED_AT per minute instead;
-- the column store needs no index for this); plus 60 minutes x models x latency buckets in use
-- of the rollup, independent of the traffic.
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
       CASE WHEN o.B50 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), o.B50 - 0.5) END,
       CASE WHEN o.B95 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), o.B95 - 0.5) END,
       CASE WHEN o.B99 = -32768 THEN 0 ELSE POWER(TO_DOUBLE(1.04), o.B99 - 0.5) END
  FROM (SELECT MINUTE_START, COUNT(*) AS DECISIONS, SUM(TO_BIGINT(CACHE_HIT)) AS CACHE_HITS
          FROM (SELECT SERIES_ROUND(DECIDED_AT, 'INTERVAL 1 MINUTE', ROUND_DOWN) AS MINUTE_START,
                       CACHE_HIT
                  FROM ROUTING_DECISIONS
                 WHERE DECIDED_AT >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                              'INTERVAL 1 MINUTE', ROUND_DOWN),
                                                 -3540)
                   -- and before the end of the next minute (a worker's clock may run slightly
                   -- ahead), as the SQLite twin: a clock far ahead adds no future minutes
                   AND DECIDED_AT < ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                             'INTERVAL 1 MINUTE', ROUND_DOWN),
                                                120)) r
         GROUP BY MINUTE_START) d
  LEFT JOIN (SELECT MINUTE_START, SUM(SAMPLES) AS OUTCOMES, SUM(SUCCESSES) AS SUCCESSES,
                    MIN(CASE WHEN CUM >= CEIL(50 * N / 100.0) THEN BUCKET END) AS B50,
                    MIN(CASE WHEN CUM >= CEIL(95 * N / 100.0) THEN BUCKET END) AS B95,
                    MIN(CASE WHEN CUM >= CEIL(99 * N / 100.0) THEN BUCKET END) AS B99
               FROM (SELECT MINUTE_START, BUCKET, SAMPLES, SUCCESSES,
                            SUM(SAMPLES) OVER (PARTITION BY MINUTE_START ORDER BY BUCKET
                                               ROWS BETWEEN UNBOUNDED PRECEDING
                                                        AND CURRENT ROW) AS CUM,
                            SUM(SAMPLES) OVER (PARTITION BY MINUTE_START) AS N
                       FROM (SELECT MINUTE_START, BUCKET, SUM(SAMPLES) AS SAMPLES,
                                    SUM(SUCCESSES) AS SUCCESSES
                               FROM MODEL_METRICS_MINUTELY
                              WHERE MINUTE_START >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP,
                                                                             'INTERVAL 1 MINUTE',
                                                                             ROUND_DOWN),
                                                                -3540)
                              GROUP BY MINUTE_START, BUCKET) h) c
              GROUP BY MINUTE_START) o
    ON o.MINUTE_START = d.MINUTE_START;
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.MINUTE_START IS 'Start of the UTC minute in which the decisions were made (last 60 whole minutes including the current one)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.DECISIONS IS 'Routing decisions made in that minute';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.CACHE_HITS IS 'Decisions of that minute whose model ranking came from the router cache (CACHE_HIT = 1)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.OUTCOMES IS 'Outcomes recorded so far for the decisions of that minute';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.SUCCESSES IS 'Successful outcomes among OUTCOMES';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.P50_LATENCY_MS IS 'Median latency in ms over the outcomes, histogram nearest rank, within 2 percent (NULL without outcomes)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.P95_LATENCY_MS IS '95th percentile latency in ms over the outcomes, histogram nearest rank, within 2 percent (NULL without outcomes)';
COMMENT ON COLUMN V_ROUTING_MINUTELY_1H.P99_LATENCY_MS IS '99th percentile latency in ms over the outcomes, histogram nearest rank, within 2 percent (NULL without outcomes)';
