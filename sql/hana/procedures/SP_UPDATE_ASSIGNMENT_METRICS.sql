-- SP_UPDATE_ASSIGNMENT_METRICS: counts one outcome against one assignment (the seed's operation;
-- batches go through SP_APPLY_OUTCOMES instead).
-- Inputs:  p_assignment_id; p_success 0/1; p_latency_ms >= 0.
-- Returns: the assignment's counters after the update.
-- Errors:  10001 p_success not 0/1 or p_latency_ms negative or missing;
--          10002 unknown assignment (never a silent no-op).
-- Security: writes AGENT_MODEL_ASSIGNMENTS; granted to ROUTER_APP. Does not commit.
CREATE OR REPLACE PROCEDURE SP_UPDATE_ASSIGNMENT_METRICS(
    IN p_assignment_id NVARCHAR(128),
    IN p_success TINYINT,
    IN p_latency_ms DOUBLE)
  LANGUAGE SQLSCRIPT SQL SECURITY INVOKER AS
BEGIN
  DECLARE v_message NVARCHAR(500);
  IF :p_success IS NULL OR (:p_success <> 0 AND :p_success <> 1) THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_success must be 0 or 1';
  END IF;
  IF :p_latency_ms IS NULL OR :p_latency_ms < 0 THEN
    SIGNAL SQL_ERROR_CODE 10001 SET MESSAGE_TEXT = 'p_latency_ms must be a number >= 0';
  END IF;
  UPDATE AGENT_MODEL_ASSIGNMENTS
     SET TOTAL_REQUESTS = TOTAL_REQUESTS + 1,
         SUCCESS_COUNT = SUCCESS_COUNT + :p_success,
         FAILURE_COUNT = FAILURE_COUNT + 1 - :p_success,
         TOTAL_LATENCY_MS = TOTAL_LATENCY_MS + :p_latency_ms,
         AVG_LATENCY_MS = (TOTAL_LATENCY_MS + :p_latency_ms) / (TOTAL_REQUESTS + 1),
         LAST_USED_AT = CURRENT_UTCTIMESTAMP
   WHERE ASSIGNMENT_ID = :p_assignment_id;
  IF ::ROWCOUNT = 0 THEN
    v_message = 'unknown assignment ' || COALESCE(:p_assignment_id, 'NULL');
    SIGNAL SQL_ERROR_CODE 10002 SET MESSAGE_TEXT = :v_message;
  END IF;
  SELECT ASSIGNMENT_ID, TOTAL_REQUESTS, SUCCESS_COUNT, FAILURE_COUNT, TOTAL_LATENCY_MS,
         AVG_LATENCY_MS, LAST_USED_AT
    FROM AGENT_MODEL_ASSIGNMENTS
   WHERE ASSIGNMENT_ID = :p_assignment_id;
END;
