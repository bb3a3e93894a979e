-- SP_UPDATE_ASSIGNMENT_METRICS: counts one outcome against one assignment (the seed's operation;
-- batches go through SP_APPLY_OUTCOMES instead).
-- Inputs:  p_assignment_id; p_success 0/1; p_latency_ms >= 0.
-- Returns: the assignment's counters after the update.
-- Errors:  10001 p_success not 0/1 or p_latency_ms negative or missing;
--          10002 unknown assignment (never a silent no-op).
-- Security: writes AGENT_MODEL_ASSIGNMENTS; ROUTER_APP.
-- params: p_assignment_id, p_success, p_latency_ms
SELECT RAISE_ERROR(10001, 'p_success must be 0 or 1')
 WHERE :p_success IS NULL OR :p_success NOT IN (0, 1);

SELECT RAISE_ERROR(10001, 'p_latency_ms must be a number >= 0')
 WHERE :p_latency_ms IS NULL OR :p_latency_ms < 0;

SELECT RAISE_ERROR(10002, 'unknown assignment ' || COALESCE(:p_assignment_id, 'NULL'))
 WHERE NOT EXISTS (SELECT 1 FROM AGENT_MODEL_ASSIGNMENTS WHERE ASSIGNMENT_ID = :p_assignment_id);

UPDATE AGENT_MODEL_ASSIGNMENTS
   SET TOTAL_REQUESTS = TOTAL_REQUESTS + 1,
       SUCCESS_COUNT = SUCCESS_COUNT + :p_success,
       FAILURE_COUNT = FAILURE_COUNT + 1 - :p_success,
       TOTAL_LATENCY_MS = TOTAL_LATENCY_MS + :p_latency_ms,
       AVG_LATENCY_MS = (TOTAL_LATENCY_MS + :p_latency_ms) / (TOTAL_REQUESTS + 1),
       LAST_USED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE ASSIGNMENT_ID = :p_assignment_id;

SELECT ASSIGNMENT_ID, TOTAL_REQUESTS, SUCCESS_COUNT, FAILURE_COUNT, TOTAL_LATENCY_MS,
       AVG_LATENCY_MS, LAST_USED_AT
  FROM AGENT_MODEL_ASSIGNMENTS
 WHERE ASSIGNMENT_ID = :p_assignment_id;
