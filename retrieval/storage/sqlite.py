"""The embedded engine's connection: one SQLite file (``citebot.sqlite3``) shared by the corpus's parts.

Each write is one ``BEGIN IMMEDIATE`` transaction (:meth:`SQLiteDatabase.write`), so a document is
either wholly present (its row, its passages, their lexical entries) or wholly absent, whatever kills the
process. Every document transaction bumps the ``generation`` counter; the faiss file
(``vectors/dense.py``) is stamped with it and re-synced when it moves. The schema is numbered migrations
run by ``migrations.py`` (component ``corpus``); migration 1 is the first release's schema, and a store
written before the runner (``PRAGMA user_version`` 1) is recorded as at version 1 and opens unchanged;
``user_version`` follows the record, so an older release refuses a store migrated past its schema.
``store.open_sqlite`` composes the parts over one connection.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import UserError
from .base import BUSY_TIMEOUT_S, StorageDamaged, VerifyReport, sqlite_result
from .migrations import Migration, applied_sqlite, apply_sqlite

STORE_FILE = "citebot.sqlite3"
COMPONENT = "corpus"

# Never edit one that has shipped; append a new one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL DEFAULT '',
    date TEXT,
    source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    path TEXT NOT NULL DEFAULT '',
    place TEXT NOT NULL DEFAULT '',
    page_starts TEXT NOT NULL DEFAULT '[]',
    signature BLOB,
    added TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_path ON documents(path);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    sentences TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 0');
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""),
)
SCHEMA_VERSION = MIGRATIONS[-1].number


def _user_version(conn: sqlite3.Connection) -> int:
    """The version releases before the runner read and wrote (``PRAGMA user_version``): adopted when the
    store has no record, kept in step with the record so those releases refuse a newer store, and a value
    above the newest migration (a newer citebot's) is refused."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _damaged(exc: Exception) -> StorageDamaged:
    return StorageDamaged(f"the index store failed ({exc})")


class SQLiteDatabase:
    """The connection every SQLite part uses: one per store, thread-safe through one lock."""

    engine = "sqlite"

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / STORE_FILE
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the index directory {self.home}: {exc.strerror}") from None
        self.lock = threading.RLock()
        self._read_lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None  # opened the first time a reader meets a writer
        try:
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.journal_mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous = FULL")
            with self.lock:
                applied = apply_sqlite(self.conn, COMPONENT, MIGRATIONS, where=str(self.home), legacy=_user_version)
                if _user_version(self.conn) < applied:  # so a release before the runner refuses a newer store
                    self.conn.execute(f"PRAGMA user_version = {int(applied)}")
        except sqlite3.DatabaseError as exc:
            result = sqlite_result(exc)
            if result in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
                raise UserError(f"cannot write the index in {self.home}: {exc}", code="store_readonly") from None
            if result in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):  # not damage: never advise a restore
                raise UserError(f"cannot open the index in {self.home}: {exc} (is the disk full?)",
                                code="disk_full") from None
            raise UserError(
                f"the index store {self.path} cannot be read ({exc}); it was left untouched: restore it from a "
                f"backup, or move it aside and add your documents again") from None

    @property
    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    # -- errors ---------------------------------------------------------------------------------------
    @contextmanager
    def one_line(self) -> Iterator[None]:
        """A store damaged past what opening checks (a corrupt page met mid-query) raises StorageDamaged."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if sqlite_result(exc) == sqlite3.SQLITE_FULL:
                raise UserError(f"the disk holding the index in {self.home} is full: free some space and run "
                                f"the command again", code="disk_full") from None
            raise _damaged(exc) from None

    def check_failed(self, exc: BaseException) -> VerifyReport | None:
        """What verify reports when the store cannot even be checked (None: not a store failure)."""
        if not isinstance(exc, (sqlite3.DatabaseError, StorageDamaged)):
            return None
        return VerifyReport(problems=[f"SQLite integrity check failed: {exc}; restore {self.path} from a backup, "
                                      f"or move it aside and add your documents again"],
                            summary=f"the store {self.path} is damaged")

    # -- transactions ---------------------------------------------------------------------------------
    @contextmanager
    def write(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction on the raw connection. A second writer waits, then fails clearly.
        ``bump`` moves the generation (searchable content changed); the embedding cache alone does not."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if sqlite_result(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise UserError(
                        f"the index in {self.home} is busy: another citebot process has been writing to it for "
                        f"over {BUSY_TIMEOUT_S:.0f} s; try again when it finishes", code="store_busy"
                    ) from None
                if sqlite_result(exc) == sqlite3.SQLITE_READONLY:
                    raise UserError(f"the index in {self.home} is read-only", code="store_readonly") from None
                raise _damaged(exc) from None
            except sqlite3.DatabaseError as exc:
                raise _damaged(exc) from None
            try:
                yield self.conn
                if bump:
                    self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:  # SQLite already rolled back after e.g. SQLITE_FULL
                    self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and sqlite_result(exc) == sqlite3.SQLITE_FULL:
                    raise UserError(f"the disk holding the index in {self.home} is full: nothing of this "
                                    f"change was written; free some space and run the command again",
                                    code="disk_full") from None
                if isinstance(exc, sqlite3.DatabaseError):
                    raise StorageDamaged(f"the index store failed ({exc}); nothing of this change was written"
                                         ) from None
                raise

    @contextmanager
    def no_wait(self) -> Iterator[None]:
        """Inside it a busy store fails at once instead of waiting (best-effort cache writes)."""
        with self.lock:
            self.conn.execute("PRAGMA busy_timeout = 0")
            try:
                yield
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for a read: the shared one when it is free (or this thread already holds it,
        inside its own transaction), else a second, read-only connection that sees the last committed
        state (WAL), so a question never waits while another thread of this process holds a write
        transaction (``tests/retrieval/corpus/test_read_path.py``)."""
        if self.lock.acquire(blocking=False):
            try:
                yield self.conn
            finally:
                self.lock.release()
            return
        with self._read_lock:
            if self._reader is None:
                self._reader = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                               check_same_thread=False)
                self._reader.execute("PRAGMA query_only = ON")
            yield self._reader

    # -- shared SQL -----------------------------------------------------------------------------------
    chunk = 500  # ids per IN list (SQLite's host parameter limit is far above; small lists plan well)

    @staticmethod
    def query(conn: sqlite3.Connection, statement: str, params: dict | None = None) -> list:
        """Rows of a statement written once for both engines (named ``:param`` placeholders)."""
        return conn.execute(statement, params or {}).fetchall()

    @staticmethod
    def in_ids(column: str, ids: Sequence[int], name: str = "ids") -> tuple[str, dict]:
        """``column`` is one of ``ids``, as SQL and its parameters."""
        params = {f"{name}{i}": int(v) for i, v in enumerate(ids)}
        return f"{column} IN ({', '.join(':' + k for k in params) or 'NULL'})", params

    # -- store-wide values ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self.lock:
            return applied_sqlite(self.conn, COMPONENT)

    def generation(self) -> int:
        with self.one_line(), self.reading() as conn:
            return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        with self.one_line(), self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        if key == "generation":
            raise ValueError("the generation moves only with write transactions")
        with self.write(bump=False) as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                         "excluded.value", (key, str(value)))

    def integrity(self, report: VerifyReport, repair: bool) -> None:
        """The engine's own check of its file (a repair cannot fix a damaged page: it is reported)."""
        with self.lock:
            check = self.conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            report.problems.append(f"SQLite integrity check failed: {check}")
