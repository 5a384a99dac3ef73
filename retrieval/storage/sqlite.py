"""The embedded engine: one SQLite file (documents, passages, embeddings, FTS5 lexical index) + a faiss file.

Each write is one ``BEGIN IMMEDIATE`` transaction, so a document is either wholly present (its row, its
passages, their lexical entries) or wholly absent, whatever kills the process. Every write transaction
bumps the ``generation`` counter; the faiss file (``dense.py``) is stamped with it and re-synced when it
moves. Embeddings are keyed by (model, hash of the embedded text), so nothing is ever embedded twice.
The schema is a numbered list of migrations (``PRAGMA user_version`` holds the last one applied);
migration 1 is the first release's schema, so an index written by it opens unchanged.
"""
from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from ..errors import UserError
from ..types import Document, DocumentInfo
from .base import (NO_FILTERS, VECTOR_DTYPE, Counts, DocumentSpan, DocumentText, EmbeddingRow, MissingEmbedding,
                   NewDocument, NewPassage, PassageRow, ScoredPassage, SearchFilters, SignatureRow, StorageDamaged,
                   StoredDocument, Transaction, VectorBatch, vector_bytes)
from .dense import DenseIndex
from .sqlite_verify import SQLiteChecks

STORE_FILE = "citebot.sqlite3"
BUSY_TIMEOUT_S = 60.0

# Numbered migrations: each runs once, in order, in one transaction with the user_version update.
# Never edit one that has shipped; append a new one.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
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
SCHEMA_VERSION = MIGRATIONS[-1][0]

_F = TypeVar("_F", bound=Callable[..., Any])


def _corrupt(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"the index store {path} cannot be read ({exc}); it was left untouched: restore it from a backup, "
        f"or move it aside and add your documents again"
    )


