-- SP_ACTIVATE_ASSIGNMENT_RUN: makes a pending run's assignments the active ones, atomically.
-- For every agent of the run, its active assignment (if any) becomes superseded and the run's
-- pending one becomes active; runs left without an active assignment become superseded.
-- Readers never see zero or two active assignments for an agent: all of it is one transaction
-- (the caller's). HANA has no partial unique index, so concurrent activations are serialised by
-- row locks: first on the run (a second activation of the same run waits, then finds it not
-- pending), then on the run's AGENTS rows (activations over common agents queue; each statement
-- after the lock sees the committed swap of the previous one).
-- Inputs:  p_run_id.
-- Returns: the run's assignments (AGENT_ID, MODEL_ID, ASSIGNMENT_ID, SCORE), now active.
-- Errors:  10003 unknown run; 10005 run not pending (active, superseded, dry run);
--          10006 run holds no assignments.
-- Security: writes assignments, runs, AGENTS (lock only); granted to ROUTER_APP. No commit.
CREATE OR REPLACE PROCEDURE SP_ACTIVATE_ASSIGNMENT_RUN(IN p_run_id NVARCHAR(128))
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER AS
BEGIN
  DECLARE v_count INTEGER;
  DECLARE v_status NVARCHAR(16);
  DECLARE v_message NVARCHAR(500);
  UPDATE ASSIGNMENT_RUNS SET STATUS = STATUS WHERE RUN_ID = :p_run_id;
  IF ::ROWCOUNT = 0 THEN
    v_message = 'unknown assignment run ' || COALESCE(:p_run_id, 'NULL');
    SIGNAL SQL_ERROR_CODE 10003 SET MESSAGE_TEXT = :v_message;
  END IF;
  SELECT STATUS INTO v_status FROM ASSIGNMENT_RUNS WHERE RUN_ID = :p_run_id;
  IF :v_status <> 'pending' THEN
    v_message = 'assignment run ' || :p_run_id || ' is ' || :v_status || ', not pending';
    SIGNAL SQL_ERROR_CODE 10005 SET MESSAGE_TEXT = :v_message;
  END IF;
  SELECT COUNT(*) INTO v_count FROM AGENT_MODEL_ASSIGNMENTS WHERE RUN_ID = :p_run_id;
  IF :v_count = 0 THEN
    v_message = 'assignment run ' || :p_run_id || ' holds no assignments';
    SIGNAL SQL_ERROR_CODE 10006 SET MESSAGE_TEXT = :v_message;
  END IF;

  UPDATE AGENTS SET UPDATED_AT = UPDATED_AT
   WHERE AGENT_ID IN (SELECT AGENT_ID FROM AGENT_MODEL_ASSIGNMENTS WHERE RUN_ID = :p_run_id);

  UPDATE AGENT_MODEL_ASSIGNMENTS
     SET STATUS = 'superseded', SUPERSEDED_AT = CURRENT_UTCTIMESTAMP
   WHERE STATUS = 'active'
     AND AGENT_ID IN (SELECT AGENT_ID FROM AGENT_MODEL_ASSIGNMENTS WHERE RUN_ID = :p_run_id);

  UPDATE AGENT_MODEL_ASSIGNMENTS
     SET STATUS = 'active', ACTIVATED_AT = CURRENT_UTCTIMESTAMP
   WHERE RUN_ID = :p_run_id;

  UPDATE ASSIGNMENT_RUNS
     SET STATUS = 'active', ACTIVATED_AT = CURRENT_UTCTIMESTAMP
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
END;
