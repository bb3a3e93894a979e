-- V_ACTIVE_ASSIGNMENTS: the active assignment of every agent that has one (at most one per agent,
-- enforced by UX_ASSIGNMENTS_ONE_ACTIVE), with the run that made it and its outcome counters.
-- Inputs: none. Reads AGENT_MODEL_ASSIGNMENTS only (index UX_ASSIGNMENTS_ONE_ACTIVE).
-- Security: read-only; no secrets. BI surface (ROUTER_BI_READER on HANA).
CREATE VIEW V_ACTIVE_ASSIGNMENTS AS
SELECT a.AGENT_ID,
       a.MODEL_ID,
       a.ASSIGNMENT_ID,
       a.RUN_ID,
       a.SCORE,
       a.METHOD,
       a.ASSIGNED_AT,
       a.ACTIVATED_AT,
       a.TOTAL_REQUESTS,
       a.SUCCESS_COUNT,
       a.FAILURE_COUNT,
       CASE WHEN a.TOTAL_REQUESTS > 0
            THEN CAST(a.SUCCESS_COUNT AS REAL) / a.TOTAL_REQUESTS END AS SUCCESS_RATE,
       a.TOTAL_LATENCY_MS,
       a.AVG_LATENCY_MS,
       a.LAST_USED_AT
  FROM AGENT_MODEL_ASSIGNMENTS a
 WHERE a.STATUS = 'active';
