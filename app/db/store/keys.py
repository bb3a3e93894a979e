"""API keys: only a hash of each secret is stored; revoking keeps the row."""

from __future__ import annotations

from app.db.store._common import api_time, reading, write


def create_api_key(db, key_id: str, key_hash: str, role: str, label: str | None = None) -> dict:
    """Store a key (role admin/router/viewer); a taken id raises errors.UniqueViolation."""

    def work(c):
        db.execute(
            c,
            "insert-api-key",
            {"key_id": key_id, "key_hash": key_hash, "role": role, "label": label},
        )
        return _key(db.query(c, "get-api-key", {"key_id": key_id})[0])

    return write(db, work)


def get_api_key(db, key_id: str) -> dict | None:
    """The key's record including its hash (for verification only), or None."""
    with reading(db) as conn:
        rows = db.query(conn, "get-api-key", {"key_id": key_id})
    return {**_key(rows[0]), "key_hash": rows[0]["key_hash"]} if rows else None


def list_api_keys(db, after: str | None = None, limit: int = 100) -> list[dict]:
    """Keys sorted by id after `after`, without their hashes."""
    with reading(db) as conn:
        rows = db.query(conn, "list-api-keys", {"after": after or "", "limit": int(limit)})
    return [_key(r) for r in rows]


def count_active_api_keys(db, role: str | None = None) -> int:
    with reading(db) as conn:
        return int(db.query(conn, "count-active-api-keys", {"role": role})[0]["active_keys"])


def revoke_api_key(db, key_id: str, keep_an_admin: bool = False) -> tuple[dict | None, bool]:
    """Revoke a key (a revoked key stays revoked, first time kept).

    Returns (its record, None when unknown; whether this call revoked it). With
    `keep_an_admin` the last active admin key is not revoked: checked and revoked in one
    transaction that first locks the active admin keys, so two admins revoking each other at
    the same moment cannot both succeed.
    """

    def work(c):
        if keep_an_admin:
            db.query(c, "lock-active-admin-keys")
            changed = db.execute(c, "revoke-api-key-keeping-an-admin", {"key_id": key_id})
        else:
            changed = db.execute(c, "revoke-api-key", {"key_id": key_id})
        rows = db.query(c, "get-api-key", {"key_id": key_id})
        return (_key(rows[0]) if rows else None), changed > 0

    return write(db, work)


def _key(row: dict) -> dict:
    return {
        "key_id": row["key_id"],
        "role": row["role"],
        "label": row["label"],
        "created_at": api_time(row["created_at"]),
        "revoked_at": api_time(row["revoked_at"]),
    }
