-- depends: 0007_insert_default_alert_rules
-- API keys: only a hash of the secret is stored; a revoked key keeps its row (REVOKED_AT set).
CREATE TABLE API_KEYS (
    KEY_ID      TEXT NOT NULL PRIMARY KEY,
    KEY_HASH    TEXT NOT NULL,
    ROLE        TEXT NOT NULL CHECK (ROLE IN ('admin', 'router', 'viewer')),
    LABEL       TEXT,
    CREATED_AT  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')),
    REVOKED_AT  TEXT
);
