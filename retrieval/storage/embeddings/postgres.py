"""The embedding cache in PostgreSQL: a pgvector ``vector`` column, and each model's dimension in
``vector_models`` (registered with its first vector; a vector of another size is never stored, so the
model's HNSW index is never poisoned)."""
from __future__ import annotations

import threading
from typing import Any, Iterable, Sequence

import numpy as np
import psycopg
from psycopg import errors as pgerr

from ...errors import UserError
from ..base import EmbeddingRow, one_line_errors
from ..pgcopy import binary_vector_rows
from ..postgres import WriteConflict
from ..rows import chunks
from .base import Embeddings


PUT_ATTEMPTS = 3  # a batch rolled back by a write conflict is written again this many times in all


class PostgresEmbeddings(Embeddings):
    def __init__(self, database: Any) -> None:
        super().__init__(database)
        self._dims: dict[str, int] = {}
        self._dims_lock = threading.Lock()

    # -- model dimensions (the vectors part reads them too) -------------------------------------------
    def model_dim(self, conn: psycopg.Connection, model: str) -> int | None:
        """The registered dimension of ``model``'s vectors (None before its first vector)."""
        if model in self._dims:
            return self._dims[model]
        row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
        if row is None:
            return None
        with self._dims_lock:
            self._dims[model] = int(row[0])
        return int(row[0])

    def _register(self, conn: psycopg.Connection, model: str, dim: int) -> int:
        """Register ``model`` with ``dim`` unless it has a dimension; returns the model's dimension."""
        known = self.model_dim(conn, model)
        if known is not None:
            return known
        conn.execute("INSERT INTO vector_models(model, dim) VALUES (%s, %s) ON CONFLICT (model) DO NOTHING",
                     (model, dim))
        return int(self.model_dim(conn, model) or dim)

    # -- writes ---------------------------------------------------------------------------------------
    def put(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        """New vectors go in with one binary COPY (the hashes already stored are read first and left
        alone); if another process stores one of the same hashes meanwhile, the COPY fails on the key and
        the batch is written again with INSERT ... ON CONFLICT DO NOTHING."""
        if not items:
            return True
        # in hash order: two processes storing overlapping batches take the rows' locks in one order, so
        # they wait for each other instead of deadlocking; a conflict with another kind of transaction
        # (a deadlock PostgreSQL broke by rolling this one back) is written again
        rows = [(model, h, np.asarray(items[h], dtype=np.float32).reshape(-1)) for h in sorted(items)]
        copy = True
        for attempt in range(PUT_ATTEMPTS):
            try:
                try:
                    self._put(model, rows, wait, copy=copy)
                except pgerr.UniqueViolation:
                    self._put(model, rows, wait, copy=False)
                return True
            except WriteConflict:
                copy = False
                if attempt + 1 < PUT_ATTEMPTS:
                    continue
                if wait:
                    raise
                return False
            except (UserError, psycopg.Error):
                if wait:
                    raise
                return False
        return False  # pragma: no cover - the loop returns or raises

    def _put(self, model: str, rows: list[tuple[str, str, np.ndarray]], wait: bool, copy: bool) -> None:
        with self.database.write(lock=False) as conn:
            if not wait:
                conn.execute("SET LOCAL lock_timeout = '200ms'")
                conn.execute("SET LOCAL statement_timeout = '5s'")
            known = self._register(conn, model, len(rows[0][2]))
            rows = [r for r in rows if len(r[2]) == known]  # a vector of another size would poison the index
            if not rows:
                return
            with conn.cursor() as cur:
                if not copy:
                    cur.executemany("INSERT INTO embeddings(model, text_hash, vector) VALUES (%s, %s, %b) "
                                    "ON CONFLICT (model, text_hash) DO NOTHING", rows)
                    return
                stored = {h for (h,) in cur.execute("SELECT text_hash FROM embeddings WHERE model = %s AND "
                                                    "text_hash = ANY(%s)", (model, [r[1] for r in rows]))}
                rows = [r for r in rows if r[1] not in stored]
                if not rows:
                    return
                payload = binary_vector_rows([(m, h) for m, h, _ in rows], np.stack([v for _, _, v in rows]))
                with cur.copy("COPY embeddings (model, text_hash, vector) FROM STDIN (FORMAT BINARY)") as out:
                    out.write(payload)

    @one_line_errors
    def delete(self, model: str, hashes: Iterable[str], keep_used: bool = True) -> int:
        hashes = list(dict.fromkeys(hashes))
        if not hashes:
            return 0
        keep = "AND NOT EXISTS (SELECT 1 FROM passages p WHERE p.embed_hash = e.text_hash)" if keep_used else ""
        with self.database.write(lock=False) as conn:
            cur = conn.execute(f"DELETE FROM embeddings e WHERE e.model = %s AND e.text_hash = ANY(%s) {keep}",
                               (model, hashes))
            return cur.rowcount

    def trim(self, model: str, keep: int, recent: Sequence[str] = ()) -> int:
        """Which others go is arbitrary here (hash order)."""
        try:
            with self.database.write(lock=False) as conn:
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

    # -- reads ----------------------------------------------------------------------------------------
    @one_line_errors
    def cached(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        hashes = list(dict.fromkeys(hashes))
        if not hashes:
            return out
        with self.database.reading() as conn:
            dim = self.model_dim(conn, model)
            with conn.cursor(binary=True) as cur:
                for chunk in chunks(hashes, self.database.chunk):
                    for h, vec in cur.execute("SELECT text_hash, vector FROM embeddings WHERE model = %s "
                                              "AND text_hash = ANY(%s)", (model, chunk)):
                        if dim is None or len(vec) == dim:  # a damaged one is embedded again
                            out[h] = vec
        return out

    @one_line_errors
    def export(self, after: tuple[str, str] = ("", ""), limit: int = 1000) -> list[EmbeddingRow]:
        with self.database.reading() as conn:
            with conn.cursor(binary=True) as cur:
                rows = cur.execute("SELECT model, text_hash, vector FROM embeddings WHERE (model, text_hash) > (%s, %s) "
                                   "ORDER BY model, text_hash LIMIT %s", (after[0], after[1], limit)).fetchall()
        return [EmbeddingRow(m, h, v) for m, h, v in rows]

    def damaged(self, model: str) -> list[str]:
        """Vectors of another size than the model's registered one, zero or not finite."""
        with self.database.reading() as conn:
            dim = self.model_dim(conn, model)
            if dim is None:
                return []
            return [h for (h,) in conn.execute(
                """SELECT DISTINCT e.text_hash FROM embeddings e JOIN passages p ON p.embed_hash = e.text_hash
                   WHERE e.model = %s AND (vector_dims(e.vector) <> %s OR NOT vector_norm(e.vector) > 0
                                           OR vector_norm(e.vector) = 'Infinity'::float8)""", (model, dim))]
