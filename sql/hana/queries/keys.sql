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
   SET REVOKED_AT = CURRENT_UTCTIMESTAMP
 WHERE KEY_ID = :key_id AND REVOKED_AT IS NULL;
