"""Followed sources in SQLite, in the corpus's own file (``CITEBOT_HOME/citebot.sqlite3``).

Its own connection (autocommit, WAL, a lock around it), so the corpus store is untouched. Two processes
never sync one source at once: ``claim`` takes an exclusive ``flock`` on ``sources/<id>.lock`` beside
the index without waiting; the kernel drops it when the process dies, so a kill -9 leaves no stale lock.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ..migrations import Migration, apply_sqlite
from .base import Sources
from .model import SeenEntry, Source, SourceState

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: a lock file created exclusively instead
    fcntl = None  # type: ignore[assignment]

FILE_NAME = "citebot.sqlite3"
BUSY_TIMEOUT_S = 30.0

MIGRATIONS = (
    Migration(1, """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    location TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    every INTEGER NOT NULL,
    prune INTEGER NOT NULL DEFAULT 0,
    added REAL NOT NULL,
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    last_success REAL,
    last_attempt REAL,
    last_error TEXT NOT NULL DEFAULT '',
    failures INTEGER NOT NULL DEFAULT 0,
    next_due REAL NOT NULL DEFAULT 0,
    entries INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS source_entries (
    source_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    signature TEXT NOT NULL,
    content_hash TEXT NOT NULL DEFAULT '',
    doc_id INTEGER,
    origin TEXT NOT NULL DEFAULT 'article',
    PRIMARY KEY (source_id, key)
);
"""),
)

_COLUMNS = ("id, kind, location, name, every, prune, added, etag, last_modified, last_success, last_attempt, "
            "last_error, failures, next_due, entries")


def row_source(row: tuple) -> Source:
    """A ``sources`` row (in ``_COLUMNS`` order) as a Source; shared with the PostgreSQL engine."""
    (ident, kind, location, name, every, prune, added, etag, last_modified, last_success, last_attempt,
     last_error, failures, next_due, entries) = row
    return Source(id=int(ident), kind=kind, location=location, name=name, every=int(every), prune=bool(prune),
                  added=float(added), state=SourceState(
                      etag=etag or "", last_modified=last_modified or "", last_success=last_success,
                      last_attempt=last_attempt, last_error=last_error or "", failures=int(failures),
                      next_due=float(next_due), entries=int(entries)))


class SQLiteSources(Sources):
    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / FILE_NAME
        self.location = str(self.path)
        self._lock = threading.RLock()
        self._held: dict[int, int] = {}  # source id -> lock file descriptor
        self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        apply_sqlite(self.db, "sources", MIGRATIONS, where=str(self.path))

    def _insert(self, kind: str, location: str, name: str, every: int, prune: bool, now: float) -> int | None:
        with self._lock:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO sources (kind, location, name, every, prune, added, next_due) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (kind, location, name, every, int(prune), now, now))
            return int(cur.lastrowid) if cur.rowcount else None

    def _rows(self, source_id: int | None = None, location: str | None = None) -> list[Source]:
        sql, args = f"SELECT {_COLUMNS} FROM sources", ()
        if source_id is not None:
            sql, args = sql + " WHERE id = ?", (source_id,)
        elif location is not None:
            sql, args = sql + " WHERE location = ?", (location,)
        with self._lock:
            return [row_source(r) for r in self.db.execute(sql + " ORDER BY id", args).fetchall()]

    def _delete(self, source_id: int) -> bool:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("DELETE FROM source_entries WHERE source_id = ?", (source_id,))
                cur = self.db.execute("DELETE FROM sources WHERE id = ?", (source_id,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            return bool(cur.rowcount)

    def save_state(self, source_id: int, state: SourceState) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE sources SET etag = ?, last_modified = ?, last_success = ?, last_attempt = ?, last_error = ?, "
                "failures = ?, next_due = ?, entries = (SELECT count(*) FROM source_entries WHERE source_id = ?) "
                "WHERE id = ?",
                (state.etag, state.last_modified, state.last_success, state.last_attempt, state.last_error,
                 state.failures, state.next_due, source_id, source_id))

    def seen(self, source_id: int, keys: list[str] | None = None) -> dict[str, SeenEntry]:
        with self._lock:
            rows = self.db.execute("SELECT key, signature, content_hash, doc_id, origin FROM source_entries "
                                   "WHERE source_id = ?", (source_id,)).fetchall()
        wanted = set(keys) if keys is not None else None
        return {k: SeenEntry(k, sig, h or "", doc, origin) for k, sig, h, doc, origin in rows
                if wanted is None or k in wanted}

    def mark_seen(self, source_id: int, entries: list[SeenEntry]) -> None:
        if not entries:
            return
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO source_entries (source_id, key, signature, content_hash, doc_id, origin) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(source_id, e.key, e.signature, e.content_hash, e.doc_id, e.origin) for e in entries])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def forget(self, source_id: int, keys: list[str]) -> None:
        if not keys:
            return
        with self._lock:
            self.db.executemany("DELETE FROM source_entries WHERE source_id = ? AND key = ?",
                                [(source_id, k) for k in keys])

    def claim(self, source_id: int) -> bool:
        with self._lock:
            if source_id in self._held:
                return False
            folder = self.home / "sources"
            folder.mkdir(exist_ok=True)
            fd = os.open(folder / f"{int(source_id)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    return False
            self._held[source_id] = fd
            return True

    def release(self, source_id: int) -> None:
        with self._lock:
            fd = self._held.pop(source_id, None)
            if fd is not None:
                os.close(fd)  # closing the descriptor drops the flock

    def close(self) -> None:
        with self._lock:
            for source_id in list(self._held):
                self.release(source_id)
            self.db.close()
