-- depends: 0008_create_api_keys
-- One row per SP_PURGE_HISTORY run: the cutoff it used and how many rows of each kind it removed.
CREATE TABLE HISTORY_PURGES (
    PURGE_ID         INTEGER NOT NULL PRIMARY KEY,
    PURGED_AT        TEXT    NOT NULL,
    RETENTION_DAYS   INTEGER NOT NULL,
    CUTOFF           TEXT    NOT NULL,
    DECISIONS        INTEGER NOT NULL,
    OUTCOMES         INTEGER NOT NULL,
    LOAD_SNAPSHOTS   INTEGER NOT NULL,
    ALERTS           INTEGER NOT NULL,
    OUTCOME_BATCHES  INTEGER NOT NULL
);
