"""Dashboard login sessions: opened at login, ended at logout, read on each dashboard request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.store._common import db_time, reading, write

# rows past their expiry are kept this long (a late request sees "expired", not "unknown")
_KEEP_EXPIRED = timedelta(days=1)


def open_dashboard_session(db, session_id: str, key_id: str, lifetime: timedelta) -> None:
    """Store a session (its id already hashed by the caller); drops long-expired ones."""
    now = datetime.now(UTC)

    def work(c):
        db.execute(c, "delete-expired-dashboard-sessions", {"before": db_time(now - _KEEP_EXPIRED)})
        db.execute(
            c,
            "insert-dashboard-session",
            {
                "session_id": session_id,
                "key_id": key_id,
                "created_at": db_time(now),
                "expires_at": db_time(now + lifetime),
            },
        )

    write(db, work)


def get_dashboard_session(db, session_id: str) -> dict | None:
    """{"key_id", "role", "revoked_at"} of an open session, None when ended, expired or unknown."""
    with reading(db) as conn:
        rows = db.query(
            conn,
            "get-dashboard-session",
            {"session_id": session_id, "now": db_time(datetime.now(UTC))},
        )
    return rows[0] if rows else None


def end_dashboard_session(db, session_id: str) -> bool:
    """End a session now; False when it was not open."""

    def work(c):
        ended = {"session_id": session_id, "ended_at": db_time(datetime.now(UTC))}
        return db.execute(c, "end-dashboard-session", ended) > 0

    return write(db, work)
