-- partition_history.sql: optional, for a DBA to run once as the schema owner after `model-router
-- migrate` (not run by the deploy step). Range-partitions the two fact tables by decision time:
-- one first range for everything before 2026, then one partition per month, created by HANA as
-- rows arrive (dynamic range partitioning). Both primary keys already hold DECIDED_AT, as HANA
-- requires of a partitioning column (migration 0003). Worth it once the tables hold hundreds of
-- millions of rows or the purge should drop old months cheaply; until then one partition is fine.
-- The form follows SAP's "Heterogeneous Create Partition Clauses" (a range, then OTHERS DYNAMIC
-- INTERVAL <n> MONTH, documented for DATE, SECONDDATE and LONGDATE, i.e. TIMESTAMP, columns).
-- NOT VERIFIED on a HANA server: run it on a copy first (docs/HANA_INTEGRATION_GUIDE.md §9).
-- Repartitioning rewrites the table: run it in a quiet hour.
ALTER TABLE ROUTING_DECISIONS PARTITION BY RANGE (DECIDED_AT)
    ((PARTITION '2000-01-01' <= VALUES < '2026-01-01', PARTITION OTHERS DYNAMIC INTERVAL 1 MONTH));

ALTER TABLE INFERENCE_METRICS PARTITION BY RANGE (DECIDED_AT)
    ((PARTITION '2000-01-01' <= VALUES < '2026-01-01', PARTITION OTHERS DYNAMIC INTERVAL 1 MONTH));
