-- V_UNASSIGNED_AGENTS: the agents each assignment run could not place, with the reason ("no
-- feasible model": no model meets its hard constraints; "capacity exhausted": feasible models
-- were full) and the run's method, status and time. Runs made before migration 0012 keep their
-- list as JSON in ASSIGNMENT_RUNS.UNASSIGNED and are not in this view.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_UNASSIGNED_AGENTS AS
SELECT u.RUN_ID,
       r.METHOD,
       r.STATUS,
       r.CREATED_AT,
       u.AGENT_ID,
       u.REASON
  FROM ASSIGNMENT_RUN_UNASSIGNED u
  JOIN ASSIGNMENT_RUNS r ON r.RUN_ID = u.RUN_ID;
