-- depends: 0002_create_assignments
-- Raw facts, insert-only: one row per routing decision, at most one outcome per decision (the
-- primary key of INFERENCE_METRICS is the decision id, so a second outcome is refused).
-- DECISION_ID is a UUIDv7 made in Python: ids sort by time, so every index here grows at its end
-- (an index led by agent or model would take a random page write per row; decision lists scan
-- the newest rows instead). INFERENCE_METRICS carries the decision's DECIDED_AT, MODEL_ID and
-- AGENT_ID (copied from the decision by the insert): rollups and alert windows use decision time.
CREATE TABLE ROUTING_DECISIONS (
    DECISION_ID    TEXT    NOT NULL PRIMARY KEY CHECK (length(DECISION_ID) = 36),
    DECIDED_AT     TEXT    NOT NULL CHECK (length(DECIDED_AT) = 26),
    AGENT_ID       TEXT    NOT NULL REFERENCES AGENTS (AGENT_ID),
    TASK_TYPE      TEXT,
    MODEL_ID       TEXT    NOT NULL REFERENCES MODELS (MODEL_ID),
    ASSIGNMENT_ID  TEXT    REFERENCES AGENT_MODEL_ASSIGNMENTS (ASSIGNMENT_ID),
    STRATEGY       TEXT,
    SCORE          REAL,
    CACHE_HIT      INTEGER NOT NULL DEFAULT 0 CHECK (CACHE_HIT IN (0, 1)),
    FALLBACKS      TEXT,
    REASON         TEXT
);

CREATE INDEX IX_DECISIONS_DECIDED_AT ON ROUTING_DECISIONS (DECIDED_AT);

CREATE TABLE INFERENCE_METRICS (
    DECISION_ID  TEXT    NOT NULL PRIMARY KEY REFERENCES ROUTING_DECISIONS (DECISION_ID),
    DECIDED_AT   TEXT    NOT NULL CHECK (length(DECIDED_AT) = 26),
    MODEL_ID     TEXT    NOT NULL,
    AGENT_ID     TEXT    NOT NULL,
    RECORDED_AT  TEXT    NOT NULL CHECK (length(RECORDED_AT) = 26),
    SUCCESS      INTEGER NOT NULL CHECK (SUCCESS IN (0, 1)),
    LATENCY_MS   REAL    NOT NULL CHECK (LATENCY_MS >= 0),
    TOKENS_IN    INTEGER CHECK (TOKENS_IN IS NULL OR TOKENS_IN >= 0),
    TOKENS_OUT   INTEGER CHECK (TOKENS_OUT IS NULL OR TOKENS_OUT >= 0),
    ERROR_CODE   TEXT,
    BATCH_ID     TEXT    NOT NULL
);

CREATE INDEX IX_METRICS_BATCH ON INFERENCE_METRICS (BATCH_ID);

CREATE INDEX IX_METRICS_DECIDED_AT ON INFERENCE_METRICS (DECIDED_AT);
