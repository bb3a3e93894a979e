-- depends: 0011_widen_decisions_decided_at_index
-- Every column at least as wide as what the API accepts: HANA answers 274 "inserted value too
-- large" where SQLite stores anything (tests/test_column_widths.py checks the final schema of
-- both dialects against the API's limits). MODELS.ENDPOINT held 1,000 of the API's 2,048
-- characters and MODELS.PROVIDER 128 of its 200. Free text (the API admits any character but
-- controls) gets twice the API's limit: NVARCHAR lengths count UTF-16 code units, in which a
-- character outside Unicode's basic plane (an emoji) takes two. Ids are ASCII by pattern.
-- The agents an auto-assign could not place, one row each with its reason, queryable by BI: the
-- JSON list in ASSIGNMENT_RUNS.UNASSIGNED was an NVARCHAR(5000), HANA's largest, so a run with
-- about 100 unassigned agents failed whole. UNASSIGNED is no longer written and keeps the lists
-- of runs made before this migration (read by app/db/store/assignments.py when a run has no
-- rows here): moving them would need JSON parsing inside a migration, which could not be run
-- on a HANA before release, and a migration that stops is the defect this one mends.
ALTER TABLE MODELS ALTER (ENDPOINT NVARCHAR(4096) NOT NULL);

ALTER TABLE MODELS ALTER (PROVIDER NVARCHAR(512));

ALTER TABLE MODELS ALTER (DISPLAY_NAME NVARCHAR(512));

ALTER TABLE AGENTS ALTER (DISPLAY_NAME NVARCHAR(512));

ALTER TABLE ALERT_RULES ALTER (NAME NVARCHAR(512) NOT NULL);

ALTER TABLE API_KEYS ALTER (LABEL NVARCHAR(512));

CREATE COLUMN TABLE ASSIGNMENT_RUN_UNASSIGNED (
    RUN_ID    NVARCHAR(128) NOT NULL,
    AGENT_ID  NVARCHAR(128) NOT NULL,
    REASON    NVARCHAR(64)  NOT NULL,
    PRIMARY KEY (RUN_ID, AGENT_ID),
    FOREIGN KEY (RUN_ID) REFERENCES ASSIGNMENT_RUNS (RUN_ID),
    FOREIGN KEY (AGENT_ID) REFERENCES AGENTS (AGENT_ID)
);
