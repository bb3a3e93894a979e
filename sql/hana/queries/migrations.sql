-- Migration state, read-only, for the readiness check (GET /readyz): the hashes of the
-- migrations yoyo has applied (yoyo keys a migration by the SHA-256 of its id). Runs as the
-- service user, who holds SELECT on yoyo's tables and nothing more (roles.sql); readiness never
-- builds a yoyo backend, which would create its lock table and probe DDL.

-- name: list-applied-migrations
SELECT "migration_hash" AS MIGRATION_HASH FROM "_yoyo_migration";
