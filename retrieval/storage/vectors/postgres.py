"""The vector index of the PostgreSQL engine: one HNSW index per model over ``halfvec`` casts of the cached
vectors (a partial expression index on ``embeddings``), iterative scans for filtered queries, and exact
re-scoring of the candidates from the stored float32 vectors; narrowly filtered sets are scanned exactly.
PostgreSQL maintains the index inside each transaction; only its creation is ours, after the first vectors
are stored and without stopping writers (``CREATE INDEX CONCURRENTLY``; see ``_ensure_index``). Vectors of another
size than the model's registered one (damage: ``embeddings.put`` never stores them) are outside the
index and every query, as the contract says (``vectors/base.py``).
"""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np
import psycopg
from psycopg import sql

from ..base import NO_FILTERS, ScoredPassage, SearchFilters, VectorBatch, VerifyReport, one_line_errors
from ..postgres import MIGRATE_LOCK
from ..rows import PYFORMAT, chunks, common_size, filter_sql
from .base import Vectors

INDEX_VECTOR_TYPE = "halfvec"  # what the HNSW index stores; candidates are re-scored from float32
EXACT_BELOW = 10_000  # filters leaving fewer passages than this are scanned exactly
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
# Measured on bench/storage.py's synthetic 100k (docs/storage.md): recall@10 against exact search was
# 0.96 with ef_search 100 / 40 candidates, 0.986 with 200 / 100, 0.991 with 400 / 200 (halfvec index).
HNSW_EF_SEARCH = 400  # at least; raised to the number of candidates (at most 1000)
CANDIDATES_PER_RESULT, MIN_CANDIDATES = 2, 200  # HNSW candidates re-scored exactly, per result asked for
MAX_BUILD_MEMORY_KB = 4 * 2**20  # maintenance_work_mem for a graph build is raised up to this (4 GB)


def index_name(model: str, vector_type: str = INDEX_VECTOR_TYPE) -> str:
    """The HNSW index of one model's vectors (a partial expression index on ``embeddings``)."""
    return f"embeddings_hnsw_{vector_type}_" + hashlib.sha256(model.encode("utf-8")).hexdigest()[:16]


