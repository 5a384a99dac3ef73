"""Watches and their push outbox in SQLite: tables in CITEBOT_HOME/citebot.sqlite3 beside the corpus.

Its own connection (WAL, autocommit, one lock), so a ``citebot sync`` process and the bot share the
outbox through the file. Each change is one ``BEGIN IMMEDIATE`` transaction: the limit and throttle
checks and the write they guard cannot interleave with another process's.
"""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from ...errors import UserError
from ..migrations import Migration, apply_sqlite
from .base import (COMPONENT, PUSH_COLUMNS, QUEUED, WATCH_COLUMNS, Added, Push, Watch,
                   WatchStore, push_from_row, refusal, watch_from_row)

BUSY_TIMEOUT_S = 30.0

MIGRATIONS = (
    Migration(1, """
CREATE TABLE watches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    user_id INTEGER,
    question TEXT NOT NULL,
    created REAL NOT NULL,
    last_push REAL
);
CREATE INDEX watches_chat ON watches (chat_id);
CREATE TABLE watch_pushes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    watch_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    passage_hash TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL,
    delivered REAL,
    UNIQUE (watch_id, passage_hash)
);
CREATE INDEX watch_pushes_pending ON watch_pushes (delivered, id);
"""),
)

class SQLiteWatchStore(WatchStore):
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode = WAL")
            apply_sqlite(self.db, COMPONENT, MIGRATIONS, where=str(self.path))
        except sqlite3.DatabaseError as exc:
            raise UserError(f"cannot open the watches in {self.path}: {exc}") from None

    def _write(self):
        return _Immediate(self.db, self.lock)

    def add(self, chat_id: int, question: str, user_id: int | None, limit: int, now: float) -> Added:
        with self._write() as db:
            same = db.execute(WATCH_COLUMNS + " WHERE chat_id = ? AND question = ?", (chat_id, question)).fetchone()
            owner = ("user_id = ?", user_id) if user_id is not None else ("user_id IS NULL AND chat_id = ?", chat_id)
            count = int(db.execute(f"SELECT count(*) FROM watches WHERE {owner[0]}", (owner[1],)).fetchone()[0])
            if same is not None:
                return Added(watch_from_row(same), False, count)
            if count >= limit:
                return Added(None, False, count)
            cur = db.execute("INSERT INTO watches (chat_id, user_id, question, created) VALUES (?, ?, ?, ?)",
                             (chat_id, user_id, question, now))
            row = db.execute(WATCH_COLUMNS + " WHERE id = ?", (cur.lastrowid,)).fetchone()
            return Added(watch_from_row(row), True, count + 1)

    def list(self, chat_id: int | None = None) -> list[Watch]:
        with self.lock:
            if chat_id is None:
                rows = self.db.execute(WATCH_COLUMNS + " ORDER BY id").fetchall()
            else:
                rows = self.db.execute(WATCH_COLUMNS + " WHERE chat_id = ? ORDER BY id", (chat_id,)).fetchall()
        return [watch_from_row(r) for r in rows]

    def get(self, watch_id: int) -> Watch | None:
        with self.lock:
            row = self.db.execute(WATCH_COLUMNS + " WHERE id = ?", (watch_id,)).fetchone()
        return watch_from_row(row) if row else None

    def remove(self, watch_id: int, chat_id: int | None = None) -> Watch | None:
        with self._write() as db:
            row = db.execute(WATCH_COLUMNS + " WHERE id = ?", (watch_id,)).fetchone()
            if row is None or (chat_id is not None and int(row[1]) != chat_id):
                return None
            db.execute("DELETE FROM watch_pushes WHERE watch_id = ? AND delivered IS NULL", (watch_id,))
            db.execute("DELETE FROM watches WHERE id = ?", (watch_id,))
            return watch_from_row(row)

    def queue(self, watch_id: int, doc_id: int, passage_hash: str, answer: str, now: float,
              min_gap: float) -> str:
        with self._write() as db:
            row = db.execute(WATCH_COLUMNS + " WHERE id = ?", (watch_id,)).fetchone()
            watch = watch_from_row(row) if row is not None else None
            seen = watch is not None and db.execute(
                "SELECT 1 FROM watch_pushes WHERE watch_id = ? AND passage_hash = ?",
                (watch_id, passage_hash)).fetchone() is not None
            refused = refusal(watch, seen, now, min_gap)
            if refused is not None:
                return refused
            db.execute("INSERT INTO watch_pushes (watch_id, chat_id, question, doc_id, passage_hash, answer, "
                       "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (watch_id, watch.chat_id, watch.question, doc_id, passage_hash, answer, now))
            db.execute("UPDATE watches SET last_push = ? WHERE id = ?", (now, watch_id))
            return QUEUED

    def pending(self, limit: int = 100) -> list[Push]:
        with self.lock:
            rows = self.db.execute(PUSH_COLUMNS + " WHERE delivered IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [push_from_row(r) for r in rows]

    def delivered(self, push_id: int, now: float) -> bool:
        with self._write() as db:
            cur = db.execute("UPDATE watch_pushes SET delivered = ? WHERE id = ? AND delivered IS NULL",
                             (now, push_id))
            return cur.rowcount == 1

    def close(self) -> None:
        with self.lock:
            self.db.close()


class _Immediate:
    """``with`` block: the lock, then ``BEGIN IMMEDIATE`` (the write lock taken up front, so a check and
    its write are one step for every process), COMMIT on success, ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        try:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.lock.release()
