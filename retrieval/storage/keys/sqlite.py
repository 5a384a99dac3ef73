"""API keys in SQLite: the ``api_keys`` table in CITEBOT_HOME/citebot.sqlite3, on its own connection.

WAL mode and a busy timeout, so a `citebot keys add` while the server runs waits for the corpus writer
instead of failing; one lock around the connection makes it safe for the server's worker threads.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..migrations import Migration, apply_sqlite
from .base import ApiKey, Keys, StoredKey

COMPONENT = "api_keys"
MIGRATIONS = (
    Migration(1, "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
                 "role TEXT NOT NULL, token_hash TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT)"),
)
_COLUMNS = "key_id, name, role, created, revoked, token_hash"


def _row(row: tuple) -> StoredKey:
    return StoredKey(ApiKey(row[0], row[1], row[2], row[3], row[4]), row[5])


class SQLiteKeys(Keys):
    def __init__(self, path: Path | str, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=timeout, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        apply_sqlite(self._db, COMPONENT, MIGRATIONS)

    def _insert(self, row: StoredKey) -> bool:
        k = row.key
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO api_keys (key_id, name, role, token_hash, created, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?)", (k.key_id, k.name, k.role, row.token_hash, k.created, k.revoked))
            return cur.rowcount == 1

    def _rows(self) -> list[StoredKey]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY rowid").fetchall()
        return [_row(r) for r in rows]

    def _get(self, key_id: str) -> StoredKey | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return _row(row) if row else None

    def _set_revoked(self, key_id: str, when: str) -> None:
        with self._lock:
            self._db.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL", (when, key_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()
