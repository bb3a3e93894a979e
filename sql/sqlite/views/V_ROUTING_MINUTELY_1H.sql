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
-- Cost: the window's decisions, read from IX_DECISIONS_DECIDED_AT alone: its columns are
-- (DECIDED_AT, CACHE_HIT) since migration 0011, and the hour is counted as one index range per
-- minute, in index order, so no table row is read and no decision sorted (about 70 ms for
-- 900,000 decisions in the window; a GROUP BY over the hour sorted them all: 180 ms); plus
-- 60 minutes x models x latency buckets in use of the rollup (a range of its primary key),
-- independent of the traffic.
-- Inputs: none (window fixed at 60 minutes). Security: read-only; BI surface.
CREATE VIEW V_ROUTING_MINUTELY_1H AS
WITH RECURSIVE minutes (K, MINUTE_START, MINUTE_END) AS (
    -- the 60 minutes of the window and the next one (a worker's clock may run slightly ahead)
    SELECT 0, strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-59 minutes'),
           strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-58 minutes')
    UNION ALL
    SELECT K + 1, MINUTE_END, strftime('%Y-%m-%d %H:%M:00.000000', MINUTE_END, '+1 minute')
      FROM minutes
     WHERE K < 60
), counted AS MATERIALIZED (
    -- materialized: the filter below would otherwise count every minute a second time
    SELECT MINUTE_START,
           (SELECT COUNT(*)
              FROM ROUTING_DECISIONS INDEXED BY IX_DECISIONS_DECIDED_AT
             WHERE DECIDED_AT >= m.MINUTE_START AND DECIDED_AT < m.MINUTE_END) AS DECISIONS,
           (SELECT SUM(CACHE_HIT)
              FROM ROUTING_DECISIONS INDEXED BY IX_DECISIONS_DECIDED_AT
             WHERE DECIDED_AT >= m.MINUTE_START AND DECIDED_AT < m.MINUTE_END) AS CACHE_HITS
      FROM minutes m
), decided AS (
    SELECT MINUTE_START, DECISIONS, CACHE_HITS
      FROM counted
     WHERE DECISIONS > 0
), hist AS (
    SELECT MINUTE_START, BUCKET, SUM(SAMPLES) AS SAMPLES, SUM(SUCCESSES) AS SUCCESSES
      FROM MODEL_METRICS_MINUTELY
     WHERE MINUTE_START >= strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-59 minutes')
     GROUP BY MINUTE_START, BUCKET
), cumulative AS (
    SELECT MINUTE_START, BUCKET, SAMPLES, SUCCESSES,
           SUM(SAMPLES) OVER (PARTITION BY MINUTE_START ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY MINUTE_START) AS N
      FROM hist
), outcomes AS (
    SELECT MINUTE_START,
           SUM(SAMPLES) AS OUTCOMES,
           SUM(SUCCESSES) AS SUCCESSES,
           MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
     GROUP BY MINUTE_START
)
SELECT d.MINUTE_START,
       d.DECISIONS,
       d.CACHE_HITS,
       COALESCE(o.OUTCOMES, 0) AS OUTCOMES,
       COALESCE(o.SUCCESSES, 0) AS SUCCESSES,
       CASE WHEN o.B50 = -32768 THEN 0.0 ELSE pow(1.04, o.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN o.B95 = -32768 THEN 0.0 ELSE pow(1.04, o.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN o.B99 = -32768 THEN 0.0 ELSE pow(1.04, o.B99 - 0.5) END AS P99_LATENCY_MS
  FROM decided d
  LEFT JOIN outcomes o ON o.MINUTE_START = d.MINUTE_START;
