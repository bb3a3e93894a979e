-- depends: 0011_widen_decisions_decided_at_index
-- The agents an auto-assign could not place, one row each with its reason, queryable by BI,
-- instead of a JSON list in ASSIGNMENT_RUNS.UNASSIGNED (HANA held it in an NVARCHAR(5000), its
-- largest, so a run with about 100 unassigned agents failed whole there; the HANA twin of this
-- migration also widens the catalog's free-text columns, which SQLite's TEXT needs not).
-- UNASSIGNED is no longer written and keeps the lists of runs made before this migration (read
-- by app/db/store/assignments.py when a run has no rows here), as on HANA, where moving them
-- would need JSON parsing in a migration that could not be run on a HANA before release.
CREATE TABLE ASSIGNMENT_RUN_UNASSIGNED (
    RUN_ID    TEXT NOT NULL REFERENCES ASSIGNMENT_RUNS (RUN_ID),
    AGENT_ID  TEXT NOT NULL REFERENCES AGENTS (AGENT_ID),
    REASON    TEXT NOT NULL,
    PRIMARY KEY (RUN_ID, AGENT_ID)
);
