-- depends: 0009_create_history_purges
-- Per-minute rollup for the live windows: V_MODEL_HEALTH (15 minutes) and V_ALERT_OBSERVATIONS
-- (each rule's WINDOW_MINUTES, 1..1440) read it instead of raw INFERENCE_METRICS, so their cost is
-- minutes x models x buckets, whatever the traffic. Maintained by SP_APPLY_OUTCOMES (one MERGE
-- per batch, like MODEL_LATENCY_HOURLY); SP_PURGE_HISTORY deletes rows older than 2 days.
-- Time axis: MINUTE_START = the minute of the decision (DECIDED_AT rounded down to the minute
-- with SERIES_ROUND, as HOUR_START of the hourly rollups). One row per latency bucket (BUCKET as
-- in the hourly histograms: CEIL(LN(latency_ms) / LN(1.04)), -32768 under 0.001 ms) carries that
-- bucket's outcomes, successes and latency sum, so counts, rates and mean latency stay exact and
-- the p95 comes from the histogram (docs/ANALYTICS.md).
CREATE COLUMN TABLE MODEL_METRICS_MINUTELY (
    MINUTE_START    TIMESTAMP      NOT NULL,
    MODEL_ID        NVARCHAR(128)  NOT NULL,
    BUCKET          INTEGER        NOT NULL,
    SAMPLES         BIGINT         NOT NULL,
    SUCCESSES       BIGINT         NOT NULL,
    LATENCY_SUM_MS  DOUBLE         NOT NULL,
    PRIMARY KEY (MINUTE_START, MODEL_ID, BUCKET)
);

-- Backfill from the raw outcomes of the last 1440 whole minutes (the longest alert window), so
-- health and alerts are right at once after an upgrade; older minutes would only be purged.
INSERT INTO MODEL_METRICS_MINUTELY (MINUTE_START, MODEL_ID, BUCKET, SAMPLES, SUCCESSES,
                                    LATENCY_SUM_MS)
SELECT MINUTE_START, MODEL_ID, BUCKET, COUNT(*), SUM(SUCCESS), SUM(LATENCY_MS)
  FROM (SELECT SERIES_ROUND(DECIDED_AT, 'INTERVAL 1 MINUTE', ROUND_DOWN) AS MINUTE_START,
               MODEL_ID, TO_BIGINT(SUCCESS) AS SUCCESS, LATENCY_MS,
               CASE WHEN LATENCY_MS < 0.001 THEN -32768
                    ELSE TO_INTEGER(CEIL(LN(LATENCY_MS) / LN(TO_DOUBLE(1.04)))) END AS BUCKET
          FROM INFERENCE_METRICS
         WHERE DECIDED_AT >= ADD_SECONDS(SERIES_ROUND(CURRENT_UTCTIMESTAMP, 'INTERVAL 1 MINUTE',
                                                      ROUND_DOWN), -86400)) m
 GROUP BY MINUTE_START, MODEL_ID, BUCKET;
