-- V_TOP_AGENT_MODEL_PAIRS: the 100 (agent, model) pairs with the most requests since the rollups
-- began (SP_GET_TOP_AGENT_MODEL_PAIRS takes any limit up to 1000), with success rate, average
-- and p50/p95/p99 latency from the pair's histogram (nearest rank, within 2 %) and tokens.
-- Inputs: none. Security: read-only; BI surface.
CREATE VIEW V_TOP_AGENT_MODEL_PAIRS AS
WITH top AS (
    SELECT AGENT_ID, MODEL_ID, REQUESTS, SUCCESSES, LATENCY_SUM_MS, TOKENS_IN, TOKENS_OUT,
           LAST_HOUR,
           ROW_NUMBER() OVER (ORDER BY REQUESTS DESC, AGENT_ID, MODEL_ID) AS RANK
      FROM AGENT_MODEL_METRICS_TOTAL
     WHERE REQUESTS > 0
), chosen AS (
    SELECT * FROM top WHERE RANK <= 100
), cumulative AS (
    SELECT l.AGENT_ID, l.MODEL_ID, l.BUCKET,
           SUM(l.SAMPLES) OVER (PARTITION BY l.AGENT_ID, l.MODEL_ID ORDER BY l.BUCKET
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS CUM,
           SUM(l.SAMPLES) OVER (PARTITION BY l.AGENT_ID, l.MODEL_ID) AS N
      FROM chosen c
      JOIN AGENT_MODEL_LATENCY_TOTAL l ON l.AGENT_ID = c.AGENT_ID AND l.MODEL_ID = c.MODEL_ID
), ranks AS (
    SELECT AGENT_ID, MODEL_ID,
           MIN(CASE WHEN CUM >= ceil(50 * N / 100.0) THEN BUCKET END) AS B50,
           MIN(CASE WHEN CUM >= ceil(95 * N / 100.0) THEN BUCKET END) AS B95,
           MIN(CASE WHEN CUM >= ceil(99 * N / 100.0) THEN BUCKET END) AS B99
      FROM cumulative
     GROUP BY AGENT_ID, MODEL_ID
)
SELECT c.RANK,
       c.AGENT_ID,
       c.MODEL_ID,
       c.REQUESTS,
       c.SUCCESSES,
       c.REQUESTS - c.SUCCESSES AS FAILURES,
       CAST(c.SUCCESSES AS REAL) / c.REQUESTS AS SUCCESS_RATE,
       c.LATENCY_SUM_MS / c.REQUESTS AS AVG_LATENCY_MS,
       CASE WHEN r.B50 = -32768 THEN 0.0 ELSE pow(1.04, r.B50 - 0.5) END AS P50_LATENCY_MS,
       CASE WHEN r.B95 = -32768 THEN 0.0 ELSE pow(1.04, r.B95 - 0.5) END AS P95_LATENCY_MS,
       CASE WHEN r.B99 = -32768 THEN 0.0 ELSE pow(1.04, r.B99 - 0.5) END AS P99_LATENCY_MS,
       c.TOKENS_IN,
       c.TOKENS_OUT,
       c.LAST_HOUR
  FROM chosen c
  JOIN ranks r ON r.AGENT_ID = c.AGENT_ID AND r.MODEL_ID = c.MODEL_ID;
