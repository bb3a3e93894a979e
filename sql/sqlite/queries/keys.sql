-- API keys: only a hash of each secret is stored. Security: admin through ROUTER_APP; the
-- hash is read only by key verification (get-api-key), never listed.

-- name: insert-api-key
INSERT INTO API_KEYS (KEY_ID, KEY_HASH, ROLE, LABEL)
VALUES (:key_id, :key_hash, :role, :label);

-- name: get-api-key
SELECT KEY_ID, KEY_HASH, ROLE, LABEL, CREATED_AT, REVOKED_AT
  FROM API_KEYS
 WHERE KEY_ID = :key_id;

-- name: list-api-keys
SELECT KEY_ID, ROLE, LABEL, CREATED_AT, REVOKED_AT
  FROM API_KEYS
 WHERE KEY_ID > :after
 ORDER BY KEY_ID
 LIMIT :limit;

-- name: count-active-api-keys
SELECT COUNT(*) AS ACTIVE_KEYS
  FROM API_KEYS
 WHERE REVOKED_AT IS NULL AND ROLE = COALESCE(:role, ROLE);

-- name: revoke-api-key
UPDATE API_KEYS
   SET REVOKED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE KEY_ID = :key_id AND REVOKED_AT IS NULL;

-- name: lock-active-admin-keys
-- The first statement of revoke-api-key-keeping-an-admin's transaction. SQLite transactions of
-- this service begin IMMEDIATE (the write lock): nothing else to lock; the twin of HANA's.
SELECT KEY_ID
  FROM API_KEYS
 WHERE ROLE = 'admin' AND REVOKED_AT IS NULL;

-- name: revoke-api-key-keeping-an-admin
-- Revokes the key unless it is the last active admin key (0 rows then), in one statement.
UPDATE API_KEYS
   SET REVOKED_AT = strftime('%Y-%m-%d %H:%M:%f000', 'now')
 WHERE KEY_ID = :key_id AND REVOKED_AT IS NULL
   AND (ROLE <> 'admin'
        OR EXISTS (SELECT 1
                     FROM API_KEYS OTHER
                    WHERE OTHER.ROLE = 'admin' AND OTHER.REVOKED_AT IS NULL
                      AND OTHER.KEY_ID <> :key_id));
