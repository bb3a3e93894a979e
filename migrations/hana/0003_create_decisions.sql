-- depends: 0002_create_assignments
-- Raw facts, insert-only. Both primary keys are (DECISION_ID, DECIDED_AT) so that the tables can
-- be range-partitioned by decision time (HANA requires the partitioning column in the primary
-- key): sql/hana/partition_history.sql does it, a step the DBA chooses (docs/HANA_INTEGRATION_
-- GUIDE.md §9). This migration once partitioned the tables itself with an OTHERS-only
-- `PARTITION OTHERS DYNAMIC INTERVAL 1 MONTH`, a form SAP's grammar does not show (dynamic
-- intervals are documented in heterogeneous specs after a first range), so `migrate` could stop
-- here. yoyo keys a migration by its id, so a HANA that did apply the old text keeps its
-- partitions, and one that failed here (on its first statement: nothing was created) applies
-- this text. A second outcome for one decision is still impossible:
--   * the outcome row's DECIDED_AT is not supplied by the caller: insert-outcome copies it from
--     the decision row (INSERT ... SELECT ... FROM ROUTING_DECISIONS), and the foreign key
--     (DECISION_ID, DECIDED_AT) -> ROUTING_DECISIONS enforces that it is the decision's time;
--   * a decision id has one DECIDED_AT: the id is a UUIDv7 made once with its time, and a
--     replayed decision carries the same (DECISION_ID, DECIDED_AT), which the key refuses;
--   so (DECISION_ID, DECIDED_AT) is unique exactly when DECISION_ID is.
-- Secondary indexes follow time only, as on SQLite (column-store scans filter agent and model
-- cheaply).
CREATE COLUMN TABLE ROUTING_DECISIONS (
    DECISION_ID    NVARCHAR(36)   NOT NULL,
    DECIDED_AT     TIMESTAMP      NOT NULL,
    AGENT_ID       NVARCHAR(128)  NOT NULL,
    TASK_TYPE      NVARCHAR(128),
    MODEL_ID       NVARCHAR(128)  NOT NULL,
    ASSIGNMENT_ID  NVARCHAR(128),
    STRATEGY       NVARCHAR(64),
    SCORE          DOUBLE,
    CACHE_HIT      TINYINT        DEFAULT 0 NOT NULL,
    FALLBACKS      NVARCHAR(5000),
    REASON         NVARCHAR(1000),
    CHECK (CACHE_HIT IN (0, 1)),
    PRIMARY KEY (DECISION_ID, DECIDED_AT),
    FOREIGN KEY (AGENT_ID) REFERENCES AGENTS (AGENT_ID),
    FOREIGN KEY (MODEL_ID) REFERENCES MODELS (MODEL_ID),
    FOREIGN KEY (ASSIGNMENT_ID) REFERENCES AGENT_MODEL_ASSIGNMENTS (ASSIGNMENT_ID)
);

CREATE INDEX IX_DECISIONS_DECIDED_AT ON ROUTING_DECISIONS (DECIDED_AT);

CREATE COLUMN TABLE INFERENCE_METRICS (
    DECISION_ID  NVARCHAR(36)   NOT NULL,
    DECIDED_AT   TIMESTAMP      NOT NULL,
    MODEL_ID     NVARCHAR(128)  NOT NULL,
    AGENT_ID     NVARCHAR(128)  NOT NULL,
    RECORDED_AT  TIMESTAMP      NOT NULL,
    SUCCESS      TINYINT        NOT NULL,
    LATENCY_MS   DOUBLE         NOT NULL,
    TOKENS_IN    BIGINT,
    TOKENS_OUT   BIGINT,
    ERROR_CODE   NVARCHAR(128),
    BATCH_ID     NVARCHAR(128)  NOT NULL,
    CHECK (SUCCESS IN (0, 1)),
    CHECK (LATENCY_MS >= 0),
    CHECK (TOKENS_IN IS NULL OR TOKENS_IN >= 0),
    CHECK (TOKENS_OUT IS NULL OR TOKENS_OUT >= 0),
    PRIMARY KEY (DECISION_ID, DECIDED_AT),
    FOREIGN KEY (DECISION_ID, DECIDED_AT) REFERENCES ROUTING_DECISIONS (DECISION_ID, DECIDED_AT)
);

CREATE INDEX IX_METRICS_BATCH ON INFERENCE_METRICS (BATCH_ID);

CREATE INDEX IX_METRICS_DECIDED_AT ON INFERENCE_METRICS (DECIDED_AT);
