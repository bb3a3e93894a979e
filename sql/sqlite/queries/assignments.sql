-- Assignment runs and assignments. Assignments are inserted pending and become active only
-- through SP_ACTIVATE_ASSIGNMENT_RUN. Security: writes ROUTER_APP (admin); reads every role.

-- name: insert-assignment-run
INSERT INTO ASSIGNMENT_RUNS (RUN_ID, METHOD, STATUS, TOTAL_SCORE, GREEDY_TOTAL_SCORE,
                             IMPROVEMENT_PCT, CREATED_AT)
VALUES (:run_id, :method, :status, :total_score, :greedy_total_score,
        :improvement_pct, :created_at);

-- name: insert-run-unassigned
-- One row per agent the run could not place (ASSIGNMENT_RUNS.UNASSIGNED, a JSON list, is read
-- only for runs made before migration 0012).
INSERT INTO ASSIGNMENT_RUN_UNASSIGNED (RUN_ID, AGENT_ID, REASON)
VALUES (:run_id, :agent_id, :reason);

-- name: list-run-unassigned
SELECT RUN_ID, AGENT_ID, REASON
  FROM ASSIGNMENT_RUN_UNASSIGNED
 WHERE RUN_ID = :run_id
 ORDER BY AGENT_ID;

-- name: list-unassigned-of-runs-since
-- The unassigned agents of every run created at or after :since (the oldest run of a page of
-- list-assignment-runs); the caller keeps those of the page's runs.
SELECT U.RUN_ID, U.AGENT_ID, U.REASON
  FROM ASSIGNMENT_RUN_UNASSIGNED U
  JOIN ASSIGNMENT_RUNS R ON R.RUN_ID = U.RUN_ID
 WHERE R.CREATED_AT >= :since
 ORDER BY U.RUN_ID, U.AGENT_ID;

-- name: insert-assignment
INSERT INTO AGENT_MODEL_ASSIGNMENTS (ASSIGNMENT_ID, RUN_ID, AGENT_ID, MODEL_ID, SCORE, METHOD,
                                     STATUS, ASSIGNED_AT)
VALUES (:assignment_id, :run_id, :agent_id, :model_id, :score, :method,
        'pending', :assigned_at);

-- name: get-assignment-run
SELECT RUN_ID, METHOD, STATUS, TOTAL_SCORE, GREEDY_TOTAL_SCORE, IMPROVEMENT_PCT, UNASSIGNED,
       CREATED_AT, ACTIVATED_AT
  FROM ASSIGNMENT_RUNS
 WHERE RUN_ID = :run_id;

-- name: get-latest-assignment-run
-- The newest run of any method and status (dashboard: last auto-assign vs greedy).
SELECT RUN_ID, METHOD, STATUS, TOTAL_SCORE, GREEDY_TOTAL_SCORE, IMPROVEMENT_PCT, UNASSIGNED,
       CREATED_AT, ACTIVATED_AT
  FROM ASSIGNMENT_RUNS
 ORDER BY CREATED_AT DESC, RUN_ID DESC
 LIMIT 1;

-- name: list-assignment-runs
-- The newest :limit runs first, with their totals (scores, improvement, unassigned agents).
-- :scored_only = 1 keeps the runs that have a total score (auto-assign runs, dry runs included;
-- a manual pin has none), 0 keeps every run.
SELECT RUN_ID, METHOD, STATUS, TOTAL_SCORE, GREEDY_TOTAL_SCORE, IMPROVEMENT_PCT, UNASSIGNED,
       CREATED_AT, ACTIVATED_AT
  FROM ASSIGNMENT_RUNS
 WHERE TOTAL_SCORE IS NOT NULL OR :scored_only = 0
 ORDER BY CREATED_AT DESC, RUN_ID DESC
 LIMIT :limit;

-- name: list-run-assignments
SELECT ASSIGNMENT_ID, RUN_ID, AGENT_ID, MODEL_ID, SCORE, METHOD, STATUS, ASSIGNED_AT
  FROM AGENT_MODEL_ASSIGNMENTS
 WHERE RUN_ID = :run_id
 ORDER BY AGENT_ID;

-- name: list-active-assignments
SELECT AGENT_ID, MODEL_ID, ASSIGNMENT_ID, RUN_ID, SCORE, METHOD, ASSIGNED_AT, ACTIVATED_AT,
       TOTAL_REQUESTS, SUCCESS_COUNT, FAILURE_COUNT, SUCCESS_RATE, TOTAL_LATENCY_MS,
       AVG_LATENCY_MS, LAST_USED_AT
  FROM V_ACTIVE_ASSIGNMENTS
 ORDER BY AGENT_ID;
