-- Statements of the one-shot HANA initialisation (init_hana.py), in aiosql's `-- name:` form.
-- Run on the tenant database. {user}, {password} and {role} are filled in by init_hana.py only
-- after they have been checked against a strict pattern (identifiers and passwords cannot be
-- bound as parameters in DDL); ? is a bound parameter.
-- Security: the SYSTEM statements need USER ADMIN and ROLE ADMIN; the owner statements run as
-- the schema owner, who holds every privilege on its own objects.

-- name: count-users
-- As SYSTEM: 1 when the user exists.
SELECT COUNT(*) AS N FROM SYS.USERS WHERE USER_NAME = ?;

-- name: count-roles
-- As SYSTEM: 1 when the role exists (CREATE ROLE has no IF NOT EXISTS).
SELECT COUNT(*) AS N FROM SYS.ROLES WHERE ROLE_NAME = ?;

-- name: create-user
-- As SYSTEM: a user and its own schema of the same name.
CREATE USER {user} PASSWORD "{password}" NO FORCE_FIRST_PASSWORD_CHANGE;

-- name: disable-password-lifetime
-- As SYSTEM: a technical user's password must not expire under a running service.
ALTER USER {user} DISABLE PASSWORD LIFETIME;

-- name: create-role
-- As SYSTEM, for each CREATE ROLE of sql/hana/roles.sql whose role does not exist yet.
CREATE ROLE {role};

-- name: grant-role
-- As SYSTEM: ROLE ADMIN may grant any role.
GRANT {role} TO {user};
