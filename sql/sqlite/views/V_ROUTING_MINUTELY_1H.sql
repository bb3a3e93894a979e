-- V_ROUTING_MINUTELY_1H: one row per UTC minute with decisions in the last 60 whole minutes
-- including the current, partial one (MINUTE_START >= start of the current minute - 59 min), read
-- from the raw rows through the decision-time indexes (IX_DECISIONS_DECIDED_AT,
-- IX_METRICS_DECIDED_AT), so the cost is the window's rows, not the table's. Per minute: decisions
-- and cache hits (ROUTING_DECISIONS), outcomes and successes of those decisions
-- (INFERENCE_METRICS), exact nearest-rank p50/p95/p99 latency over the minute's outcomes (the
-- value at rank ceil(q * n / 100) by ROW_NUMBER, as V_MODEL_HEALTH). An outcome counts in the
-- minute of its decision. Minutes without decisions have no row; percentiles are NULL in a
-- minute without outcomes.
-- Inputs: none (window fixed at 60 minutes). Security: read-only; BI surface.
CREATE VIEW V_ROUTING_MINUTELY_1H AS
WITH decided AS (
    SELECT substr(DECIDED_AT, 1, 16) || ':00.000000' AS MINUTE_START,
           COUNT(*) AS DECISIONS,
           SUM(CACHE_HIT) AS CACHE_HITS
      FROM ROUTING_DECISIONS INDEXED BY IX_DECISIONS_DECIDED_AT
     WHERE DECIDED_AT >= strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-59 minutes')
     GROUP BY substr(DECIDED_AT, 1, 16)
), ranked AS (
    SELECT substr(DECIDED_AT, 1, 16) || ':00.000000' AS MINUTE_START, SUCCESS, LATENCY_MS,
           ROW_NUMBER() OVER (PARTITION BY substr(DECIDED_AT, 1, 16) ORDER BY LATENCY_MS) AS RN,
           COUNT(*) OVER (PARTITION BY substr(DECIDED_AT, 1, 16)) AS N
      FROM INFERENCE_METRICS INDEXED BY IX_METRICS_DECIDED_AT
     WHERE DECIDED_AT >= strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-59 minutes')
), outcomes AS (
    SELECT MINUTE_START,
           COUNT(*) AS OUTCOMES,
           SUM(SUCCESS) AS SUCCESSES,
           MAX(CASE WHEN RN = ceil(50 * N / 100.0) THEN LATENCY_MS END) AS P50_LATENCY_MS,
           MAX(CASE WHEN RN = ceil(95 * N / 100.0) THEN LATENCY_MS END) AS P95_LATENCY_MS,
           MAX(CASE WHEN RN = ceil(99 * N / 100.0) THEN LATENCY_MS END) AS P99_LATENCY_MS
      FROM ranked
     GROUP BY MINUTE_START
)
SELECT d.MINUTE_START,
       d.DECISIONS,
       d.CACHE_HITS,
       COALESCE(o.OUTCOMES, 0) AS OUTCOMES,
       COALESCE(o.SUCCESSES, 0) AS SUCCESSES,
       o.P50_LATENCY_MS,
       o.P95_LATENCY_MS,
       o.P99_LATENCY_MS
  FROM decided d
  LEFT JOIN outcomes o ON o.MINUTE_START = d.MINUTE_START;
