-- depends: 0010_create_model_metrics_minutely
-- IX_DECISIONS_DECIDED_AT (DECIDED_AT) becomes (DECIDED_AT, CACHE_HIT), same name: the
-- dashboard's V_ROUTING_MINUTELY_1H, refreshed every 5 s per open tab, counts the last hour's
-- decisions and sums their CACHE_HIT, and with the flag in the index it reads the index only
-- (USING COVERING INDEX) instead of one table row per decision (measured with 900,000 decisions
-- in the window, counted per minute range: 147 ms with the table rows, 70 ms from the index).
-- Every other reader of the index (list-decisions-since, SP_PURGE_HISTORY) still finds the rows
-- in DECIDED_AT order (same query plans); an insert still writes one index entry, one byte
-- longer. Building it reads every stored decision once, inside the migration's transaction.
DROP INDEX IX_DECISIONS_DECIDED_AT;

CREATE INDEX IX_DECISIONS_DECIDED_AT ON ROUTING_DECISIONS (DECIDED_AT, CACHE_HIT);
