-- depends: 0010_create_model_metrics_minutely
-- IX_DECISIONS_DECIDED_AT (DECIDED_AT) becomes (DECIDED_AT, CACHE_HIT), same name, to keep the
-- migrations and indexes of both dialects alike. It is for SQLite, where the dashboard's
-- V_ROUTING_MINUTELY_1H then counts the last hour's decisions from the index alone; the column
-- store reads DECIDED_AT and CACHE_HIT as two columns of the current partition either way, so
-- here the change is harmless, neither needed nor expected to speed anything up.
DROP INDEX IX_DECISIONS_DECIDED_AT;

CREATE INDEX IX_DECISIONS_DECIDED_AT ON ROUTING_DECISIONS (DECIDED_AT, CACHE_HIT);
