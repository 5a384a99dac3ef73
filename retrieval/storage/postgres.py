"""The server engine: PostgreSQL + pgvector (psycopg 3, a connection pool), for corpora that outgrow one machine.

Everything lives in tables of one database, so any number of processes on any number of machines can
read and write it: documents, passages, their lexical postings (the same stemmed terms the SQLite
engine puts into FTS5), and the embedding cache (a pgvector ``vector`` column).

* **Writes.** ``transaction()`` is one PostgreSQL transaction that first takes a transaction-scoped
  advisory lock (``WRITE_LOCK``), so writers of all processes are serialised exactly like SQLite's
  ``BEGIN IMMEDIATE``: the content-hash and path checks made inside it are reliable, no update is lost,
  and a killed writer's transaction is rolled back by the server (the document is wholly absent).
* **Lexical search** is BM25 computed in SQL with FTS5's formula (k1 = 1.2, b = 0.75, per-field weights,
  idf clamped at 1e-6) over a postings table of the terms ``retrieval.text.lexical.terms`` computes (the
  title and body fields counted separately), so rankings match the SQLite engine's exactly. Measured
  against ``tsvector`` + ``ts_rank`` with the ``simple`` (pre-stemmed terms) and PostgreSQL's own
  ``english``/``russian`` configurations, it was the only one close to FTS5 (docs/storage.md).
* **Vector search** uses one HNSW index per model over ``halfvec`` casts of the cached vectors
  (a partial expression index), iterative scans for filtered queries, and exact re-scoring of the
  candidates from the stored float32 vectors; narrowly filtered sets are scanned exactly.
* **Schema** is a numbered list of migrations, each applied once in its own transaction under an
  advisory lock (table ``schema_migrations``).
"""
from __future__ import annotations

import functools
import json
import logging
import re
import struct
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np
import psycopg
from psycopg import errors as pgerr
from psycopg import sql
from psycopg.adapt import Dumper, Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import UserError
from ..types import Document, DocumentInfo
from .base import (NO_FILTERS, Counts, DocumentSpan, DocumentText, EmbeddingRow, MissingEmbedding, NewDocument,
                   NewPassage, PassageRow, ScoredPassage, SearchFilters, SignatureRow, StorageDamaged, StoredDocument,
                   Transaction, VectorBatch, utc_now)
from .postgres_schema import INDEX_VECTOR_TYPE, MIGRATIONS, SCHEMA_VERSION, index_name, lexemes, lexical_postings
from .verify_postgres import PostgresChecks

WRITE_LOCK = 0x63697465  # pg_advisory_xact_lock key serialising document writers ("cite")
MIGRATE_LOCK = 0x6D696772  # ... and schema migrations ("migr")
BUSY_TIMEOUT_S = 60.0
POOL_MAX = 8  # connections per process: the bot's worker threads share them
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's constants
EXACT_BELOW = 10_000  # filters leaving fewer passages than this are scanned exactly
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
# Measured on bench/storage.py's synthetic 100k (docs/storage.md): recall@10 against exact search was
# 0.96 with ef_search 100 / 40 candidates, 0.986 with 200 / 100, 0.991 with 400 / 200 (halfvec index).
HNSW_EF_SEARCH = 400  # at least; raised to the number of candidates (at most 1000)
CANDIDATES_PER_RESULT, MIN_CANDIDATES = 2, 200  # HNSW candidates re-scored exactly, per result asked for
PROBE_AFTER_S = 3.0  # a checkout waiting this long asks whether the server is there at all
# The pool's worker logs every failed reconnection (24-28 lines while a stopped server made `add` wait);
# the one-line error below says it once.
logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)

_F = TypeVar("_F", bound=Callable[..., Any])

# -- numpy <-> pgvector, binary, without the pgvector package -----------------------------------------
class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: np.ndarray) -> bytes:
        values = np.asarray(obj, dtype=">f4").reshape(-1)
        return struct.pack(">HH", len(values), 0) + values.tobytes()


class _VectorLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        dim = struct.unpack_from(">H", data, 0)[0]
        return np.frombuffer(bytes(data[4:4 + 4 * dim]), dtype=">f4").astype(np.float32)


def _configure(conn: psycopg.Connection) -> None:
    """Per connection: numpy arrays travel as binary pgvector values."""
    info = TypeInfo.fetch(conn, "vector")
    if info is None:  # pragma: no cover - migrations create the extension before the pool opens
        raise UserError("the PostgreSQL database has no `vector` type: run CREATE EXTENSION vector in it")
    dumper = type("VectorDumper", (_VectorDumper,), {"oid": info.oid})
    conn.adapters.register_dumper(np.ndarray, dumper)
    conn.adapters.register_loader(info.oid, _VectorLoader)
    conn.autocommit = True  # reads need no transaction; writes open one explicitly