def _damage_is_one_line(method: _F) -> _F:
    """A store damaged past what opening checks (a corrupt page met mid-query) raises StorageDamaged."""

    @functools.wraps(method)
    def wrapper(self: "SQLiteStorage", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if "full" in str(exc):
                raise UserError(f"the disk holding the index in {self.home} is full: free some space and run "
                                f"the command again") from None
            raise StorageDamaged(f"the index store failed ({exc}); run `citebot verify` to check it") from None

    return wrapper  # type: ignore[return-value]


def fts_expression(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression OR-ing the distinct (already stemmed) terms; None when there are none."""
    distinct = [t.replace('"', '""') for t in dict.fromkeys(terms) if t]
    if not distinct:
        return None
    return " OR ".join(f'"{term}"' for term in distinct)


def lexical_digest(title_terms: str, body_terms: str) -> bytes:
    """What verify compares per passage: a hash of the lexical row's two fields."""
    return hashlib.blake2b(f"{title_terms}\x00{body_terms}".encode("utf-8"), digest_size=8).digest()


class _SQLiteTransaction(Transaction):
    def __init__(self, storage: "SQLiteStorage") -> None:
        self.storage = storage
        self.db = storage.db

    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        return self.storage._find_document(content_hash, path)

    def document_info(self, doc_id: int) -> DocumentInfo | None:
        return self.storage._document_info(doc_id)

    def insert_document(self, doc: NewDocument) -> int:
        db = self.db
        columns, values = doc.document_row()
        cur = db.execute(f"INSERT INTO documents({', '.join(columns)}) VALUES ({','.join('?' * len(values))})",
                         values)
        doc_id = int(cur.lastrowid)
        title_terms = " ".join(doc.title_terms)
        for p in doc.passages:
            row = (doc_id, p.ordinal, p.start, p.end, p.text, p.embed_hash, json.dumps([list(s) for s in p.sentences]))
            if p.passage_id is None:
                pcur = db.execute("INSERT INTO passages(doc_id, ordinal, start, end, text, embed_hash, sentences) "
                                  "VALUES (?,?,?,?,?,?,?)", row)
            else:
                pcur = db.execute("INSERT INTO passages(id, doc_id, ordinal, start, end, text, embed_hash, sentences) "
                                  "VALUES (?,?,?,?,?,?,?,?)", (p.passage_id, *row))
            db.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                       (pcur.lastrowid, title_terms, " ".join(p.terms)))
        return doc_id

    def delete_document(self, doc_id: int) -> None:
        db = self.db
        db.execute("DELETE FROM lexical WHERE rowid IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


class SQLiteStorage(SQLiteChecks):
    """One SQLite database file in the index directory, plus the derived faiss file beside it.
    Thread-safe via one lock per store (one connection, used by every thread)."""

    engine = "sqlite"

    def __init__(self, home: Path, ann_threshold: int = 300_000) -> None:
        self.home = Path(home)
        self.path = self.home / STORE_FILE
        self.ann_threshold = ann_threshold
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the index directory {self.home}: {exc.strerror}") from None
        self.lock = threading.RLock()
        self._dense: dict[str, DenseIndex] = {}
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

    @property
    def location(self) -> str:
        return str(self.path)

    # -- transactions -------------------------------------------------------------------------------
    @contextmanager
    def write(self, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction on the raw connection. A second writer waits, then fails clearly.
        ``bump`` moves the generation (searchable content changed); the embedding cache alone does not."""
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
                raise StorageDamaged(f"the index store failed ({exc}); run `citebot verify` to check it") from None
            except sqlite3.DatabaseError as exc:
                raise StorageDamaged(f"the index store failed ({exc}); run `citebot verify` to check it") from None
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
                if isinstance(exc, sqlite3.DatabaseError):
                    raise StorageDamaged(f"the index store failed ({exc}); nothing of this change was written; "
                                         f"run `citebot verify` to check it") from None
                raise

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.write(bump=True):
            yield _SQLiteTransaction(self)

    def _migrate(self) -> None:
        with self.lock:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise UserError(f"the index in {self.home} was written by a newer citebot (schema {version})")
            for number, script in MIGRATIONS:
                if number <= version:
                    continue
                # executescript commits any open transaction first, so each migration is one script,
                # its user_version update inside it: a kill leaves the previous version whole
                self.db.executescript(f"BEGIN IMMEDIATE;{script}PRAGMA user_version = {number}; COMMIT;")

    def schema_version(self) -> int:
        with self.lock:
            return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            for dense in self._dense.values():
                dense.close()
            self._dense.clear()
            self.db.close()

    # -- reads --------------------------------------------------------------------------------------
    @_damage_is_one_line
    def generation(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    @_damage_is_one_line
    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        if key == "generation":
            raise ValueError("the generation moves only with write transactions")
        with self.write(bump=False) as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, str(value)))

    def _find_document(self, content_hash: str | None, path: str | None) -> int | None:
        with self.lock:
            if content_hash is not None:
                row = self.db.execute("SELECT id FROM documents WHERE content_hash = ?", (content_hash,)).fetchone()
            else:
                row = self.db.execute(
                    "SELECT id FROM documents WHERE path = ? ORDER BY id DESC LIMIT 1", (path,)
                ).fetchone()
        return row[0] if row else None

    @_damage_is_one_line
    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        return self._find_document(content_hash, path)

    _INFO = """SELECT d.id, d.title, d.date, d.source, d.url, d.lang, d.path, d.added, d.content_hash,
                      (SELECT COUNT(*) FROM passages p WHERE p.doc_id = d.id) FROM documents d"""

    @staticmethod
    def _info(row: Sequence) -> DocumentInfo:
        return DocumentInfo(
            doc_id=row[0], title=row[1], date=row[2], source=row[3], url=row[4], lang=row[5], path=row[6],
            added=row[7], content_hash=row[8], passages=row[9],
        )

    def _document_info(self, doc_id: int) -> DocumentInfo | None:
        if not -2**63 <= doc_id < 2**63:
            return None
        with self.lock:
            row = self.db.execute(self._INFO + " WHERE d.id = ?", (doc_id,)).fetchone()
        return self._info(row) if row else None

    @_damage_is_one_line
    def document_info(self, doc_id: int) -> DocumentInfo | None:
        return self._document_info(doc_id)

    @_damage_is_one_line
    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        with self.lock:
            rows = self.db.execute(
                self._INFO + " ORDER BY d.id LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset)
            ).fetchall()
        return [self._info(r) for r in rows]

    @_damage_is_one_line
    def document_text(self, doc_id: int) -> DocumentText:
        with self.lock:
            row = self.db.execute("SELECT text, page_starts FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            raise UserError(f"no document with id {doc_id}")
        return DocumentText(row[0], json.loads(row[1]))

    @_damage_is_one_line
    def counts(self) -> Counts:
        with self.lock:
            docs = self.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            passages = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
            vectors = self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return Counts(docs, passages, vectors)

    @_damage_is_one_line
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

    @_damage_is_one_line
    def passage_ids(self, filters: SearchFilters = NO_FILTERS) -> np.ndarray:
        with self.lock:
            if filters.active:
                where, args = _filters(filters)
                rows = self.db.execute(
                    f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id WHERE {where} ORDER BY p.id",
                    args).fetchall()
            else:
                rows = self.db.execute("SELECT id FROM passages ORDER BY id").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _vector_rows(self, model: str, ids: Sequence[int] | None) -> tuple[list[int], list[bytes]]:
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
                for chunk in _chunks(sorted(set(int(i) for i in ids)), 500):
                    marks = ",".join("?" * len(chunk))
                    for pid, blob in self.db.execute(sql + f" WHERE p.id IN ({marks}) ORDER BY p.id",
                                                     (model, *chunk)):
                        found_ids.append(pid)
                        blobs.append(blob)
        return found_ids, blobs

    @_damage_is_one_line
    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch:
        found_ids, blobs = self._vector_rows(model, ids)
        if not blobs:
            return VectorBatch.empty()
        sizes = Counter(len(b) for b in blobs)
        if len(sizes) > 1 or next(iter(sizes)) % VECTOR_DTYPE.itemsize:  # damaged blobs: left out (verify)
            size = max(sizes, key=lambda n: (n % VECTOR_DTYPE.itemsize == 0 and n > 0, sizes[n]))
            kept = [(pid, b) for pid, b in zip(found_ids, blobs) if len(b) == size]
            if not kept or size % VECTOR_DTYPE.itemsize or size == 0:
                return VectorBatch.empty()
            found_ids, blobs = [k[0] for k in kept], [k[1] for k in kept]
        vectors = np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE).reshape(len(blobs), -1).astype(np.float32)
        return VectorBatch(np.asarray(found_ids, dtype=np.int64), vectors)

    @_damage_is_one_line
    def cached_embeddings(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self.lock:
            for chunk in _chunks(list(dict.fromkeys(hashes)), 500):
                marks = ",".join("?" * len(chunk))
                for h, blob in self.db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                    (model, *chunk),
                ):
                    if len(blob) and len(blob) % VECTOR_DTYPE.itemsize == 0:  # a damaged one is embedded again
                        out[h] = np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)
        return out

    @_damage_is_one_line
    def missing_embeddings(self, model: str) -> list[MissingEmbedding]:
        with self.lock:
            rows = self.db.execute(
                """SELECT p.embed_hash, MIN(p.id) FROM passages p LEFT JOIN embeddings e
                   ON e.model = ? AND e.text_hash = p.embed_hash WHERE e.text_hash IS NULL
                   GROUP BY p.embed_hash""",
                (model,),
            ).fetchall()
        return [MissingEmbedding(h, int(pid)) for h, pid in rows]

    @_damage_is_one_line
    def signatures(self, after_id: int = 0) -> list[SignatureRow]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, signature FROM documents WHERE signature IS NOT NULL AND id > ? ORDER BY id", (after_id,)
            ).fetchall()
        return [SignatureRow(int(i), bytes(s)) for i, s in rows]

    @_damage_is_one_line
    def document_span(self) -> DocumentSpan:
        with self.lock:
            row = self.db.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM documents").fetchone()
        return DocumentSpan(int(row[0]), int(row[1]))

    @_damage_is_one_line
    def export_documents(self, after_id: int = 0, limit: int = 100) -> list[StoredDocument]:
        from ..text.lexical import terms

        with self.lock:
            docs = self.db.execute(
                """SELECT id, content_hash, title, date, source, url, lang, path, place, page_starts, signature,
                          added, text FROM documents WHERE id > ? ORDER BY id LIMIT ?""", (after_id, limit)).fetchall()
            out = []
            for d in docs:
                rows = self.db.execute(
                    """SELECT p.id, p.ordinal, p.start, p.end, p.text, p.embed_hash, p.sentences, l.body
                       FROM passages p LEFT JOIN lexical l ON l.rowid = p.id WHERE p.doc_id = ? ORDER BY p.ordinal""",
                    (d[0],)).fetchall()
                passages = [NewPassage(r[1], r[2], r[3], r[4], r[5], [tuple(s) for s in json.loads(r[6])],
                                       (r[7] if r[7] is not None else " ".join(terms(r[4]))).split(), passage_id=r[0])
                            for r in rows]
                document = Document(d[12], title=d[2], date=d[3], source=d[4], url=d[5], lang=d[6], path=d[7],
                                    place=d[8], page_starts=json.loads(d[9]))
                record = NewDocument(document, content_hash=d[1], title_terms=terms(d[2]), passages=passages,
                                     signature=bytes(d[10]) if d[10] is not None else None, doc_id=d[0], added=d[11])
                out.append(StoredDocument(record))
        return out

    @_damage_is_one_line
    def export_embeddings(self, after: tuple[str, str] = ("", ""), limit: int = 1000) -> list[EmbeddingRow]:
        with self.lock:
            rows = self.db.execute(
                "SELECT model, text_hash, vector FROM embeddings WHERE (model, text_hash) > (?, ?) "
                "ORDER BY model, text_hash LIMIT ?", (after[0], after[1], limit)).fetchall()
        return [EmbeddingRow(m, h, np.frombuffer(v, dtype=VECTOR_DTYPE).astype(np.float32)) for m, h, v in rows]

    # -- writes outside documents -------------------------------------------------------------------
    def put_embeddings(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        if not items:
            return True
        rows = [(model, h, vector_bytes(v)) for h, v in items.items()]
        with self.lock:
            if not wait:
                self.db.execute("PRAGMA busy_timeout = 0")
            try:
                with self.write(bump=False) as db:
                    db.executemany("INSERT OR IGNORE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)", rows)
                return True
            except (UserError, StorageDamaged, sqlite3.OperationalError):
                if wait:
                    raise
                return False
            finally:
                if not wait:
                    self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def delete_embeddings(self, model: str, hashes: Iterable[str], keep_used: bool = True) -> int:
        hashes = list(dict.fromkeys(hashes))
        with self.lock:
            if keep_used:
                used: set[str] = set()
                for chunk in _chunks(hashes, 500):
                    marks = ",".join("?" * len(chunk))
                    used.update(r[0] for r in self.db.execute(
                        f"SELECT DISTINCT embed_hash FROM passages WHERE embed_hash IN ({marks})", chunk))
                hashes = [h for h in hashes if h not in used]
            if not hashes:
                return 0
            with self.write(bump=False) as db:
                before = db.total_changes
                db.executemany("DELETE FROM embeddings WHERE model = ? AND text_hash = ?", [(model, h) for h in hashes])
                return db.total_changes - before

    def trim_embeddings(self, model: str, keep: int, recent: Sequence[str] = ()) -> int:
        recent = list(dict.fromkeys(recent))[:500]
        marks = ",".join("?" * len(recent)) or "NULL"
        with self.lock:
            count = self.db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", (model,)).fetchone()[0]
            if count <= keep:
                return 0
            self.db.execute("PRAGMA busy_timeout = 0")
            try:
                with self.write(bump=False) as db:  # no insertion order in a WITHOUT ROWID table: random
                    cur = db.execute(f"""DELETE FROM embeddings WHERE model = ? AND text_hash IN (
                                           SELECT text_hash FROM embeddings WHERE model = ?
                                           AND text_hash NOT IN ({marks}) ORDER BY random() LIMIT ?)""",
                                     (model, model, *recent, count - keep))
                    return cur.rowcount
            except (UserError, StorageDamaged, sqlite3.OperationalError):
                return 0
            finally:
                self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    # -- search -------------------------------------------------------------------------------------
    @_damage_is_one_line
    def lexical_search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
                       title_weight: float = 0.5) -> list[ScoredPassage]:
        expression = fts_expression(terms)
        if expression is None or limit <= 0:
            return []
        with self.lock:
            if not filters.active:
                rows = self.db.execute(
                    "SELECT rowid, -bm25(lexical, ?, 1.0) AS s FROM lexical WHERE lexical MATCH ? "
                    "ORDER BY s DESC LIMIT ?",
                    (title_weight, expression, limit),
                ).fetchall()
            else:
                where, args = _filters(filters)
                rows = self.db.execute(
                    f"""SELECT l.rowid, -bm25(lexical, ?, 1.0) AS s FROM lexical l
                        JOIN passages p ON p.id = l.rowid JOIN documents d ON d.id = p.doc_id
                        WHERE lexical MATCH ? AND {where} ORDER BY s DESC LIMIT ?""",
                    (title_weight, expression, *args, limit),
                ).fetchall()
        return [ScoredPassage(int(r[0]), float(r[1])) for r in rows]

    def dense(self, model: str) -> DenseIndex:
        """The faiss index for ``model`` (one per model; created lazily, loaded from disk on first sync)."""
        with self.lock:
            if model not in self._dense:
                self._dense[model] = DenseIndex(self.home, model, self.ann_threshold)
            return self._dense[model]

    @_damage_is_one_line
    def vector_search(self, model: str, query: np.ndarray, limit: int,
                      filters: SearchFilters = NO_FILTERS) -> list[ScoredPassage]:
        dense = self.dense(model)
        dense.sync(self)
        allowed = self.passage_ids(filters) if filters.active else None
        return [ScoredPassage(pid, score) for pid, score in dense.search(self, query, limit, allowed)]

    @_damage_is_one_line
    def sync_vector_index(self, model: str) -> bool:
        return self.dense(model).sync(self)

    @_damage_is_one_line
    def rebuild_vector_index(self, model: str) -> int:
        dense = self.dense(model)
        with dense.lock:
            dense.discard()
            dense.sync(self)
            return dense.size

    def vector_index_size(self, model: str) -> int:
        return self.dense(model).size

    # -- integrity ----------------------------------------------------------------------------------


def _filters(filters: SearchFilters) -> tuple[str, list]:
    clauses, args = [], []
    if filters.since:
        clauses.append("d.date >= ?")
        args.append(filters.since)
    if filters.until:
        clauses.append("d.date <= ?")
        args.append(filters.until)
    if filters.source:
        clauses.append("lower(d.source) = lower(?)")
        args.append(filters.source)
    return (" AND ".join(clauses) or "1"), args


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
