-- depends: 0012_widen_text_and_list_unassigned
-- Dashboard login sessions, so that logging out ends one on the server: the signed cookie only
-- names its session (SESSION_ID is the SHA-256 of the id in the cookie, so this table cannot be
-- turned back into cookies), and a request is logged in while its row is neither ended nor past
-- EXPIRES_AT (the cookie's own 12 h). A login deletes rows expired a day ago or more.
CREATE TABLE DASHBOARD_SESSIONS (
    SESSION_ID  TEXT NOT NULL PRIMARY KEY,
    KEY_ID      TEXT NOT NULL,
    CREATED_AT  TEXT NOT NULL,
    EXPIRES_AT  TEXT NOT NULL,
    ENDED_AT    TEXT
);

CREATE INDEX IX_DASHBOARD_SESSIONS_EXPIRES_AT ON DASHBOARD_SESSIONS (EXPIRES_AT);
