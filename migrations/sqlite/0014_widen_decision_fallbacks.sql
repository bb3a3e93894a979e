-- depends: 0013_create_dashboard_sessions
-- The HANA twin turns ROUTING_DECISIONS.FALLBACKS (JSON of up to 3 fallbacks with endpoints of
-- up to 2,048 characters) from an NVARCHAR(5000) into an NCLOB. SQLite's TEXT holds any length
-- already: nothing to change here, one statement so the twins stay in step.
SELECT 1;
