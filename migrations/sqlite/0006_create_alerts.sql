-- depends: 0005_create_load_snapshots
-- Alert rules and the alerts they raise. An alert belongs to (rule, model); at most one open or
-- acknowledged alert exists per (rule, model) (partial unique index). SEVERITY, THRESHOLD and
-- METRIC are copied from the rule when the alert is raised.
CREATE TABLE ALERT_RULES (
    RULE_ID            TEXT    NOT NULL PRIMARY KEY,
    NAME               TEXT    NOT NULL,
    METRIC             TEXT    NOT NULL
                               CHECK (METRIC IN ('error_rate', 'p95_latency_ms', 'utilization',
                                                 'no_traffic')),
    COMPARATOR         TEXT    NOT NULL CHECK (COMPARATOR IN ('gt', 'lt')),
    THRESHOLD          REAL    NOT NULL,
    WINDOW_MINUTES     INTEGER NOT NULL CHECK (WINDOW_MINUTES BETWEEN 1 AND 1440),
    MIN_SAMPLES        INTEGER NOT NULL DEFAULT 1 CHECK (MIN_SAMPLES >= 1),
    SEVERITY           TEXT    NOT NULL CHECK (SEVERITY IN ('info', 'warning', 'critical')),
    MODEL_ID           TEXT    REFERENCES MODELS (MODEL_ID),
    ENABLED            INTEGER NOT NULL DEFAULT 1 CHECK (ENABLED IN (0, 1)),
    CREATED_AT         TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
    UPDATED_AT         TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
    LAST_EVALUATED_AT  TEXT
);

CREATE TABLE ALERTS (
    ALERT_ID        INTEGER NOT NULL PRIMARY KEY,
    RULE_ID         TEXT    NOT NULL REFERENCES ALERT_RULES (RULE_ID),
    MODEL_ID        TEXT    NOT NULL REFERENCES MODELS (MODEL_ID),
    METRIC          TEXT    NOT NULL,
    SEVERITY        TEXT    NOT NULL,
    THRESHOLD       REAL    NOT NULL,
    OBSERVED_VALUE  REAL,
    STATE           TEXT    NOT NULL DEFAULT 'open'
                            CHECK (STATE IN ('open', 'acknowledged', 'resolved')),
    RAISED_AT       TEXT    NOT NULL,
    ACKED_AT        TEXT,
    RESOLVED_AT     TEXT
);

CREATE UNIQUE INDEX UX_ALERTS_ONE_OPEN ON ALERTS (RULE_ID, MODEL_ID)
    WHERE STATE IN ('open', 'acknowledged');

CREATE INDEX IX_ALERTS_STATE_RAISED ON ALERTS (STATE, RAISED_AT);
