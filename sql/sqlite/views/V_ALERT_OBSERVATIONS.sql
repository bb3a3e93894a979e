-- V_ALERT_OBSERVATIONS: what SP_EVALUATE_ALERTS compares: one row per V_ALERT_TARGETS row
-- (enabled rule x model in its scope) with the value observed over the rule's window and whether
-- it breaches.
--   error_rate      failed / all outcomes (exact)
--   p95_latency_ms  p95 of the outcomes' latencies from the latency histogram (nearest rank, the
--                   bucket's representative value 1.04^(BUCKET - 0.5), within 2 %: the rule of
--                   V_MODEL_PERFORMANCE and V_MODEL_HEALTH, docs/ANALYTICS.md)
--   no_traffic      number of outcomes (never NULL: 0 when none)
--   utilization     average UTILIZATION of the LOAD_SNAPSHOTS taken in the window
-- OBSERVED_VALUE is NULL (never a breach) when fewer than MIN_SAMPLES samples exist.
-- Windows: error_rate, p95_latency_ms and no_traffic read the rollups maintained by
-- SP_APPLY_OUTCOMES, never raw rows, over whole minutes: the decisions since S = start of the
-- current minute - WINDOW_MINUTES (WINDOW_MINUTES to WINDOW_MINUTES + 1 minutes of decisions).
-- The window is split (columns SINCE_MINUTE, HOURS_FROM, HOURS_TO of V_ALERT_TARGETS) at H0 = the
-- first whole hour at or after S (S itself when S is on the hour) and HC = the current hour:
-- [S, H0) and [HC, now] from MODEL_METRICS_MINUTELY, the whole hours [H0, HC) from
-- MODEL_METRICS_HOURLY (outcomes, successes) and MODEL_LATENCY_HOURLY (histogram).
-- When H0 >= HC (a window within the last hour or so) every minute since S comes from
-- MODEL_METRICS_MINUTELY. Both rollups are keyed by the decision's minute or hour and bucket
-- latencies alike, so the answer is exactly the minute-only one (counts, rates, the p95 bucket).
-- Edge: the hourly rollups also hold late outcomes of decisions older than 1440 minutes, which
-- the minute rollup skips; the split reads hours only from H0 >= S on, so it never reads such an
-- outcome: every decision at or after S was within 1440 minutes of any earlier apply. A late
-- outcome of a decision in S's own (partial) hour but before S is in that hour's hourly row, and
-- is not read: that hour comes from the minute rollup.
-- utilization reads LOAD_SNAPSHOTS since V_ALERT_TARGETS' SINCE (now - WINDOW_MINUTES).
-- Cost: once per distinct window length, rows = (at most 120 minutes x models x latency buckets
-- in use) + (whole hours x models x (buckets + 1)), independent of the traffic (ranges of the
-- rollups' primary keys): a 1440-minute window reads ~1/10 of the minute-only rows; plus the
-- window's load snapshots.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_ALERT_OBSERVATIONS AS
WITH targets AS (
    SELECT * FROM V_ALERT_TARGETS
), windows AS (
    -- one row per window length of the outcome metrics, split as V_ALERT_TARGETS says
    SELECT DISTINCT WINDOW_MINUTES, SINCE_MINUTE, HOURS_FROM, HOURS_TO
      FROM targets
     WHERE METRIC IN ('error_rate', 'no_traffic', 'p95_latency_ms')
), parts AS (
    -- the window's minutes outside [HOURS_FROM, HOURS_TO) (two ranges of the minute rollup's
    -- primary key), then its whole hours: latency buckets from MODEL_LATENCY_HOURLY, outcome
    -- counts from MODEL_METRICS_HOURLY (BUCKET NULL, no samples: it moves no histogram rank)
    SELECT w.WINDOW_MINUTES, r.MODEL_ID, r.BUCKET, r.SAMPLES, r.SAMPLES AS OUTCOMES, r.SUCCESSES
      FROM windows w
      JOIN MODEL_METRICS_MINUTELY r
        ON r.MINUTE_START >= w.SINCE_MINUTE AND r.MINUTE_START < w.HOURS_FROM
    UNION ALL
    SELECT w.WINDOW_MINUTES, r.MODEL_ID, r.BUCKET, r.SAMPLES, r.SAMPLES, r.SUCCESSES
      FROM windows w
      JOIN MODEL_METRICS_MINUTELY r ON r.MINUTE_START >= w.HOURS_TO
    UNION ALL
    SELECT w.WINDOW_MINUTES, l.MODEL_ID, l.BUCKET, l.SAMPLES, 0, 0
      FROM windows w
      JOIN MODEL_LATENCY_HOURLY l ON l.HOUR_START >= w.HOURS_FROM AND l.HOUR_START < w.HOURS_TO
    UNION ALL
    SELECT w.WINDOW_MINUTES, m.MODEL_ID, NULL, 0, m.REQUESTS, m.SUCCESSES
      FROM windows w
      JOIN MODEL_METRICS_HOURLY m ON m.HOUR_START >= w.HOURS_FROM AND m.HOUR_START < w.HOURS_TO
), hist AS (
    SELECT WINDOW_MINUTES, MODEL_ID, BUCKET, SUM(SAMPLES) AS SAMPLES, SUM(OUTCOMES) AS OUTCOMES,
           SUM(SUCCESSES) AS SUCCESSES
      FROM parts
     GROUP BY WINDOW_MINUTES, MODEL_ID, BUCKET
), cumulative AS (
    SELECT WINDOW_MINUTES, MODEL_ID, BUCKET, OUTCOMES, SUCCESSES,
           SUM(SAMPLES) OVER (PARTITION BY WINDOW_MINUTES, MODEL_ID ORDER BY BUCKET
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(SAMPLES) OVER (PARTITION BY WINDOW_MINUTES, MODEL_ID) AS N
      FROM hist
), traffic AS (
    SELECT WINDOW_MINUTES, MODEL_ID, SUM(OUTCOMES) AS OUTCOMES, SUM(SUCCESSES) AS SUCCESSES,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95
      FROM cumulative
     GROUP BY WINDOW_MINUTES, MODEL_ID
), util AS (
    SELECT t.RULE_ID, t.MODEL_ID, COUNT(*) AS N, AVG(s.UTILIZATION) AS U
      FROM targets t
      JOIN LOAD_SNAPSHOTS s ON s.MODEL_ID = t.MODEL_ID AND s.SNAPSHOT_AT >= t.SINCE
     WHERE t.METRIC = 'utilization'
     GROUP BY t.RULE_ID, t.MODEL_ID
), observed AS (
    SELECT t.RULE_ID, t.MODEL_ID, t.METRIC, t.COMPARATOR, t.THRESHOLD, t.WINDOW_MINUTES,
           t.MIN_SAMPLES, t.SEVERITY,
           CASE t.METRIC WHEN 'utilization' THEN COALESCE(u.N, 0)
                         ELSE COALESCE(tr.OUTCOMES, 0) END AS SAMPLES,
           CASE t.METRIC
                WHEN 'no_traffic' THEN CAST(COALESCE(tr.OUTCOMES, 0) AS REAL)
                WHEN 'error_rate' THEN CASE WHEN tr.OUTCOMES >= t.MIN_SAMPLES
                                            THEN CAST(tr.OUTCOMES - tr.SUCCESSES AS REAL)
                                                 / tr.OUTCOMES END
                WHEN 'p95_latency_ms' THEN CASE WHEN tr.OUTCOMES >= t.MIN_SAMPLES
                                                THEN CASE WHEN tr.B95 = -32768 THEN 0.0
                                                          ELSE pow(1.04, tr.B95 - 0.5) END END
                WHEN 'utilization' THEN CASE WHEN u.N >= t.MIN_SAMPLES THEN u.U END
           END AS OBSERVED_VALUE
      FROM targets t
      LEFT JOIN traffic tr ON tr.WINDOW_MINUTES = t.WINDOW_MINUTES AND tr.MODEL_ID = t.MODEL_ID
      LEFT JOIN util u ON u.RULE_ID = t.RULE_ID AND u.MODEL_ID = t.MODEL_ID
)
SELECT RULE_ID,
       MODEL_ID,
       METRIC,
       COMPARATOR,
       THRESHOLD,
       WINDOW_MINUTES,
       MIN_SAMPLES,
       SEVERITY,
       SAMPLES,
       OBSERVED_VALUE,
       CASE WHEN OBSERVED_VALUE IS NULL THEN 0
            WHEN COMPARATOR = 'gt' AND OBSERVED_VALUE > THRESHOLD THEN 1
            WHEN COMPARATOR = 'lt' AND OBSERVED_VALUE < THRESHOLD THEN 1
            ELSE 0 END AS BREACHED
  FROM observed;
