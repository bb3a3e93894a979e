-- Dashboard login sessions (DASHBOARD_SESSIONS). Inputs: the SHA-256 of the session id in the
-- signed cookie, times bound by the caller (UTC). Security: ROUTER_APP; no key material here.

-- name: insert-dashboard-session
INSERT INTO DASHBOARD_SESSIONS (SESSION_ID, KEY_ID, CREATED_AT, EXPIRES_AT)
VALUES (:session_id, :key_id, :created_at, :expires_at);

-- name: get-dashboard-session
-- The session, if still open at :now, with its key's role and revocation: one read per
-- dashboard request.
SELECT S.KEY_ID, K.ROLE, K.REVOKED_AT
  FROM DASHBOARD_SESSIONS S
  JOIN API_KEYS K ON K.KEY_ID = S.KEY_ID
 WHERE S.SESSION_ID = :session_id AND S.ENDED_AT IS NULL AND S.EXPIRES_AT > :now;

-- name: end-dashboard-session
UPDATE DASHBOARD_SESSIONS
   SET ENDED_AT = :ended_at
 WHERE SESSION_ID = :session_id AND ENDED_AT IS NULL;

-- name: delete-expired-dashboard-sessions
DELETE FROM DASHBOARD_SESSIONS
 WHERE EXPIRES_AT < :before;
