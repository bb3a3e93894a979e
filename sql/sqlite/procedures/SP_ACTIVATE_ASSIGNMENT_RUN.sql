-- SP_ACTIVATE_ASSIGNMENT_RUN: makes a pending run's assignments the active ones, atomically.
-- For every agent of the run, its active assignment (if any) becomes superseded and the run's
-- pending one becomes active; runs left without an active assignment become superseded.
-- Readers never see zero or two active assignments for an agent: this runs in the caller's
-- transaction (BEGIN IMMEDIATE on SQLite) and UX_ASSIGNMENTS_ONE_ACTIVE refuses a second one.
-- Inputs:  p_run_id.
-- Returns: the run's assignments (AGENT_ID, MODEL_ID, ASSIGNMENT_ID, SCORE), now active.
-- Errors:  10003 unknown run; 10005 run not pending (active, superseded, dry run);
--          10006 run holds no assignments.
-- Security: writes assignments and runs; ROUTER_APP (admin operations).
-- params: p_run_id
SELECT RAISE_ERROR(10003, 'unknown assignment run ' || COALESCE(:p_run_id, 'NULL'))
 WHERE NOT EXISTS (SELECT 1 FROM ASSIGNMENT_RUNS WHERE RUN_ID = :p_run_id);

SELECT RAISE_ERROR(10005, 'assignment run ' || RUN_ID || ' is ' || STATUS || ', not pending')
  FROM ASSIGNMENT_RUNS
 WHERE RUN_ID = :p_run_id AND STATUS <> 'pending';

SELECT RAISE_ERROR(10006, 'assignment run ' || :p_run_id || ' holds no assignments')
 WHERE NOT EXISTS (SELECT 1 FROM AGENT_MODEL_ASSIGNMENTS WHERE RUN_ID = :p_run_id);

UPDATE AGENT_MODEL_ASSIGNMENTS
   SET STATUS = 'superseded', SUPERSEDED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE STATUS = 'active'
   AND AGENT_ID IN (SELECT AGENT_ID FROM AGENT_MODEL_ASSIGNMENTS WHERE RUN_ID = :p_run_id);

UPDATE AGENT_MODEL_ASSIGNMENTS
   SET STATUS = 'active', ACTIVATED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE RUN_ID = :p_run_id;

UPDATE ASSIGNMENT_RUNS
   SET STATUS = 'active', ACTIVATED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE RUN_ID = :p_run_id;

UPDATE ASSIGNMENT_RUNS
   SET STATUS = 'superseded'
 WHERE STATUS = 'active' AND RUN_ID <> :p_run_id
   AND NOT EXISTS (SELECT 1 FROM AGENT_MODEL_ASSIGNMENTS a
                    WHERE a.RUN_ID = ASSIGNMENT_RUNS.RUN_ID AND a.STATUS = 'active');

SELECT AGENT_ID, MODEL_ID, ASSIGNMENT_ID, SCORE
  FROM AGENT_MODEL_ASSIGNMENTS
 WHERE RUN_ID = :p_run_id
 ORDER BY AGENT_ID;
