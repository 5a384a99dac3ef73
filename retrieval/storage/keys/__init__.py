"""API keys (the HTTP API's readers and admins), stored hashed beside the corpus: ``open_keys(settings)``.

The base class and dataclasses are in ``base``; one module per engine (``sqlite``, ``postgres``), chosen
exactly like the corpus store: PostgreSQL when CITEBOT_DATABASE_URL is a postgresql:// URL, so every
`citebot serve` process on every machine sees the same keys.
"""
from __future__ import annotations

from typing import Any

from .base import ROLES, ApiKey, Keys, NewKey, StoredKey, hash_token, key_id_of

__all__ = ["ROLES", "ApiKey", "Keys", "NewKey", "StoredKey", "hash_token", "key_id_of", "open_keys"]


def open_keys(settings: Any) -> Keys:
    """The keys store for ``settings`` (its tables are created or upgraded on open)."""
    from ..urls import is_postgres_url

    url = settings.database_url or ""
    if is_postgres_url(url):
        from .postgres import PostgresKeys

        return PostgresKeys(url)
    from .sqlite import SQLiteKeys

    return SQLiteKeys(settings.home_path / "citebot.sqlite3")
