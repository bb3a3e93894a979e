-- depends: 0001_create_catalog
-- Assignment runs (one auto-assign or manual pin each) and the agent -> model assignments they
-- hold. SP_ACTIVATE_ASSIGNMENT_RUN swaps a pending run in atomically; the partial unique index
-- below makes a second active assignment for one agent impossible, and serves every lookup of
-- an agent's active assignment; UNIQUE (RUN_ID, AGENT_ID) serves the lookups by run.
CREATE TABLE ASSIGNMENT_RUNS (
    RUN_ID              TEXT NOT NULL PRIMARY KEY,
    METHOD              TEXT NOT NULL CHECK (METHOD IN ('hungarian', 'greedy', 'manual')),
    STATUS              TEXT NOT NULL DEFAULT 'pending'
                             CHECK (STATUS IN ('pending', 'active', 'superseded', 'dry_run')),
    TOTAL_SCORE         REAL,
    GREEDY_TOTAL_SCORE  REAL,
    IMPROVEMENT_PCT     REAL,
    UNASSIGNED          TEXT,
    CREATED_AT          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
    ACTIVATED_AT        TEXT
);

CREATE INDEX IX_ASSIGNMENT_RUNS_CREATED ON ASSIGNMENT_RUNS (CREATED_AT);

CREATE TABLE AGENT_MODEL_ASSIGNMENTS (
    ASSIGNMENT_ID     TEXT    NOT NULL PRIMARY KEY,
    RUN_ID            TEXT    NOT NULL REFERENCES ASSIGNMENT_RUNS (RUN_ID),
    AGENT_ID          TEXT    NOT NULL REFERENCES AGENTS (AGENT_ID),
    MODEL_ID          TEXT    NOT NULL REFERENCES MODELS (MODEL_ID),
    SCORE             REAL,
    METHOD            TEXT    NOT NULL CHECK (METHOD IN ('hungarian', 'greedy', 'manual')),
    STATUS            TEXT    NOT NULL DEFAULT 'pending'
                              CHECK (STATUS IN ('pending', 'active', 'superseded')),
    ASSIGNED_AT       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
    ACTIVATED_AT      TEXT,
    SUPERSEDED_AT     TEXT,
    TOTAL_REQUESTS    INTEGER NOT NULL DEFAULT 0,
    SUCCESS_COUNT     INTEGER NOT NULL DEFAULT 0,
    FAILURE_COUNT     INTEGER NOT NULL DEFAULT 0,
    TOTAL_LATENCY_MS  REAL    NOT NULL DEFAULT 0,
    AVG_LATENCY_MS    REAL,
    LAST_USED_AT      TEXT,
    UNIQUE (RUN_ID, AGENT_ID)
);

CREATE UNIQUE INDEX UX_ASSIGNMENTS_ONE_ACTIVE ON AGENT_MODEL_ASSIGNMENTS (AGENT_ID)
    WHERE STATUS = 'active';
