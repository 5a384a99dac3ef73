"""The SQLite store: the single source of truth for documents, passages, embeddings and the lexical index.

Each write is one ``BEGIN IMMEDIATE`` transaction, so a document is either wholly present (its row, its
passages, their lexical entries) or wholly absent, whatever kills the process. Every write bumps the
``generation`` counter; derived files (the faiss index) are stamped with it and re-synced when it moves.
Embeddings are keyed by (model, hash of the embedded text), so nothing is ever embedded twice.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import UserError
from .types import DocumentInfo

SCHEMA_VERSION = 1
STORE_FILE = "citebot.sqlite3"
BUSY_TIMEOUT_S = 60.0

SCHEMA = """
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
"""


@dataclass(frozen=True)
class PassageRow:
    passage_id: int
    doc_id: int
    ordinal: int
    start: int
    end: int
    text: str
    embed_hash: str
    sentences: list[tuple[int, int]]
    title: str
    date: str | None
    source: str
    url: str
    page_starts: list[int]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _corrupt(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"the index store {path} cannot be read ({exc}); it was left untouched: restore it from a backup, "
        f"or move it aside and add your documents again"
    )


class Store:
    """One SQLite database file in the index directory. Thread-safe via one lock per store."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / STORE_FILE
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the index directory {self.home}: {exc.strerror}") from None
        self.lock = threading.RLock()
        try:
            self.db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA foreign_keys = ON")
            mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.db.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise UserError(f"cannot write the index in {self.home}: {exc}") from None
            if "full" in str(exc) or "I/O error" in str(exc):  # not damage: never advise a restore
                raise UserError(f"cannot open the index in {self.home}: {exc} (is the disk full?)") from None
            raise _corrupt(self.path, exc) from None
        self.journal_mode = mode

    # -- transactions -------------------------------------------------------------------------------
    @contextmanager
    def write(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction. A second writer waits, then fails clearly. ``bump`` moves the
        generation (searchable content changed); the embedding cache alone does not."""
        with self.lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise UserError(
                        f"the index in {self.home} is busy: another citebot process has been writing to it for "
                        f"over {BUSY_TIMEOUT_S:.0f} s; try again when it finishes"
                    ) from None
                if "readonly" in str(exc):
                    raise UserError(f"the index in {self.home} is read-only") from None
                raise
            try:
                yield self.db
                if bump:
                    self.db.execute(
                        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                    )
                self.db.execute("COMMIT")
            except BaseException as exc:
                if self.db.in_transaction:  # SQLite already rolled back after e.g. SQLITE_FULL
                    self.db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
                    raise UserError(f"the disk holding the index in {self.home} is full: nothing of this "
                                    f"change was written; free some space and run the command again") from None
                raise

    def _migrate(self) -> None:
        with self.lock:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise UserError(f"the index in {self.home} was written by a newer citebot (schema {version})")
            # executescript commits any open transaction first, so the whole migration is one script.
            self.db.executescript(
                "BEGIN IMMEDIATE;" + SCHEMA
                + "INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');"
                + f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- reads --------------------------------------------------------------------------------------
    def generation(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        with self.lock:
            if content_hash is not None:
                row = self.db.execute("SELECT id FROM documents WHERE content_hash = ?", (content_hash,)).fetchone()
            else:
                row = self.db.execute(
                    "SELECT id FROM documents WHERE path = ? ORDER BY id DESC LIMIT 1", (path,)
                ).fetchone()
        return row[0] if row else None

    _INFO = """SELECT d.id, d.title, d.date, d.source, d.url, d.lang, d.path, d.added, d.content_hash,
                      (SELECT COUNT(*) FROM passages p WHERE p.doc_id = d.id) FROM documents d"""

    def _info(self, row: Sequence) -> DocumentInfo:
        return DocumentInfo(
            doc_id=row[0], title=row[1], date=row[2], source=row[3], url=row[4], lang=row[5], path=row[6],
            added=row[7], content_hash=row[8], passages=row[9],
        )

    def document_info(self, doc_id: int) -> DocumentInfo | None:
        with self.lock:
            row = self.db.execute(self._INFO + " WHERE d.id = ?", (doc_id,)).fetchone()
        return self._info(row) if row else None

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        with self.lock:
            rows = self.db.execute(
                self._INFO + " ORDER BY d.id LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset)
            ).fetchall()
        return [self._info(r) for r in rows]

    def document_text(self, doc_id: int) -> tuple[str, list[int]]:
        with self.lock:
            row = self.db.execute("SELECT text, page_starts FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise UserError(f"no document with id {doc_id}")
        return row[0], json.loads(row[1])

    def counts(self) -> dict[str, int]:
        with self.lock:
            docs = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            passages = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
            vectors = self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return {"documents": docs, "passages": passages, "cached_embeddings": vectors}

    def passages(self, ids: Iterable[int]) -> dict[int, PassageRow]:
        ids = list(ids)
        out: dict[int, PassageRow] = {}
        with self.lock:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"""SELECT p.id, p.doc_id, p.ordinal, p.start, p.end, p.text, p.embed_hash, p.sentences,
                               d.title, d.date, d.source, d.url, d.page_starts
                        FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id IN ({marks})""",
                    chunk,
                ).fetchall()
                for r in rows:
                    out[r[0]] = PassageRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                                           [tuple(s) for s in json.loads(r[7])], r[8], r[9], r[10], r[11],
                                           json.loads(r[12]))
        return out

    def passage_ids(self) -> np.ndarray:
        with self.lock:
            rows = self.db.execute("SELECT id FROM passages ORDER BY id").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def filtered_passage_ids(self, since: str | None, until: str | None, source: str | None) -> np.ndarray:
        where, args = _filters(since, until, source)
        with self.lock:
            rows = self.db.execute(
                f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id WHERE {where}", args
            ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of passages that have an embedding for ``model``; all passages if ``ids`` is None."""
        sql = """SELECT p.id, e.vector FROM passages p JOIN embeddings e
                 ON e.model = ? AND e.text_hash = p.embed_hash"""
        found_ids: list[int] = []
        blobs: list[bytes] = []
        with self.lock:
            if ids is None:
                for pid, blob in self.db.execute(sql + " ORDER BY p.id", (model,)):
                    found_ids.append(pid)
                    blobs.append(blob)
            else:
                for chunk in _chunks(list(ids), 500):
                    marks = ",".join("?" * len(chunk))
                    for pid, blob in self.db.execute(sql + f" WHERE p.id IN ({marks})", (model, *chunk)):
                        found_ids.append(pid)
                        blobs.append(blob)
        if not blobs:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        vectors = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
        return np.asarray(found_ids, dtype=np.int64), vectors

    def cached_embeddings(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self.lock:
            for chunk in _chunks(list(dict.fromkeys(hashes)), 500):
                marks = ",".join("?" * len(chunk))
                for h, blob in self.db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                    (model, *chunk),
                ):
                    out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def missing_embeddings(self, model: str) -> list[tuple[str, int]]:
        """(embed_hash, a passage id) for passages that have no embedding for ``model``."""
        with self.lock:
            return self.db.execute(
                """SELECT p.embed_hash, MIN(p.id) FROM passages p LEFT JOIN embeddings e
                   ON e.model = ? AND e.text_hash = p.embed_hash WHERE e.text_hash IS NULL
                   GROUP BY p.embed_hash""",
                (model,),
            ).fetchall()

    def lexical_search(
        self, expression: str, limit: int, since: str | None = None, until: str | None = None,
        source: str | None = None, title_weight: float = 0.5,
    ) -> list[tuple[int, float]]:
        """Top passages by BM25 (higher is better) for an FTS5 MATCH expression."""
        where, args = _filters(since, until, source)
        with self.lock:
            if where == "1":
                rows = self.db.execute(
                    "SELECT rowid, -bm25(lexical, ?, 1.0) AS s FROM lexical WHERE lexical MATCH ? "
                    "ORDER BY s DESC LIMIT ?",
                    (title_weight, expression, limit),
                ).fetchall()
            else:
                rows = self.db.execute(
                    f"""SELECT l.rowid, -bm25(lexical, ?, 1.0) AS s FROM lexical l
                        JOIN passages p ON p.id = l.rowid JOIN documents d ON d.id = p.doc_id
                        WHERE lexical MATCH ? AND {where} ORDER BY s DESC LIMIT ?""",
                    (title_weight, expression, *args, limit),
                ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def signatures(self, after_id: int = 0) -> list[tuple[int, bytes]]:
        with self.lock:
            return self.db.execute(
                "SELECT id, signature FROM documents WHERE signature IS NOT NULL AND id > ? ORDER BY id", (after_id,)
            ).fetchall()

    def document_span(self) -> tuple[int, int]:
        """(highest document id, number of documents): cheap change detection for caches."""
        with self.lock:
            row = self.db.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM documents").fetchone()
        return int(row[0]), int(row[1])

    # -- writes (call inside ``with store.write() as db``) -------------------------------------------
    def put_embeddings(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        """Cache vectors in their own short transaction, so a killed ingest never embeds them again.

        With ``wait=False`` (the question path) caching is best-effort: a busy or read-only store is
        skipped instead of delaying or failing an answer. Returns whether the vectors were stored.
        """
        if not items:
            return True
        rows = [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()]
        with self.lock:
            if not wait:
                self.db.execute("PRAGMA busy_timeout = 0")
            try:
                with self.write(bump=False) as db:
                    db.executemany("INSERT OR IGNORE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)", rows)
                return True
            except (UserError, sqlite3.OperationalError):
                if wait:
                    raise
                return False
            finally:
                if not wait:
                    self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    @staticmethod
    def insert_document(
        db: sqlite3.Connection, *, content_hash: str, title: str, date: str | None, source: str, url: str,
        lang: str, path: str, place: str, page_starts: list[int], signature: bytes | None, text: str,
        passages: list[tuple[int, int, int, str, str, list[tuple[int, int]], str]],
    ) -> int:
        """Insert a document with its passages (ordinal, start, end, text, embed_hash, sentences, terms)."""
        cur = db.execute(
            """INSERT INTO documents(content_hash, title, date, source, url, lang, path, place, page_starts,
                                     signature, added, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
            (content_hash, title, date, source, url, lang, path, place, json.dumps(page_starts), signature,
             _now(), text),
        )
        doc_id = int(cur.lastrowid)
        title_terms = None
        for ordinal, start, end, ptext, embed_hash, sentences, body_terms in passages:
            pcur = db.execute(
                "INSERT INTO passages(doc_id, ordinal, start, end, text, embed_hash, sentences) VALUES (?,?,?,?,?,?,?)",
                (doc_id, ordinal, start, end, ptext, embed_hash, json.dumps(sentences)),
            )
            if title_terms is None:
                from .lexical import terms

                title_terms = " ".join(terms(title))
            db.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                       (pcur.lastrowid, title_terms, body_terms))
        return doc_id

    @staticmethod
    def delete_document(db: sqlite3.Connection, doc_id: int) -> None:
        db.execute("DELETE FROM lexical WHERE rowid IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


def _filters(since: str | None, until: str | None, source: str | None) -> tuple[str, list]:
    clauses, args = [], []
    if since:
        clauses.append("d.date >= ?")
        args.append(since)
    if until:
        clauses.append("d.date <= ?")
        args.append(until)
    if source:
        clauses.append("lower(d.source) = lower(?)")
        args.append(source)
    return (" AND ".join(clauses) or "1"), args


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
