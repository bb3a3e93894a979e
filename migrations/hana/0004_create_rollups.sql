-- depends: 0003_create_decisions
-- Rollups maintained by SP_APPLY_OUTCOMES, one MERGE per table per batch of outcomes; analytics
-- read these instead of raw rows, so their cost grows with hours x models, not with requests.
-- Time axis: HOUR_START = the hour of the decision (DECIDED_AT truncated to the hour). Every key
-- starts with the hour, so a batch of recent outcomes touches few pages; there is no all-time
-- per-pair table (with ~10,000 pairs it would take a page write per outcome).
-- Latency histograms: BUCKET = CEIL(LN(latency_ms) / LN(1.04)); latencies under 0.001 ms go to
-- bucket -32768 (value 0). A bucket's representative value 1.04^(BUCKET - 0.5) is within 2 %
-- of every latency in the bucket (docs/ANALYTICS.md).
CREATE COLUMN TABLE MODEL_METRICS_HOURLY (
    HOUR_START      TIMESTAMP      NOT NULL,
    MODEL_ID        NVARCHAR(128)  NOT NULL,
    REQUESTS        BIGINT         NOT NULL,
    SUCCESSES       BIGINT         NOT NULL,
    LATENCY_SUM_MS  DOUBLE         NOT NULL,
    TOKENS_IN       BIGINT         NOT NULL,
    TOKENS_OUT      BIGINT         NOT NULL,
    PRIMARY KEY (HOUR_START, MODEL_ID)
);

CREATE COLUMN TABLE MODEL_LATENCY_HOURLY (
    HOUR_START  TIMESTAMP      NOT NULL,
    MODEL_ID    NVARCHAR(128)  NOT NULL,
    BUCKET      INTEGER        NOT NULL,
    SAMPLES     BIGINT         NOT NULL,
    PRIMARY KEY (HOUR_START, MODEL_ID, BUCKET)
);

CREATE COLUMN TABLE AGENT_MODEL_METRICS_HOURLY (
    HOUR_START      TIMESTAMP      NOT NULL,
    AGENT_ID        NVARCHAR(128)  NOT NULL,
    MODEL_ID        NVARCHAR(128)  NOT NULL,
    REQUESTS        BIGINT         NOT NULL,
    SUCCESSES       BIGINT         NOT NULL,
    LATENCY_SUM_MS  DOUBLE         NOT NULL,
    TOKENS_IN       BIGINT         NOT NULL,
    TOKENS_OUT      BIGINT         NOT NULL,
    PRIMARY KEY (HOUR_START, AGENT_ID, MODEL_ID)
);

CREATE COLUMN TABLE AGENT_MODEL_LATENCY_HOURLY (
    HOUR_START  TIMESTAMP      NOT NULL,
    AGENT_ID    NVARCHAR(128)  NOT NULL,
    MODEL_ID    NVARCHAR(128)  NOT NULL,
    BUCKET      INTEGER        NOT NULL,
    SAMPLES     BIGINT         NOT NULL,
    PRIMARY KEY (HOUR_START, AGENT_ID, MODEL_ID, BUCKET)
);

-- One row per applied batch: SP_APPLY_OUTCOMES refuses a batch id it has applied before, so a
-- reused id can never count the same outcomes twice.
CREATE COLUMN TABLE OUTCOME_BATCHES (
    BATCH_ID    NVARCHAR(128)  NOT NULL PRIMARY KEY,
    APPLIED_AT  TIMESTAMP      NOT NULL,
    OUTCOMES    BIGINT         NOT NULL
);

CREATE INDEX IX_OUTCOME_BATCHES_APPLIED ON OUTCOME_BATCHES (APPLIED_AT);
