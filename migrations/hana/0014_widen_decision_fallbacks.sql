-- depends: 0013_create_dashboard_sessions
-- ROUTING_DECISIONS.FALLBACKS holds the decision's fallbacks as JSON, up to 3 models with their
-- endpoints (each up to 2,048 characters, non-ASCII escaped six-fold by the JSON): an
-- NVARCHAR(5000) overflowed (HANA 274) on a route the API accepts. NCLOB holds any. A column's
-- type is changed by a new column, a copy and a rename (each documented HANA DDL); the copy
-- rewrites every stored decision once, inside the migration's transaction.
ALTER TABLE ROUTING_DECISIONS ADD (FALLBACKS_NCLOB NCLOB);

UPDATE ROUTING_DECISIONS SET FALLBACKS_NCLOB = FALLBACKS;

ALTER TABLE ROUTING_DECISIONS DROP (FALLBACKS);

RENAME COLUMN ROUTING_DECISIONS.FALLBACKS_NCLOB TO FALLBACKS;
