-- depends: 0009_create_history_purges
-- Per-minute rollup for the live windows: V_MODEL_HEALTH (15 minutes) and V_ALERT_OBSERVATIONS
-- (each rule's WINDOW_MINUTES, 1..1440) read it instead of raw INFERENCE_METRICS, so their cost is
-- minutes x models x buckets, whatever the traffic. Maintained by SP_APPLY_OUTCOMES (one upsert
-- per batch, like MODEL_LATENCY_HOURLY); SP_PURGE_HISTORY deletes rows older than 2 days.
-- Time axis: MINUTE_START = the minute of the decision (DECIDED_AT truncated to the minute), text
-- 'YYYY-MM-DD HH:MM:00.000000' as HOUR_START of the hourly rollups. One row per latency bucket
-- (BUCKET as in the hourly histograms: ceil(ln(latency_ms) / ln(1.04)), -32768 under 0.001 ms)
-- carries that bucket's outcomes, successes and latency sum, so counts, rates and mean latency
-- stay exact and the p95 comes from the histogram (docs/ANALYTICS.md).
CREATE TABLE MODEL_METRICS_MINUTELY (
    MINUTE_START    TEXT    NOT NULL,
    MODEL_ID        TEXT    NOT NULL,
    BUCKET          INTEGER NOT NULL,
    SAMPLES         INTEGER NOT NULL,
    SUCCESSES       INTEGER NOT NULL,
    LATENCY_SUM_MS  REAL    NOT NULL,
    PRIMARY KEY (MINUTE_START, MODEL_ID, BUCKET)
) WITHOUT ROWID;

-- Backfill from the raw outcomes of the last 1440 whole minutes (the longest alert window), so
-- health and alerts are right at once after an upgrade; older minutes would only be purged.
INSERT INTO MODEL_METRICS_MINUTELY (MINUTE_START, MODEL_ID, BUCKET, SAMPLES, SUCCESSES,
                                    LATENCY_SUM_MS)
SELECT MINUTE_START, MODEL_ID, BUCKET, COUNT(*), SUM(SUCCESS), SUM(LATENCY_MS)
  FROM (SELECT substr(DECIDED_AT, 1, 16) || ':00.000000' AS MINUTE_START, MODEL_ID, SUCCESS,
               LATENCY_MS,
               CASE WHEN LATENCY_MS < 0.001 THEN -32768
                    ELSE CAST(ceil(ln(LATENCY_MS) / ln(1.04)) AS INTEGER) END AS BUCKET
          FROM INFERENCE_METRICS
         WHERE DECIDED_AT >= strftime('%Y-%m-%d %H:%M:00.000000', 'now', '-1440 minutes'))
 GROUP BY MINUTE_START, MODEL_ID, BUCKET;
