"""API keys: `mr_<key id>_<secret>`, made, verified, listed and revoked (the CLI, the API and the
dashboard login all use this KeyRing).

Keys are made with `secrets` (64-bit key id, 256-bit secret) and only a SHA-256 hash of the secret
is stored (API_KEYS.KEY_HASH); a high-entropy secret needs no slow hash or salt, and the key id is
part of the hashed text so a hash cannot be moved to another row. Comparison is constant time.
Verified keys are cached for KEY_CACHE_TTL_S so the hot path does not read the database per
request; revoking a key through this process drops it from the cache at once, and a revocation
made elsewhere (the CLI, another host) takes effect within the TTL.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from app.db import store
from app.problems import Conflict, NotFound

log = logging.getLogger(__name__)

KEY_PREFIX = "mr"
KEY_CACHE_TTL_S = 5.0
MAX_STALE_S = 3600.0  # default of auth.key_stale_s: a known key outlives an unreadable database
ROLES = ("admin", "router", "viewer")
_TOKEN = re.compile(r"^mr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def new_key() -> tuple[str, str, str]:
    """A fresh (key id, full key to show once, hash to store)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{KEY_PREFIX}_{key_id}_{secret}", hash_secret(key_id, secret)


def hash_secret(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def split_key(presented: str) -> tuple[str, str] | None:
    match = _TOKEN.match(presented)
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str


class KeyRing:
    """Creates, verifies (with a short cache), lists and revokes API keys of one database."""

    def __init__(
        self,
        db,
        ttl_s: float = KEY_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
        *,
        stale_s: float = MAX_STALE_S,
    ) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.stale_s = stale_s
        self.clock = clock
        self._cache: dict[str, tuple[str, str, float]] = {}  # key id -> (hash, role, expires)
        self._refreshing: set[str] = set()
        # ids that named no key: a flood of made-up keys costs one database read per id, not
        # one per request (bounded, short-lived: a key created meanwhile works within ttl_s)
        self._unknown: TTLCache = TTLCache(maxsize=10_000, ttl=ttl_s, timer=clock)
        self._lock = threading.Lock()

    def create(self, role: str, label: str | None = None) -> tuple[dict, str]:
        """Store a new key; returns (its record, the key itself, which is never stored)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        key_id, key, key_hash = new_key()
        record = store.create_api_key(self.db, key_id, key_hash, role, label)
        log.info("API key %s created with role %s", key_id, role)
        return public(record), key

    def verify(self, presented: str) -> Principal | None:
        """The principal of a valid, unrevoked key, else None.

        Known keys are served from memory: within the TTL as they are; past it (up to
        `stale_s`, the setting auth.key_stale_s) still at once while a background read
        refreshes them, so neither a slow nor an unavailable database ever holds up a request
        that presents a known key. By design for outages, a key revoked elsewhere (the CLI,
        another host) while this process cannot read the database keeps working here for up
        to `stale_s`. A key never seen before is read from the database.
        """
        parts = split_key(presented)
        if parts is None:
            return None
        key_id, secret = parts
        now = self.clock()
        with self._lock:
            entry = self._cache.get(key_id)
            if entry is None and key_id in self._unknown:
                return None
        if entry is None or now - entry[2] > self.stale_s:
            entry = self._load(key_id)
            if entry is None:
                return None
        elif entry[2] <= now:
            self._refresh_later(key_id)
        key_hash, role, _ = entry
        if not hmac.compare_digest(hash_secret(key_id, secret).encode(), key_hash.encode()):
            return None
        return Principal(key_id, role)

    def _load(self, key_id: str):
        # bounded: a slow database answers 503 (Retry-After) for a key not known yet, at once
        row = self.db.bounded(store.get_api_key, self.db, key_id)
        with self._lock:
            if row is None or row.get("revoked_at"):
                self._cache.pop(key_id, None)
                if row is None:
                    self._unknown[key_id] = True
                return None
            entry = self._cache[key_id] = (row["key_hash"], row["role"], self.clock() + self.ttl_s)
        return entry

    def _refresh_later(self, key_id: str) -> None:
        with self._lock:
            if key_id in self._refreshing:
                return
            self._refreshing.add(key_id)

        def refresh() -> None:
            try:
                self._load(key_id)
            except Exception as exc:  # database down: keep serving the known key
                log.warning(
                    "API key %s not re-read (%s); serving it from memory",
                    key_id,
                    type(exc).__name__,
                )
            finally:
                with self._lock:
                    self._refreshing.discard(key_id)

        threading.Thread(target=refresh, name="key-refresh", daemon=True).start()

    def revoke(self, key_id: str, keep_an_admin: bool = False) -> dict:
        """Revoke a key at once; returns its record. Revoking twice is harmless.

        Raises NotFound for an unknown id, and Conflict when `keep_an_admin` and this is the
        last active admin key (nobody could administer the service afterwards); that check and
        the revocation are one transaction (store.revoke_api_key).
        """
        with self._lock:
            self._cache.pop(key_id, None)
        record, revoked = store.revoke_api_key(self.db, key_id, keep_an_admin=keep_an_admin)
        with self._lock:  # a verify racing with the revocation may have cached it again
            self._cache.pop(key_id, None)
        if record is None:
            raise NotFound(f"no API key {key_id!r}")
        if not revoked and not record.get("revoked_at"):
            raise Conflict("this is the last active admin key; create another admin key first")
        if revoked:
            log.info("API key %s revoked", key_id)
        return public(record)

    def list(self, after: str | None, limit: int) -> list[dict]:
        return [public(row) for row in store.list_api_keys(self.db, after=after, limit=limit)]

    def active_admins(self) -> int:
        return store.count_active_api_keys(self.db, role="admin")


def public(row: dict) -> dict:
    """A key's record as shown: never its hash."""
    return {key: value for key, value in row.items() if key != "key_hash"}