class PostgresVectors(Vectors):
    def __init__(self, database: Any, documents: Any, embeddings: Any, index_type: str = INDEX_VECTOR_TYPE) -> None:
        if index_type not in ("halfvec", "vector"):
            raise ValueError("index_type is halfvec or vector")
        super().__init__(database, documents)
        self.embeddings = embeddings  # the models' dimensions
        self.index_type = index_type  # what the HNSW index stores (bench/storage.py compares the two)
        self._indexed: set[str] = set()

    @one_line_errors
    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch:
        found: list[int] = []
        vectors: list[np.ndarray] = []
        base = "SELECT p.id, e.vector FROM passages p JOIN embeddings e ON e.model = %s AND e.text_hash = p.embed_hash"
        with self.database.reading() as conn:
            with conn.cursor(binary=True) as cur:
                if ids is None:
                    batches: Iterable = [cur.execute(base + " ORDER BY p.id", (model,))]
                else:
                    batches = (cur.execute(base + " WHERE p.id = ANY(%s) ORDER BY p.id", (model, chunk))
                               for chunk in chunks(sorted({int(i) for i in ids}), self.database.chunk))
                for result in batches:
                    for pid, vec in result:
                        found.append(int(pid))
                        vectors.append(vec)
        size = common_size(Counter(len(v) for v in vectors))
        if size is None:
            return VectorBatch.empty()
        kept = [i for i, v in enumerate(vectors) if len(v) == size]  # damaged ones left out (verify reports them)
        return VectorBatch(np.asarray([found[i] for i in kept], dtype=np.int64),
                           np.stack([vectors[i] for i in kept]).astype(np.float32))

    def _ensure_index(self, model: str) -> bool:
        """Create the HNSW index of ``model``'s vectors if it is missing (once per model: the first search
        or sync after its first vectors, so a bulk load into a new corpus runs without the graph and the
        graph is built once, after it). Returns whether it built one. Question vectors (``<model>#query``)
        are never searched, so they never get an index.

        The build is ``CREATE INDEX CONCURRENTLY``: at a million passages it takes minutes, during which
        other processes keep adding documents and vectors (a plain build holds a lock that stops every
        write to ``embeddings``). One process builds at a time (a session advisory lock, never waited for:
        another process finds the graph missing and builds nothing until it is there); an index a
        killed build left invalid is dropped and built again. Its memory (``maintenance_work_mem``) is
        raised to what the graph needs, never lowered: a graph that does not fit is built on disk, many
        times slower."""
        if model in self._indexed:
            return False
        with self.database.reading() as conn:
            dim = self.embeddings.model_dim(conn, model)
            if dim is None:
                return False
            name = index_name(model, self.index_type)
            built = False
            if not self._valid(conn, name):
                # never wait for another process's build: the build waits for every open transaction, and a
                # process waiting here inside one closed a cycle PostgreSQL broke as a deadlock (a `sync`
                # failed that way); until the index is there, searches scan, and the next sync looks again
                if not conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATE_LOCK,)).fetchone()[0]:
                    return False
                try:
                    state = self._valid(conn, name)  # another process may have built it meanwhile
                    if state is not True:
                        if state is False:  # left invalid by an interrupted build
                            conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name)))
                        self._build(conn, model, name, dim)
                        built = True
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
                conn.execute("ANALYZE embeddings, passages, documents")  # plans for the first searches
        self._indexed.add(model)
        return built

    @staticmethod
    def _valid(conn: psycopg.Connection, name: str) -> bool | None:
        """True: the index exists and is usable; False: it exists but is invalid; None: no such index."""
        row = conn.execute("SELECT i.indisvalid AND i.indisready FROM pg_class c JOIN pg_index i "
                           "ON i.indexrelid = c.oid WHERE c.relname = %s", (name,)).fetchone()
        return None if row is None else bool(row[0])

    def _build(self, conn: psycopg.Connection, model: str, name: str, dim: int) -> None:
        count = int(conn.execute("SELECT count(*) FROM embeddings WHERE model = %s", (model,)).fetchone()[0])
        element = (2 if self.index_type == "halfvec" else 4) * dim + HNSW_M * 2 * 8 + 256
        needed_kb = min(count * element * 13 // 10 // 1024, MAX_BUILD_MEMORY_KB)
        setting = conn.execute("SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem'").fetchone()
        raise_memory = setting is not None and needed_kb > int(setting[0])
        if raise_memory:
            conn.execute(sql.SQL("SET maintenance_work_mem = {}").format(sql.Literal(f"{needed_kb}kB")))
        try:
            conn.execute(sql.SQL(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON embeddings USING hnsw ((vector::{vt}({dim})) {ops}) "
                "WITH (m = {m}, ef_construction = {ef}) WHERE model = {model} AND vector_dims(vector) = {dim}"
            ).format(
                name=sql.Identifier(name), vt=sql.SQL(self.index_type), dim=sql.Literal(dim),
                ops=sql.SQL(f"{self.index_type}_ip_ops"), m=sql.Literal(HNSW_M),
                ef=sql.Literal(HNSW_EF_CONSTRUCTION), model=sql.Literal(model)))
        finally:
            if raise_memory:
                conn.execute("RESET maintenance_work_mem")

    @one_line_errors
    def search(self, model: str, query: np.ndarray, limit: int,
               filters: SearchFilters = NO_FILTERS) -> list[ScoredPassage]:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if limit <= 0:
            return []
        self._ensure_index(model)
        with self.database.reading() as conn:
            dim = self.embeddings.model_dim(conn, model)
            if dim is None or dim != len(q):
                return []
            where_text, args = filter_sql(filters, PYFORMAT)
            where = sql.SQL(where_text)
            join = sql.SQL("JOIN documents d ON d.id = p.doc_id") if filters.active else sql.SQL("")
            exact = self._small(conn, filters, join, where, args)
            candidates = max(limit * CANDIDATES_PER_RESULT, MIN_CANDIDATES)
            with conn.transaction():
                if exact:
                    # the size check inside CASE, not in WHERE: it must not change the plan's estimates
                    query_sql = sql.SQL("""
SELECT id, score FROM (
  SELECT p.id, CASE WHEN vector_dims(e.vector) = {dim} THEN -(e.vector <#> %(q)s) END AS score
  FROM embeddings e JOIN passages p ON p.embed_hash = e.text_hash {join}
  WHERE e.model = {model} AND {where}) c
WHERE score IS NOT NULL ORDER BY score DESC, id LIMIT %(limit)s""")
                else:
                    ef_search = min(1000, max(HNSW_EF_SEARCH, candidates))
                    conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(ef_search)))
                    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                    query_sql = sql.SQL("""
SELECT id, score FROM (
  SELECT p.id, -(e.vector <#> %(q)s) AS score FROM embeddings e JOIN passages p ON p.embed_hash = e.text_hash {join}
  WHERE e.model = {model} AND vector_dims(e.vector) = {dim} AND {where}
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

    @one_line_errors
    def sync(self, model: str) -> bool:
        return self._ensure_index(model)

    @one_line_errors
    def rebuild(self, model: str) -> int:
        """The model's graph built again (``REINDEX CONCURRENTLY``: writers are not stopped meanwhile)."""
        name = index_name(model, self.index_type)
        with self.database.reading() as conn:
            valid = self._valid(conn, name)
        if valid:
            with self.database.reading() as conn:
                conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(name)))
        else:
            self._indexed.discard(model)
            self._ensure_index(model)
        return self.size(model)

    @one_line_errors
    def size(self, model: str) -> int:
        """Passages with a vector of the model's size (a damaged one is outside the index)."""
        with self.database.reading() as conn:
            dim = self.embeddings.model_dim(conn, model)
            return int(conn.execute("SELECT count(*) FROM passages p JOIN embeddings e ON e.model = %s "
                                    "AND e.text_hash = p.embed_hash WHERE vector_dims(e.vector) = %s",
                                    (model, dim)).fetchone()[0]) if dim is not None else 0

    def check(self, model: str, report: VerifyReport, repair: bool, damaged: bool) -> None:
        """The index is derived and created lazily (first search or sync): a missing one is built now."""
        with self.database.reading() as conn:
            if self.embeddings.model_dim(conn, model) is None:
                return
            exists = conn.execute("SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i'",
                                  (index_name(model, self.index_type),)).fetchone()
        if not exists:
            self._indexed.discard(model)
            self._ensure_index(model)
            if repair:
                report.repairs.append(f"vector index for model {model} built")
