-- depends: 0001_create_catalog
-- Assignment runs (one auto-assign or manual pin each) and the agent -> model assignments they
-- hold. HANA has no partial unique index, so "one active assignment per agent" is kept by
-- SP_ACTIVATE_ASSIGNMENT_RUN, which locks the run's AGENTS rows before the swap (the only writer
-- of STATUS = 'active').
CREATE COLUMN TABLE ASSIGNMENT_RUNS (
    RUN_ID              NVARCHAR(128) NOT NULL PRIMARY KEY,
    METHOD              NVARCHAR(16)  NOT NULL CHECK (METHOD IN ('hungarian', 'greedy', 'manual')),
    STATUS              NVARCHAR(16)  DEFAULT 'pending' NOT NULL
                                      CHECK (STATUS IN ('pending', 'active', 'superseded',
                                                        'dry_run')),
    TOTAL_SCORE         DOUBLE,
    GREEDY_TOTAL_SCORE  DOUBLE,
    IMPROVEMENT_PCT     DOUBLE,
    UNASSIGNED          NVARCHAR(5000),
    CREATED_AT          TIMESTAMP     DEFAULT CURRENT_UTCTIMESTAMP NOT NULL,
    ACTIVATED_AT        TIMESTAMP
);

CREATE INDEX IX_ASSIGNMENT_RUNS_CREATED ON ASSIGNMENT_RUNS (CREATED_AT);

CREATE COLUMN TABLE AGENT_MODEL_ASSIGNMENTS (
    ASSIGNMENT_ID     NVARCHAR(128) NOT NULL PRIMARY KEY,
    RUN_ID            NVARCHAR(128) NOT NULL,
    AGENT_ID          NVARCHAR(128) NOT NULL,
    MODEL_ID          NVARCHAR(128) NOT NULL,
    SCORE             DOUBLE,
    METHOD            NVARCHAR(16)  NOT NULL CHECK (METHOD IN ('hungarian', 'greedy', 'manual')),
    STATUS            NVARCHAR(16)  DEFAULT 'pending' NOT NULL
                                    CHECK (STATUS IN ('pending', 'active', 'superseded')),
    ASSIGNED_AT       TIMESTAMP     DEFAULT CURRENT_UTCTIMESTAMP NOT NULL,
    ACTIVATED_AT      TIMESTAMP,
    SUPERSEDED_AT     TIMESTAMP,
    TOTAL_REQUESTS    BIGINT        DEFAULT 0 NOT NULL,
    SUCCESS_COUNT     BIGINT        DEFAULT 0 NOT NULL,
    FAILURE_COUNT     BIGINT        DEFAULT 0 NOT NULL,
    TOTAL_LATENCY_MS  DOUBLE        DEFAULT 0 NOT NULL,
    AVG_LATENCY_MS    DOUBLE,
    LAST_USED_AT      TIMESTAMP,
    UNIQUE (RUN_ID, AGENT_ID),
    FOREIGN KEY (RUN_ID) REFERENCES ASSIGNMENT_RUNS (RUN_ID),
    FOREIGN KEY (AGENT_ID) REFERENCES AGENTS (AGENT_ID),
    FOREIGN KEY (MODEL_ID) REFERENCES MODELS (MODEL_ID)
);

CREATE INDEX IX_ASSIGNMENTS_AGENT_STATUS ON AGENT_MODEL_ASSIGNMENTS (AGENT_ID, STATUS);

CREATE INDEX IX_ASSIGNMENTS_STATUS ON AGENT_MODEL_ASSIGNMENTS (STATUS);
