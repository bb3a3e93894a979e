-- depends: 0007_insert_default_alert_rules
-- API keys: only a hash of the secret is stored; a revoked key keeps its row (REVOKED_AT set).
CREATE COLUMN TABLE API_KEYS (
    KEY_ID      NVARCHAR(128)  NOT NULL PRIMARY KEY,
    KEY_HASH    NVARCHAR(256)  NOT NULL,
    ROLE        NVARCHAR(16)   NOT NULL,
    LABEL       NVARCHAR(256),
    CREATED_AT  TIMESTAMP      DEFAULT CURRENT_UTCTIMESTAMP NOT NULL,
    REVOKED_AT  TIMESTAMP,
    CHECK (ROLE IN ('admin', 'router', 'viewer'))
);
