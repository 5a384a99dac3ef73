"""Who is calling: API keys (from settings or `citebot keys`), reader vs admin, and the no-key rule.

A key arrives as ``Authorization: Bearer <key>`` (what OpenAI clients send) or ``X-API-Key``. Keys from
CITEBOT_API_KEYS / CITEBOT_API_ADMIN_KEYS are compared in constant time; stored keys are verified against
their hash, and each verification is cached for :data:`CACHE_SECONDS` (a revoked key stops working
within that time on every server).

**With no key configured at all** (no setting, no active stored key) reads are open to clients on the
loopback address only, any presented key is ignored (OpenAI clients always send one), and adding or
removing documents is refused: an admin key must exist first. `citebot serve` also refuses to listen
beyond loopback in that state (api/server.py).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from dataclasses import dataclass
from typing import Any

from retrieval import Keys

from .errors import ApiError

CACHE_SECONDS = 5.0
CACHE_MAX = 10_000


@dataclass(frozen=True)
class Principal:
    """The caller: ``role`` is ``admin``, ``reader`` or ``local`` (no keys configured, loopback client);
    ``ident`` names it in logs and rate limits (a key id, never the key)."""

    role: str
    ident: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def is_loopback(host: str | None) -> bool:
    try:
        return bool(host) and ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def presented_key(headers: Any) -> str:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key", "").strip()


class Authenticator:
    def __init__(self, settings: Any, keys: Keys | None) -> None:
        self.keys = keys
        self.cache_seconds = CACHE_SECONDS
        self._static: list[tuple[bytes, Principal]] = []
        for role, tokens in (("reader", settings.api_keys), ("admin", settings.api_admin_keys)):
            for token in tokens:
                ident = "setting-" + hashlib.sha256(token.encode()).hexdigest()[:10]
                self._static.append((token.encode(), Principal(role, ident)))
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._configured: tuple[float, bool] = (0.0, False)
        self._lock = threading.Lock()

    def configured(self) -> bool:
        """Whether any key exists (settings or store); the store is asked at most every few seconds."""
        if self._static:
            return True
        now = time.monotonic()
        with self._lock:
            at, value = self._configured
            if now - at < self.cache_seconds:
                return value
        value = bool(self.keys is not None and self.keys.count_active() > 0)
        with self._lock:
            self._configured = (now, value)
        return value

    def _lookup(self, token: str) -> Principal | None:
        raw = token.encode()
        for known, principal in self._static:
            if hmac.compare_digest(known, raw):
                return principal
        if self.keys is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
            if hit and now - hit[0] < self.cache_seconds:
                return hit[1]
        key = self.keys.verify(token)
        principal = Principal(key.role, key.key_id) if key else None
        with self._lock:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[token] = (now, principal)
        return principal

    def identify(self, token: str, client_host: str | None, need: str = "reader") -> Principal:
        """The principal for a request, or ApiError 401/403. ``need`` is ``reader`` or ``admin``."""
        if not self.configured():
            if need == "admin":
                raise ApiError(403, "admin_key_required", "adding and removing documents needs an admin key; "
                               "none is configured (create one with `citebot keys add --admin NAME`)")
            if not is_loopback(client_host):
                raise ApiError(401, "api_key_required", "this server has no API keys: it answers only clients "
                               "on its own machine")
            return Principal("local", f"local-{client_host}")
        if not token:
            raise ApiError(401, "api_key_required", "send an API key as `Authorization: Bearer KEY`",
                           {"WWW-Authenticate": "Bearer"})
        principal = self._lookup(token)
        if principal is None:
            raise ApiError(401, "invalid_api_key", "the API key is unknown or revoked", {"WWW-Authenticate": "Bearer"})
        if need == "admin" and not principal.admin:
            raise ApiError(403, "admin_key_required", "this needs an admin key; a reader key may only read")
        return principal