# -- helpers ------------------------------------------------------------------------------------------
def safe_location(url: str) -> str:
    """The URL without its password (for messages and `citebot stats`)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1@", url)
    user = params.get("user", "")
    host = params.get("host", "")
    port = params.get("port", "")
    where = host if not host.startswith("/") else ""
    out = f"postgresql://{user + '@' if user else ''}{where}{':' + port if port and where else ''}/{params.get('dbname', '')}"
    if host.startswith("/"):
        out += f"?host={host}"
    return out


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _filters(filters: SearchFilters) -> tuple[sql.Composable, dict]:
    """The WHERE clause over ``documents d`` for ``filters``, with named parameters."""
    clauses: list[sql.Composable] = []
    params: dict = {}
    if filters.since:
        clauses.append(sql.SQL("d.date >= %(f_since)s"))
        params["f_since"] = filters.since
    if filters.until:
        clauses.append(sql.SQL("d.date <= %(f_until)s"))
        params["f_until"] = filters.until
    if filters.source:
        clauses.append(sql.SQL("lower(d.source) = lower(%(f_source)s)"))
        params["f_source"] = filters.source
    return (sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("true")), params


_WHAT_TO_DO = ("check that the server is running and CITEBOT_DATABASE_URL reaches it, then run the command "
               "again (what was committed is kept; documents already added are skipped)")


class _Pool(ConnectionPool):
    """A pool whose checkout fails within seconds when the server is gone (a stopped server made every
    checkout wait the whole busy timeout, 60 s), and still waits the full timeout for a busy pool."""

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        total = self.timeout if timeout is None else timeout
        first = min(PROBE_AFTER_S, total)
        try:
            return super().getconn(timeout=first)
        except PoolTimeout:
            if first >= total:
                raise
        try:  # a busy pool, or no server? one direct connection tells
            psycopg.connect(self.conninfo, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            raise psycopg.OperationalError(_first_line(exc)) from None
        return super().getconn(timeout=total - first)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or ["connection failed"])[0]


class _Errors:
    """Turns server and connection failures into one-line UserError / StorageDamaged."""

    def __init__(self, location: str) -> None:
        self.location = location

    def translate(self, exc: BaseException) -> BaseException | None:
        where = self.location
        if isinstance(exc, pgerr.DiskFull):
            return UserError(f"the PostgreSQL server holding {where} is out of disk space: nothing of this change "
                             f"was written; free some space and run the command again")
        if isinstance(exc, pgerr.ReadOnlySqlTransaction):
            return UserError(f"the PostgreSQL database {where} is read-only (a replica?): point "
                             f"CITEBOT_DATABASE_URL at the primary to add or remove documents")
        if isinstance(exc, pgerr.LockNotAvailable):
            return UserError(f"the index in {where} is busy: another citebot process has been writing to it for "
                             f"over {BUSY_TIMEOUT_S:.0f} s; try again when it finishes")
        if isinstance(exc, pgerr.InsufficientPrivilege):
            return UserError(f"PostgreSQL refused access in {where}: {str(exc).splitlines()[0]}")
        if isinstance(exc, (pgerr.DataCorrupted, pgerr.IndexCorrupted)):
            return StorageDamaged(f"the PostgreSQL database {where} reports damage ({str(exc).splitlines()[0]}); "
                                  f"run `citebot verify`, and ask its administrator to check the server")
        if isinstance(exc, PoolTimeout):
            return UserError(f"cannot reach PostgreSQL at {where}: no connection within the timeout; {_WHAT_TO_DO}")
        if isinstance(exc, psycopg.OperationalError):
            first = (str(exc).strip().splitlines() or ["connection failed"])[0]
            return UserError(f"lost or could not open the connection to PostgreSQL at {where}: {first}; {_WHAT_TO_DO}")
        return None

    @contextmanager
    def one_line(self) -> Iterator[None]:
        """Inside it, a server or connection failure is raised as its one-line error; others pass unchanged."""
        try:
            yield
        except (psycopg.Error, PoolTimeout) as exc:
            mapped = self.translate(exc)
            if mapped is None:
                raise
            raise mapped from None


def _one_line_errors(method: _F) -> _F:
    @functools.wraps(method)
    def wrapper(self: "PostgresStorage", *args: Any, **kwargs: Any) -> Any:
        with self._errors.one_line():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


# -- the transaction ----------------------------------------------------------------------------------
class _PgTransaction(Transaction):
    def __init__(self, storage: "PostgresStorage", conn: psycopg.Connection) -> None:
        self.storage = storage
        self.conn = conn
        self.rows_delta = 0
        self.tokens_delta = 0
        self.explicit_ids = False
        self._passages: list[tuple] = []
        self._postings: list[tuple] = []

    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        return self.storage._find_document(self.conn, content_hash, path)

    def document_info(self, doc_id: int) -> DocumentInfo | None:
        self.flush()
        return self.storage._document_info(self.conn, doc_id)

    def insert_document(self, doc: NewDocument) -> int:
        conn = self.conn
        columns, values = doc.document_row()
        if doc.doc_id is not None:
            self.explicit_ids = True
        query = sql.SQL("INSERT INTO documents ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)))
        doc_id = int(conn.execute(query, values).fetchone()[0])
        if not doc.passages:
            return doc_id
        ids = [p.passage_id for p in doc.passages]
        if any(i is None for i in ids):
            fresh = iter(r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence('passages', 'id')) FROM generate_series(1, %s)",
                (sum(i is None for i in ids),)).fetchall())
            ids = [i if i is not None else next(fresh) for i in ids]
        if any(p.passage_id is not None for p in doc.passages):
            self.explicit_ids = True
        for pid, p in zip(ids, doc.passages):
            entries, length = lexical_postings(doc.title_terms, p.terms)
            self.rows_delta += 1
            self.tokens_delta += length
            self._passages.append((pid, doc_id, p.ordinal, p.start, p.end, p.text, p.embed_hash,
                                   json.dumps([list(s) for s in p.sentences]), length))
            self._postings.extend((term, pid, tf_title, tf_body, length) for term, tf_title, tf_body in entries)
        if len(self._postings) > 200_000:
            self.flush()
        return doc_id

    def flush(self) -> None:
        """Write the buffered passages and postings (two COPYs per batch instead of two per document);
        called before anything in the transaction reads them, and before COMMIT."""
        if not self._passages:
            return
        with self.conn.cursor() as cur:
            with cur.copy('COPY passages (id, doc_id, ordinal, start, "end", text, embed_hash, sentences, lex_len) '
                          'FROM STDIN') as copy:
                for row in self._passages:
                    copy.write_row(row)
            with cur.copy("COPY postings (term, passage_id, tf_title, tf_body, len) FROM STDIN") as copy:
                for row in self._postings:
                    copy.write_row(row)
        self._passages.clear()
        self._postings.clear()

    def delete_document(self, doc_id: int) -> None:
        self.flush()
        row = self.conn.execute("SELECT count(*), COALESCE(sum(lex_len), 0) FROM passages WHERE doc_id = %s",
                                (doc_id,)).fetchone()
        self.rows_delta -= int(row[0])
        self.tokens_delta -= int(row[1])
        self.conn.execute("DELETE FROM postings WHERE passage_id IN (SELECT id FROM passages WHERE doc_id = %s)",
                          (doc_id,))
        self.conn.execute("DELETE FROM passages WHERE doc_id = %s", (doc_id,))
        self.conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,))

    def finish(self) -> None:
        """Buffered rows, counters and sequences, in the same transaction just before COMMIT."""
        self.flush()
        conn = self.conn
        if self.rows_delta or self.tokens_delta:
            conn.execute("UPDATE lexical_totals SET rows = rows + %s, tokens = tokens + %s WHERE id = 1",
                         (self.rows_delta, self.tokens_delta))
        if self.explicit_ids:  # copied ids: the identity sequences must move past them (never reuse an id)
            for table in ("documents", "passages"):
                conn.execute(sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), GREATEST((SELECT COALESCE(max(id), 1) FROM {i}), "
                    "(SELECT last_value FROM {s})))").format(
                    t=sql.Literal(table), i=sql.Identifier(table),
                    s=sql.SQL(conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0])))
        conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")


# -- the engine ---------------------------------------------------------------------------------------
class PostgresStorage(PostgresChecks):
    """A corpus in one PostgreSQL database (with the pgvector extension). Thread-safe: each call borrows a
    connection from the pool; a transaction keeps its connection until it ends."""

    engine = "postgresql"

    def __init__(self, url: str, settings: Any = None, *, pool_size: int = POOL_MAX,
                 index_type: str = INDEX_VECTOR_TYPE) -> None:
        if index_type not in ("halfvec", "vector"):
            raise ValueError("index_type is halfvec or vector")
        self.url = url
        self.index_type = index_type  # what the HNSW index stores (bench/storage.py compares the two)
        self.settings = settings
        self._location = safe_location(url)
        self._errors = _Errors(self._location)
        self._models: dict[str, int] = {}
        self._models_lock = threading.Lock()
        self._indexed: set[str] = set()
        self._closed = False
        with self._errors.one_line():
            self._migrate()
            # check_connection: a connection the server dropped (restart, failover to a replica) is
            # replaced on checkout instead of failing the next question
            self.pool = _Pool(url, min_size=1, max_size=max(1, pool_size), configure=_configure,
                                       check=ConnectionPool.check_connection, kwargs={"connect_timeout": 15},
                                       open=False, timeout=BUSY_TIMEOUT_S, name="citebot")
            self.pool.open(wait=True, timeout=30)

    @property
    def location(self) -> str:
        return self._location

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.pool.close()

    # -- schema ---------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        try:
            conn = psycopg.connect(self.url, connect_timeout=15, autocommit=True)
        except psycopg.OperationalError as exc:
            first = (str(exc).strip().splitlines() or ["connection failed"])[0]
            raise UserError(f"cannot connect to PostgreSQL at {self._location}: {first}") from None
        with conn:
            if conn.info.server_version < 130000:
                raise UserError(f"PostgreSQL at {self._location} is version {conn.info.server_version // 10000}; "
                                f"citebot needs 13 or newer (with pgvector 0.7 or newer)")
            if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is not None:
                version = self._version(conn)
                if version == SCHEMA_VERSION:
                    return  # nothing to write: also how a read-only replica is opened
                if version > SCHEMA_VERSION:
                    raise UserError(f"the index in {self._location} was written by a newer citebot (schema {version})")
            with conn.transaction():  # one process at a time: CREATE EXTENSION IF NOT EXISTS races otherwise
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
                    try:
                        with conn.transaction():
                            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    except (pgerr.InsufficientPrivilege, pgerr.FeatureNotSupported, pgerr.UndefinedFile) as exc:
                        raise UserError(
                            f"the database {self._location} lacks the pgvector extension and citebot may not create "
                            f"it ({str(exc).splitlines()[0]}): install pgvector on the server and run "
                            f"`CREATE EXTENSION vector;` in that database as its owner or a superuser") from None
                conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                             "applied text NOT NULL)")
            version = self._version(conn)
            if version > SCHEMA_VERSION:
                raise UserError(f"the index in {self._location} was written by a newer citebot (schema {version})")
            for number, script in MIGRATIONS:
                if number <= version:
                    continue
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                    if conn.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (number,)).fetchone():
                        continue  # another process applied it while we waited
                    conn.execute(script)
                    conn.execute("INSERT INTO schema_migrations(version, applied) VALUES (%s, %s)", (number, utc_now()))

    @staticmethod
    def _version(conn: psycopg.Connection) -> int:
        return int(conn.execute("SELECT COALESCE(max(version), 0) FROM schema_migrations").fetchone()[0])

    @_one_line_errors
    def schema_version(self) -> int:
        with self.pool.connection() as conn:
            return self._version(conn)

    # -- writes ---------------------------------------------------------------------------------------
    @contextmanager
    def _write(self, *, lock: bool) -> Iterator[psycopg.Connection]:
        """One server transaction; ``lock`` takes the writers' advisory lock first (documents change)."""
        with self._errors.one_line(), self.pool.connection() as conn, conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{int(BUSY_TIMEOUT_S * 1000)}ms'")
            if lock:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._write(lock=True) as conn:
            tx = _PgTransaction(self, conn)
            yield tx
            tx.finish()

    def _ensure_model(self, conn: psycopg.Connection, model: str, dim: int) -> None:
        """Register ``model`` with its dimension the first time one of its vectors is stored."""
        if self._models.get(model) == dim:
            return
        row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
        if row is None:
            conn.execute("INSERT INTO vector_models(model, dim) VALUES (%s, %s) ON CONFLICT (model) DO NOTHING",
                         (model, dim))
            row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
        with self._models_lock:
            self._models[model] = int(row[0])

    def _ensure_index(self, model: str) -> bool:
        """Create the HNSW index of ``model``'s vectors if it is missing (once per model: the first search
        or sync after its first vectors; a migration builds it at the end). Returns whether it built one.
        Question vectors (``<model>#query``) are never searched, so they never get an index."""
        if model in self._indexed:
            return False
        with self.pool.connection() as conn:
            row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
            if row is None:
                return False
            dim, name = int(row[0]), index_name(model, self.index_type)
            built = False
            if not conn.execute("SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i'", (name,)).fetchone():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                    conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                    conn.execute(sql.SQL(
                        "CREATE INDEX IF NOT EXISTS {name} ON embeddings USING hnsw ((vector::{vt}({dim})) {ops}) "
                        "WITH (m = {m}, ef_construction = {ef}) WHERE model = {model}").format(
                        name=sql.Identifier(name), vt=sql.SQL(self.index_type), dim=sql.Literal(dim),
                        ops=sql.SQL(f"{self.index_type}_ip_ops"), m=sql.Literal(HNSW_M),
                        ef=sql.Literal(HNSW_EF_CONSTRUCTION), model=sql.Literal(model)))
                built = True
                conn.execute("ANALYZE embeddings, passages, documents")  # plans for the first searches
        self._indexed.add(model)
        return built

    def _model_dim(self, conn: psycopg.Connection, model: str) -> int | None:
        if model in self._models:
            return self._models[model]
        row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
        if row is not None:
            with self._models_lock:
                self._models[model] = int(row[0])
            return int(row[0])
        return None

    def put_embeddings(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        if not items:
            return True
        rows = [(model, h, np.asarray(v, dtype=np.float32).reshape(-1)) for h, v in items.items()]
        dims = {len(r[2]) for r in rows}
        try:
            with self._write(lock=False) as conn:
                if not wait:
                    conn.execute("SET LOCAL lock_timeout = '200ms'")
                    conn.execute("SET LOCAL statement_timeout = '5s'")
                for dim in dims:
                    self._ensure_model(conn, model, dim)
                known = self._models.get(model)
                rows = [r for r in rows if len(r[2]) == known]  # a vector of another size would poison the index
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO embeddings(model, text_hash, vector) VALUES (%s, %s, %b) "
                                    "ON CONFLICT (model, text_hash) DO NOTHING", rows)
            return True
        except (UserError, psycopg.Error):
            if wait:
                raise
            return False

    @_one_line_errors
    def delete_embeddings(self, model: str, hashes: Iterable[str], keep_used: bool = True) -> int:
        hashes = list(dict.fromkeys(hashes))
        if not hashes:
            return 0
        keep = "AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.embed_hash = e.text_hash)" if keep_used else ""
        with self._write(lock=False) as conn:
            cur = conn.execute(f"DELETE FROM embeddings e WHERE e.model = %s AND e.text_hash = ANY(%s) {keep}",
                               (model, hashes))
            return cur.rowcount

    def trim_embeddings(self, model: str, keep: int, recent: Sequence[str] = ()) -> int:
        """Keep at most ``keep`` cached vectors of ``model`` (a bounded cache such as question vectors),
        never the ``recent`` ones; which others go is arbitrary (hash order). Best effort."""
        try:
            with self._write(lock=False) as conn:
                conn.execute("SET LOCAL lock_timeout = '200ms'")
                count = conn.execute("SELECT count(*) FROM embeddings WHERE model = %s", (model,)).fetchone()[0]
                if count <= keep:
                    return 0
                cur = conn.execute("""DELETE FROM embeddings WHERE model = %s AND text_hash IN (
                                        SELECT text_hash FROM embeddings WHERE model = %s AND NOT text_hash = ANY(%s)
                                        ORDER BY text_hash LIMIT %s)""",
                                   (model, model, list(recent), count - keep))
                return cur.rowcount
        except (UserError, psycopg.Error):
            return 0

    @_one_line_errors
    def get_meta(self, key: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    @_one_line_errors
    def set_meta(self, key: str, value: str) -> None:
        if key == "generation":
            raise ValueError("the generation moves only with write transactions")
        with self._write(lock=False) as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                         "excluded.value", (key, str(value)))

    # -- reads ----------------------------------------------------------------------------------------
    @_one_line_errors
    def generation(self) -> int:
        with self.pool.connection() as conn:
            return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    @staticmethod
    def _find_document(conn: psycopg.Connection, content_hash: str | None, path: str | None) -> int | None:
        if content_hash is not None:
            row = conn.execute("SELECT id FROM documents WHERE content_hash = %s", (content_hash,)).fetchone()
        else:
            row = conn.execute("SELECT id FROM documents WHERE path = %s ORDER BY id DESC LIMIT 1", (path,)).fetchone()
        return int(row[0]) if row else None

    @_one_line_errors
    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        with self.pool.connection() as conn:
            return self._find_document(conn, content_hash, path)

    _INFO = """SELECT d.id, d.title, d.date, d.source, d.url, d.lang, d.path, d.added, d.content_hash,
                      (SELECT count(*) FROM passages p WHERE p.doc_id = d.id) FROM documents d"""

    @staticmethod
    def _info(row: Sequence) -> DocumentInfo:
        return DocumentInfo(doc_id=int(row[0]), title=row[1], date=row[2], source=row[3], url=row[4], lang=row[5],
                            path=row[6], added=row[7], content_hash=row[8], passages=int(row[9]))

    def _document_info(self, conn: psycopg.Connection, doc_id: int) -> DocumentInfo | None:
        if not -2**63 <= int(doc_id) < 2**63:
            return None
        row = conn.execute(self._INFO + " WHERE d.id = %s", (int(doc_id),)).fetchone()
        return self._info(row) if row else None

    @_one_line_errors
    def document_info(self, doc_id: int) -> DocumentInfo | None:
        with self.pool.connection() as conn:
            return self._document_info(conn, doc_id)

    @_one_line_errors
    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        with self.pool.connection() as conn:
            rows = conn.execute(self._INFO + " ORDER BY d.id LIMIT %s OFFSET %s", (limit, offset)).fetchall()
        return [self._info(r) for r in rows]

    @_one_line_errors
    def document_text(self, doc_id: int) -> DocumentText:
        with self.pool.connection() as conn:
            row = None
            if -2**63 <= int(doc_id) < 2**63:
                row = conn.execute("SELECT text, page_starts FROM documents WHERE id = %s", (int(doc_id),)).fetchone()
        if row is None:
            raise UserError(f"no document with id {doc_id}")
        return DocumentText(row[0], list(row[1]))

    @_one_line_errors
    def counts(self) -> Counts:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM passages), "
                               "(SELECT count(*) FROM embeddings)").fetchone()
        return Counts(int(row[0]), int(row[1]), int(row[2]))

    @_one_line_errors
    def document_span(self) -> DocumentSpan:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT COALESCE(max(id), 0), count(*) FROM documents").fetchone()
        return DocumentSpan(int(row[0]), int(row[1]))

    @_one_line_errors
    def signatures(self, after_id: int = 0) -> list[SignatureRow]:
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT id, signature FROM documents WHERE signature IS NOT NULL AND id > %s "
                                "ORDER BY id", (after_id,)).fetchall()
        return [SignatureRow(int(i), bytes(s)) for i, s in rows]

    @_one_line_errors
    def passages(self, ids: Iterable[int]) -> dict[int, PassageRow]:
        ids = [int(i) for i in ids]
        out: dict[int, PassageRow] = {}
        if not ids:
            return out
        with self.pool.connection() as conn:
            for chunk in _chunks(ids, 5000):
                rows = conn.execute(
                    """SELECT p.id, p.doc_id, p.ordinal, p.start, p."end", p.text, p.embed_hash, p.sentences,
                              d.title, d.date, d.source, d.url, d.page_starts
                       FROM passages p JOIN documents d ON d.id = p.doc_id WHERE p.id = ANY(%s)""", (chunk,)).fetchall()
                for r in rows:
                    out[int(r[0])] = PassageRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6],
                                                [tuple(s) for s in r[7]], r[8], r[9], r[10], r[11], list(r[12]))
        return out

    @_one_line_errors
    def passage_ids(self, filters: SearchFilters = NO_FILTERS) -> np.ndarray:
        with self.pool.connection() as conn:
            if filters.active:
                where, args = _filters(filters)
                rows = conn.execute(sql.SQL("SELECT p.id FROM passages p JOIN documents d ON d.id = p.doc_id "
                                            "WHERE {} ORDER BY p.id").format(where), args).fetchall()
            else:
                rows = conn.execute("SELECT id FROM passages ORDER BY id").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    @_one_line_errors
    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch:
        found: list[int] = []
        vectors: list[np.ndarray] = []
        base = """SELECT p.id, e.vector FROM passages p JOIN embeddings e ON e.model = %s AND e.text_hash = p.embed_hash"""
        with self.pool.connection() as conn:
            with conn.cursor(binary=True) as cur:
                if ids is None:
                    batches: Iterable = [cur.execute(base + " ORDER BY p.id", (model,))]
                else:
                    wanted = sorted({int(i) for i in ids})
                    batches = (cur.execute(base + " WHERE p.id = ANY(%s) ORDER BY p.id", (model, chunk))
                               for chunk in _chunks(wanted, 5000))
                for result in batches:
                    for pid, vec in result:
                        found.append(int(pid))
                        vectors.append(vec)
        if not vectors:
            return VectorBatch.empty()
        if len({len(v) for v in vectors}) != 1:
            raise StorageDamaged(f"the index in {self._location} holds vectors of different sizes for model {model}; "
                                 f"run `citebot verify --repair` to re-embed them")
        return VectorBatch(np.asarray(found, dtype=np.int64), np.stack(vectors).astype(np.float32))

    @_one_line_errors
    def cached_embeddings(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        hashes = list(dict.fromkeys(hashes))
        if not hashes:
            return out
        with self.pool.connection() as conn:
            dim = self._model_dim(conn, model)
            with conn.cursor(binary=True) as cur:
                for chunk in _chunks(hashes, 5000):
                    for h, vec in cur.execute("SELECT text_hash, vector FROM embeddings WHERE model = %s "
                                              "AND text_hash = ANY(%s)", (model, chunk)):
                        if dim is None or len(vec) == dim:  # a damaged one is embedded again
                            out[h] = vec
        return out

    @_one_line_errors
    def missing_embeddings(self, model: str) -> list[MissingEmbedding]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                """SELECT p.embed_hash, min(p.id) FROM passages p
                   WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = %s AND e.text_hash = p.embed_hash)
                   GROUP BY p.embed_hash ORDER BY min(p.id)""", (model,)).fetchall()
        return [MissingEmbedding(h, int(pid)) for h, pid in rows]

    @_one_line_errors
    def export_documents(self, after_id: int = 0, limit: int = 100) -> list[StoredDocument]:
        from ..text.lexical import terms

        out = []
        with self.pool.connection() as conn:
            docs = conn.execute(
                """SELECT id, content_hash, title, date, source, url, lang, path, place, page_starts, signature,
                          added, text FROM documents WHERE id > %s ORDER BY id LIMIT %s""", (after_id, limit)).fetchall()
            for d in docs:
                rows = conn.execute(
                    """SELECT id, ordinal, start, "end", text, embed_hash, sentences FROM passages
                       WHERE doc_id = %s ORDER BY ordinal, id""", (d[0],)).fetchall()
                passages = [NewPassage(r[1], r[2], r[3], r[4], r[5], [tuple(s) for s in r[6]], terms(r[4]),
                                       passage_id=int(r[0])) for r in rows]
                document = Document(d[12], title=d[2], date=d[3], source=d[4], url=d[5], lang=d[6], path=d[7],
                                    place=d[8], page_starts=list(d[9]))
                out.append(StoredDocument(NewDocument(
                    document, content_hash=d[1], title_terms=terms(d[2]), passages=passages,
                    signature=bytes(d[10]) if d[10] is not None else None, doc_id=int(d[0]), added=d[11])))
        return out

    @_one_line_errors
    def export_embeddings(self, after: tuple[str, str] = ("", ""), limit: int = 1000) -> list[EmbeddingRow]:
        with self.pool.connection() as conn:
            with conn.cursor(binary=True) as cur:
                rows = cur.execute("SELECT model, text_hash, vector FROM embeddings WHERE (model, text_hash) > (%s, %s) "
                                   "ORDER BY model, text_hash LIMIT %s", (after[0], after[1], limit)).fetchall()
        return [EmbeddingRow(m, h, v) for m, h, v in rows]

    # -- search ---------------------------------------------------------------------------------------
    @_one_line_errors
    def lexical_search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
                       title_weight: float = 0.5) -> list[ScoredPassage]:
        distinct = list(dict.fromkeys(lexemes(terms)))
        if not distinct or limit <= 0:
            return []
        where, args = _filters(filters)
        join = sql.SQL("JOIN documents d ON d.id = s.doc_id") if filters.active else sql.SQL("")
        # FTS5's bm25(): idf over every passage (the filter only picks among the scored ones), the
        # title field weighted title_weight, the row's length against the average row length.
        join = sql.SQL("JOIN passages p ON p.id = s.id JOIN documents d ON d.id = p.doc_id") if filters.active \
            else sql.SQL("")
        query = sql.SQL("""
WITH tot AS (SELECT GREATEST(rows, 1)::float8 AS n, GREATEST(tokens::float8 / GREATEST(rows, 1), 1e-9) AS avgdl
             FROM lexical_totals WHERE id = 1),
hits AS (SELECT po.passage_id, po.len, %(tw)s * po.tf_title + po.tf_body AS w,
                count(*) OVER (PARTITION BY po.term)::float8 AS df
         FROM postings po WHERE po.term = ANY(%(terms)s)),
s AS (SELECT h.passage_id AS id,
             sum(GREATEST(ln((tot.n - h.df + 0.5) / (h.df + 0.5)), 1e-6) * (h.w * (%(k1)s + 1))
                 / (h.w + %(k1)s * (1 - %(b)s + %(b)s * h.len / tot.avgdl))) AS score
      FROM hits h CROSS JOIN tot GROUP BY h.passage_id)
SELECT s.id, s.score FROM s {join} WHERE {where} ORDER BY s.score DESC, s.id LIMIT %(limit)s""").format(
            join=join, where=where)
        params = {"terms": distinct, "tw": float(title_weight), "k1": BM25_K1, "b": BM25_B, "limit": int(limit), **args}
        with self.pool.connection() as conn:
            rows = conn.execute(query, params).fetchall()
        return [ScoredPassage(int(pid), float(score)) for pid, score in rows]

    @_one_line_errors
    def vector_search(self, model: str, query: np.ndarray, limit: int,
                      filters: SearchFilters = NO_FILTERS) -> list[ScoredPassage]:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if limit <= 0:
            return []
        self._ensure_index(model)
        with self.pool.connection() as conn:
            dim = self._model_dim(conn, model)
            if dim is None or dim != len(q):
                return []
            where, args = _filters(filters)
            join = sql.SQL("JOIN documents d ON d.id = p.doc_id") if filters.active else sql.SQL("")
            exact = self._small(conn, filters, join, where, args)
            candidates = max(limit * CANDIDATES_PER_RESULT, MIN_CANDIDATES)
            with conn.transaction():
                if exact:
                    query_sql = sql.SQL("""
SELECT p.id, -(e.vector <#> %(q)s) AS score FROM embeddings e JOIN passages p ON p.embed_hash = e.text_hash {join}
WHERE e.model = {model} AND {where} ORDER BY score DESC, p.id LIMIT %(limit)s""")
                else:
                    ef_search = min(1000, max(HNSW_EF_SEARCH, candidates))
                    conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search)))
                    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                    query_sql = sql.SQL("""
SELECT id, score FROM (
  SELECT p.id, -(e.vector <#> %(q)s) AS score FROM embeddings e JOIN passages p ON p.embed_hash = e.text_hash {join}
  WHERE e.model = {model} AND {where}
  ORDER BY e.vector::{vt}({dim}) <#> %(q)s::vector::{vt}({dim}) LIMIT %(candidates)s) c
ORDER BY score DESC, id LIMIT %(limit)s""")
                composed = query_sql.format(join=join, where=where, model=sql.Literal(model),
                                            vt=sql.SQL(self.index_type), dim=sql.Literal(dim))
                rows = conn.execute(composed, {"q": q, "limit": int(limit), "candidates": candidates, **args}).fetchall()
        return [ScoredPassage(int(pid), float(score)) for pid, score in rows]

    def _small(self, conn: psycopg.Connection, filters: SearchFilters, join: sql.Composable,
               where: sql.Composable, args: dict) -> bool:
        """Whether a filter leaves so few passages that scanning them exactly beats walking the HNSW graph
        (whose iterative scan gives up after hnsw.max_scan_tuples candidates)."""
        if not filters.active:
            return False
        count = conn.execute(sql.SQL("SELECT count(*) FROM (SELECT 1 FROM passages p {join} WHERE {where} "
                                     "LIMIT {n}) s").format(join=join, where=where, n=sql.Literal(EXACT_BELOW)),
                             args).fetchone()[0]
        return count < EXACT_BELOW

    @_one_line_errors
    def sync_vector_index(self, model: str) -> bool:
        # PostgreSQL maintains the HNSW index inside each transaction; only its creation is ours.
        return self._ensure_index(model)

    @_one_line_errors
    def rebuild_vector_index(self, model: str) -> int:
        with self.pool.connection() as conn:
            if conn.execute("SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i'",
                            (index_name(model, self.index_type),)).fetchone():
                conn.execute(sql.SQL("REINDEX INDEX {}").format(sql.Identifier(index_name(model, self.index_type))))
            else:
                self._indexed.discard(model)
                self._ensure_index(model)
        return self.vector_index_size(model)

    @_one_line_errors
    def vector_index_size(self, model: str) -> int:
        with self.pool.connection() as conn:
            return int(conn.execute("SELECT count(*) FROM passages p JOIN embeddings e ON e.model = %s "
                                    "AND e.text_hash = p.embed_hash", (model,)).fetchone()[0])
