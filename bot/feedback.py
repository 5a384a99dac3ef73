"""Feedback votes and the questions behind inline buttons, in ``feedback.sqlite3`` in the index dir.

Telegram limits callback data to 64 bytes, so a button carries a short random key and the question
(with the passages cited for it) is kept here. A separate file keeps the bot's data out of the
retrieval store: deleting it loses feedback, never documents.
"""
from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    key TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    user_id INTEGER,
    chat_id INTEGER,
    answered INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    question TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    user_id INTEGER,
    vote INTEGER NOT NULL,
    created REAL NOT NULL,
    UNIQUE (key, user_id)
);
"""


@dataclass
class StoredQuestion:
    key: str
    question: str
    passage_ids: list[int]
    answered: bool


@dataclass
class Vote:
    key: str
    question: str
    passage_ids: list[int]
    user_id: int | None
    vote: int  # +1 or -1


class FeedbackStore:
    """Thread-safe (one connection, one lock); every call is a short transaction."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL") if str(path) != ":memory:" else None
        with self._db:
            self._db.executescript(SCHEMA)

    def remember(self, question: str, passage_ids: list[int], user_id: int | None,
                 chat_id: int | None, answered: bool) -> str:
        """Store a question and return its key (8 URL-safe characters) for callback data."""
        with self._lock, self._db:
            while True:
                key = secrets.token_urlsafe(6)
                try:
                    self._db.execute(
                        "INSERT INTO questions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (key, question, json.dumps(passage_ids), user_id, chat_id, int(answered), time.time()),
                    )
                    return key
                except sqlite3.IntegrityError:
                    continue

    def question(self, key: str) -> StoredQuestion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, question, passage_ids, answered FROM questions WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return StoredQuestion(row[0], row[1], json.loads(row[2]), bool(row[3]))

    def vote(self, key: str, user_id: int | None, vote: int) -> Vote | None:
        """Record (or change) a user's vote on an answer; None if the key is unknown."""
        stored = self.question(key)
        if stored is None:
            return None
        vote = 1 if vote > 0 else -1
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO feedback (key, question, passage_ids, user_id, vote, created) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key, user_id) DO UPDATE SET vote = excluded.vote, created = excluded.created",
                (key, stored.question, json.dumps(stored.passage_ids), user_id, vote, time.time()),
            )
        return Vote(key, stored.question, stored.passage_ids, user_id, vote)

    def votes(self) -> list[Vote]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, question, passage_ids, user_id, vote FROM feedback ORDER BY id"
            ).fetchall()
        return [Vote(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
