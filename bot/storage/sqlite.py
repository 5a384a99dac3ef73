"""The bot's tables in SQLite: ``feedback.sqlite3`` beside the index (the file name predates the journal).

One connection guarded by a lock, WAL mode: a committed row survives a SIGKILL of the process. Commits
are not flushed to disk by SQLite (``synchronous=NORMAL``: a process crash loses nothing, only a power
loss can lose the last ones); arriving updates (``receive_all``) are then flushed explicitly, the WAL
file fsync'ed *outside* the lock before the call returns, because losing one could lose a question
Telegram has already forgotten; losing any other write costs at most a reply sent twice or an expired
button. Why: a flush takes 4-20 ms here, and marking an update done used to wait behind flushes under
the lock, which is exactly the window in which a crash sends a reply twice.
The schema is numbered migrations run by the library's one runner (component ``bot``); files written
before it (recognised by the ``extra`` column of questions) are recorded at version 2 and open unchanged,
and files from before the journal (questions and feedback only) are upgraded in place.
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from bot.storage.base import DONE, NEW, PENDING, BotStorage, JournalEntry, StoredQuestion, Tally, Vote
from retrieval import Migration, apply_sqlite

FILE_NAME = "feedback.sqlite3"

COMPONENT = "bot"

# Never edit one that has shipped; append a new one. 1 is the tables as they were before the runner
# (IF NOT EXISTS: a file from before the journal gains it), 2 the column the journal release added.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, """
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
CREATE TABLE IF NOT EXISTS journal (
    bot_id INTEGER NOT NULL,
    update_id INTEGER NOT NULL,
    chat_id INTEGER,
    received REAL NOT NULL,
    finished REAL,
    payload TEXT,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX IF NOT EXISTS journal_open ON journal (bot_id, finished);
"""),
    Migration(2, "ALTER TABLE questions ADD COLUMN extra TEXT"),
    Migration(3, """
CREATE TABLE IF NOT EXISTS answer_messages (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
"""),
)


def _legacy(conn: sqlite3.Connection) -> int:
    """A file written before the runner: version 2 when its questions have the ``extra`` column (the
    journal release), else 0 (migration 1 is written to run over the older tables)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(questions)")}
    return 2 if "extra" in columns else 0


class SQLiteBotStorage(BotStorage):
    """Thread-safe (one connection, one lock); every call is a short transaction."""

    quick_finish = True  # unflushed, and the lock is never held during a flush

    def __init__(self, path: Path | str):
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        if not memory:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        apply_sqlite(self._db, COMPONENT, MIGRATIONS, where=str(path), legacy=_legacy)

    # -- questions ------------------------------------------------------------------------------------
    def remember(self, question: str, passage_ids: list[int], user_id: int | None, chat_id: int | None,
                 answered: bool, extra: dict[str, Any] | None = None) -> str:
        with self._lock, self._db:
            while True:
                key = secrets.token_urlsafe(6)
                try:
                    self._db.execute(
                        "INSERT INTO questions (key, question, passage_ids, user_id, chat_id, answered, created,"
                        " extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, question, json.dumps(passage_ids), user_id, chat_id, int(answered), time.time(),
                         json.dumps(extra) if extra else None),
                    )
                    return key
                except sqlite3.IntegrityError:
                    continue

    def question(self, key: str) -> StoredQuestion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, question, passage_ids, answered, user_id, chat_id, extra FROM questions WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return StoredQuestion(row[0], row[1], json.loads(row[2]), bool(row[3]), row[4], row[5],
                              json.loads(row[6]) if row[6] else {})

    # -- votes ----------------------------------------------------------------------------------------
    def vote(self, key: str, user_id: int | None, vote: int) -> Vote | None:
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

    def tally(self, key: str) -> Tally:
        with self._lock:
            up, down = self._db.execute(
                "SELECT COALESCE(SUM(vote > 0), 0), COALESCE(SUM(vote < 0), 0) FROM feedback WHERE key = ?", (key,)
            ).fetchone()
        return Tally(int(up), int(down))

    def votes(self) -> list[Vote]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, question, passage_ids, user_id, vote FROM feedback ORDER BY id"
            ).fetchall()
        return [Vote(r[0], r[1], json.loads(r[2]), r[3], r[4]) for r in rows]

    def unvote(self, key: str, user_id: int | None) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM feedback WHERE key = ? AND user_id IS ?", (key, user_id))

    # -- answer messages ------------------------------------------------------------------------------
    def attach(self, key: str, chat_id: int, message_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO answer_messages (chat_id, message_id, key) VALUES (?, ?, ?)",
                             (chat_id, message_id, key))

    def key_at(self, chat_id: int, message_id: int) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT key FROM answer_messages WHERE chat_id = ? AND message_id = ?",
                                   (chat_id, message_id)).fetchone()
        return row[0] if row else None

    # -- journal --------------------------------------------------------------------------------------
    def receive(self, bot_id: int, update_id: int, chat_id: int | None, payload: dict[str, Any],
                at: float) -> str:
        return self.receive_all(bot_id, [(update_id, chat_id, payload)], at)[0]

    def receive_all(self, bot_id: int, updates: list[tuple[int, int | None, dict[str, Any]]],
                    at: float) -> list[str]:
        """Several arriving updates in one flushed transaction (a getUpdates batch costs one flush)."""
        states: list[str] = []
        with self._lock, self._db:
            for update_id, chat_id, payload in updates:
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO journal (bot_id, update_id, chat_id, received, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (bot_id, update_id, chat_id, at, json.dumps(payload, ensure_ascii=False)),
                ).rowcount
                if inserted:
                    states.append(NEW)
                    continue
                row = self._db.execute("SELECT finished FROM journal WHERE bot_id = ? AND update_id = ?",
                                       (bot_id, update_id)).fetchone()
                states.append(DONE if row is not None and row[0] is not None else PENDING)
        if NEW in states:
            self._flush()
        return states

    def _flush(self) -> None:
        """Put what is committed on disk (the WAL, and the database a checkpoint may have written)
        without holding the lock, so other writes never wait for the disk."""
        for name in (str(self.path) + "-wal", str(self.path)):
            try:
                fd = os.open(name, os.O_RDONLY)
            except OSError:  # no WAL file (in memory, or just checkpointed away): nothing to flush there
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def finish(self, bot_id: int, update_id: int, at: float) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE journal SET finished = ?, payload = NULL WHERE bot_id = ? AND update_id = ?",
                             (at, bot_id, update_id))

    def unfinished(self, bot_id: int) -> list[JournalEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT update_id, chat_id, received, payload FROM journal "
                "WHERE bot_id = ? AND finished IS NULL ORDER BY received, update_id", (bot_id,)
            ).fetchall()
        return [JournalEntry(bot_id, r[0], r[1], r[2], json.loads(r[3]) if r[3] else {}) for r in rows]

    def prune(self, before: float) -> int:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM journal WHERE received < ?", (before,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
