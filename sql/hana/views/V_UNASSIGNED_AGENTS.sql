-- V_UNASSIGNED_AGENTS: the agents each assignment run could not place, with the reason ("no
-- feasible model": no model meets its hard constraints; "capacity exhausted": feasible models
-- were full) and the run's method, status and time. Runs made before migration 0012 keep their
-- list as JSON in ASSIGNMENT_RUNS.UNASSIGNED and are not in this view.
-- Inputs: none. Security: read-only; BI surface: SELECT granted to ROUTER_BI_READER.
CREATE OR REPLACE VIEW V_UNASSIGNED_AGENTS (
    RUN_ID, METHOD, STATUS, CREATED_AT, AGENT_ID, REASON
) AS
SELECT u.RUN_ID,
       r.METHOD,
       r.STATUS,
       r.CREATED_AT,
       u.AGENT_ID,
       u.REASON
  FROM ASSIGNMENT_RUN_UNASSIGNED u
  JOIN ASSIGNMENT_RUNS r ON r.RUN_ID = u.RUN_ID;
COMMENT ON COLUMN V_UNASSIGNED_AGENTS.RUN_ID IS 'Assignment run (ASSIGNMENT_RUNS.RUN_ID)';
COMMENT ON COLUMN V_UNASSIGNED_AGENTS.METHOD IS 'hungarian or greedy';
COMMENT ON COLUMN V_UNASSIGNED_AGENTS.STATUS IS 'Status of the run: pending, active, superseded or dry_run';
COMMENT ON COLUMN V_UNASSIGNED_AGENTS.CREATED_AT IS 'When the run was made (UTC)';
COMMENT ON COLUMN V_UNASSIGNED_AGENTS.AGENT_ID IS 'Agent the run could not place (AGENTS.AGENT_ID)';
COMMENT ON COLUMN V_UNASSIGNED_AGENTS.REASON IS 'no feasible model, or capacity exhausted';
