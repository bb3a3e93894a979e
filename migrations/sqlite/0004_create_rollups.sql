-- depends: 0003_create_decisions
-- Rollups maintained by SP_APPLY_OUTCOMES, one upsert per table per batch of outcomes; analytics
-- read these instead of raw rows, so their cost grows with hours x models, not with requests.
-- Time axis: HOUR_START = the hour of the decision (DECIDED_AT truncated to the hour). Every key
-- starts with the hour, so a batch of recent outcomes touches few pages; there is no all-time
-- per-pair table (with ~10,000 pairs it would take a page write per outcome).
-- Latency histograms: BUCKET = ceil(ln(latency_ms) / ln(1.04)); latencies under 0.001 ms go to
-- bucket -32768 (value 0). A bucket's representative value 1.04^(BUCKET - 0.5) is within 2 %
-- of every latency in the bucket (docs/ANALYTICS.md).
CREATE TABLE MODEL_METRICS_HOURLY (
    HOUR_START      TEXT    NOT NULL,
    MODEL_ID        TEXT    NOT NULL,
    REQUESTS        INTEGER NOT NULL,
    SUCCESSES       INTEGER NOT NULL,
    LATENCY_SUM_MS  REAL    NOT NULL,
    TOKENS_IN       INTEGER NOT NULL,
    TOKENS_OUT      INTEGER NOT NULL,
    PRIMARY KEY (HOUR_START, MODEL_ID)
) WITHOUT ROWID;

CREATE TABLE MODEL_LATENCY_HOURLY (
    HOUR_START  TEXT    NOT NULL,
    MODEL_ID    TEXT    NOT NULL,
    BUCKET      INTEGER NOT NULL,
    SAMPLES     INTEGER NOT NULL,
    PRIMARY KEY (HOUR_START, MODEL_ID, BUCKET)
) WITHOUT ROWID;

CREATE TABLE AGENT_MODEL_METRICS_HOURLY (
    HOUR_START      TEXT    NOT NULL,
    AGENT_ID        TEXT    NOT NULL,
    MODEL_ID        TEXT    NOT NULL,
    REQUESTS        INTEGER NOT NULL,
    SUCCESSES       INTEGER NOT NULL,
    LATENCY_SUM_MS  REAL    NOT NULL,
    TOKENS_IN       INTEGER NOT NULL,
    TOKENS_OUT      INTEGER NOT NULL,
    PRIMARY KEY (HOUR_START, AGENT_ID, MODEL_ID)
) WITHOUT ROWID;

CREATE TABLE AGENT_MODEL_LATENCY_HOURLY (
    HOUR_START  TEXT    NOT NULL,
    AGENT_ID    TEXT    NOT NULL,
    MODEL_ID    TEXT    NOT NULL,
    BUCKET      INTEGER NOT NULL,
    SAMPLES     INTEGER NOT NULL,
    PRIMARY KEY (HOUR_START, AGENT_ID, MODEL_ID, BUCKET)
) WITHOUT ROWID;

-- One row per applied batch: SP_APPLY_OUTCOMES refuses a batch id it has applied before, so a
-- reused id can never count the same outcomes twice.
CREATE TABLE OUTCOME_BATCHES (
    BATCH_ID    TEXT    NOT NULL PRIMARY KEY,
    APPLIED_AT  TEXT    NOT NULL,
    OUTCOMES    INTEGER NOT NULL
);

CREATE INDEX IX_OUTCOME_BATCHES_APPLIED ON OUTCOME_BATCHES (APPLIED_AT);
