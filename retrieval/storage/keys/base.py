"""API keys as stored: the base class both engines share, the key dataclasses and the token format.

Only a SHA-256 hash of each key is stored (the key is random, 192 bits, so a plain hash is enough and a
stolen database gives no usable key); the key itself is returned once, by :meth:`Keys.create`. A token
reads ``cbk_<id>_<secret>``: the public ``id`` finds the row, the hash of the whole token is compared in
constant time. Revoked keys stay listed (who had access, and until when) but never verify.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone

from ...errors import UserError

ROLES = ("reader", "admin")
PREFIX = "cbk_"
_TOKEN = re.compile(r"^cbk_([0-9a-f]{10})_[A-Za-z0-9_-]{20,100}$")
MAX_NAME = 200


@dataclass(frozen=True)
class ApiKey:
    """One key as listed: never its secret. ``revoked`` is the UTC time it was revoked, or None."""

    key_id: str
    name: str
    role: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``token`` is the only copy of the secret (shown once, never stored)."""

    key: ApiKey
    token: str


@dataclass(frozen=True)
class StoredKey:
    """A row as an engine returns it: the key and the hash of its token."""

    key: ApiKey
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_id_of(token: str) -> str | None:
    """The id part of a well-formed token, or None (anything else is not a stored key)."""
    match = _TOKEN.match(token or "")
    return match.group(1) if match else None


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown key role {role!r}; choose one of: {', '.join(ROLES)}", code="bad_role", role=role)
    return role


class Keys(ABC):
    """The API keys of one store (SQLite in CITEBOT_HOME or the PostgreSQL database). Thread-safe."""

    def create(self, name: str, role: str = "reader") -> NewKey:
        """A new key with a fresh random secret; the returned token is the only copy of it."""
        name = " ".join((name or "").split())[:MAX_NAME]
        check_role(role)
        while True:
            key_id = secrets.token_hex(5)
            token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
            key = ApiKey(key_id, name, role, utc_now())
            if self._insert(StoredKey(key, hash_token(token))):
                return NewKey(key, token)

    def list(self, include_revoked: bool = True) -> list[ApiKey]:
        """Keys by creation time (revoked ones too unless ``include_revoked`` is False)."""
        keys = [row.key for row in self._rows()]
        return keys if include_revoked else [k for k in keys if k.active]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id (the part after ``cbk_``); UserError ``no_key`` when there is none."""
        key_id = (key_id or "").strip().removeprefix(PREFIX).split("_")[0]
        row = self._get(key_id) if re.fullmatch(r"[0-9a-f]{10}", key_id) else None
        if row is None:
            raise UserError(f"no API key {key_id!r}", code="no_key", ref=key_id)
        if not row.key.active:
            return row.key
        when = utc_now()
        self._set_revoked(key_id, when)
        return ApiKey(row.key.key_id, row.key.name, row.key.role, row.key.created, when)

    def verify(self, token: str) -> ApiKey | None:
        """The active key ``token`` belongs to, or None (unknown, malformed or revoked)."""
        key_id = key_id_of(token)
        if key_id is None:
            return None
        row = self._get(key_id)
        if row is None or not row.key.active or not hmac.compare_digest(row.token_hash, hash_token(token)):
            return None
        return row.key

    def count_active(self) -> int:
        return sum(1 for row in self._rows() if row.key.active)

    # -- what an engine implements --------------------------------------------------------------------
    @abstractmethod
    def _insert(self, row: StoredKey) -> bool:
        """Store a new row; False when its id is taken (the caller draws another)."""

    @abstractmethod
    def _rows(self) -> list[StoredKey]:
        """Every row, oldest first."""

    @abstractmethod
    def _get(self, key_id: str) -> StoredKey | None:
        ...

    @abstractmethod
    def _set_revoked(self, key_id: str, when: str) -> None:
        ...

    @abstractmethod
    def close(self) -> None:
        ...
