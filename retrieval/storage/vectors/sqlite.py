"""The vector index of the SQLite engine: a faiss file per model (``vectors/dense.py``) derived from the
blobs in the embeddings table, synced by passage id and the store's generation."""
from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Sequence

import faiss
import numpy as np

from ..base import NO_FILTERS, VECTOR_DTYPE, ScoredPassage, SearchFilters, VectorBatch, VerifyReport, one_line_errors
from ..rows import chunks, common_size
from ...settings import default
from .base import Vectors
from .dense import BUILD_BATCH, DenseIndex


class SQLiteVectors(Vectors):
    def __init__(self, database: Any, documents: Any, ann_threshold: int = default("ann_threshold"),
                 hnsw_threshold: int = default("hnsw_threshold")) -> None:
        super().__init__(database, documents)
        self.ann_threshold = ann_threshold
        self.hnsw_threshold = hnsw_threshold
        self._dense: dict[str, DenseIndex] = {}
        self._lock = threading.Lock()

    def dense(self, model: str) -> DenseIndex:
        """The faiss index for ``model`` (one per model; created lazily, loaded from disk on first sync)."""
        with self._lock:
            if model not in self._dense:
                self._dense[model] = DenseIndex(self.database.home, model, self.ann_threshold, self.hnsw_threshold)
            return self._dense[model]

    def close(self) -> None:
        with self._lock:
            for dense in self._dense.values():
                dense.close()
            self._dense.clear()

    # -- what the faiss index is built from ------------------------------------------------------------
    def generation(self) -> int:
        return self.database.generation()

    def passage_ids(self) -> np.ndarray:
        return self.documents.passage_ids()

    @one_line_errors
    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch:
        sql = "SELECT p.id, e.vector FROM passages p JOIN embeddings e ON e.model = ? AND e.text_hash = p.embed_hash"
        found_ids: list[int] = []
        blobs: list[bytes] = []
        with self.database.reading() as db:
            if ids is None:
                batches: Any = [db.execute(sql + " ORDER BY p.id", (model,))]
            else:
                batches = (db.execute(sql + f" WHERE p.id IN ({','.join('?' * len(chunk))}) ORDER BY p.id",
                                      (model, *chunk))
                           for chunk in chunks(sorted({int(i) for i in ids}), self.database.chunk))
            for result in batches:
                for pid, blob in result:
                    found_ids.append(pid)
                    blobs.append(blob)
        if not blobs:
            return VectorBatch.empty()
        size = common_size(Counter(len(b) for b in blobs), VECTOR_DTYPE.itemsize)
        if size is None:
            return VectorBatch.empty()
        if any(len(b) != size for b in blobs):  # damaged blobs: left out (verify reports them)
            kept = [(pid, b) for pid, b in zip(found_ids, blobs) if len(b) == size]
            found_ids, blobs = [k[0] for k in kept], [k[1] for k in kept]
        vectors = np.frombuffer(b"".join(blobs), dtype=VECTOR_DTYPE).reshape(len(blobs), -1).astype(np.float32)
        return VectorBatch(np.asarray(found_ids, dtype=np.int64), vectors)

    # -- search and sync ------------------------------------------------------------------------------
    @one_line_errors
    def search(self, model: str, query: np.ndarray, limit: int,
               filters: SearchFilters = NO_FILTERS) -> list[ScoredPassage]:
        dense = self.dense(model)
        dense.sync(self)
        allowed = self.documents.passage_ids(filters) if filters.active else None
        return [ScoredPassage(pid, score) for pid, score in dense.search(self, query, limit, allowed)]

    @one_line_errors
    def scores(self, model: str, query: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """From the faiss index in memory (flat and HNSW hold the float32 vectors): no SQLite read per
        question; the compressed index falls back to the stored vectors."""
        found = self.dense(model).scores(query, ids)
        return super().scores(model, query, ids) if found is None else found

    @one_line_errors
    def sync(self, model: str) -> bool:
        return self.dense(model).sync(self)

    @one_line_errors
    def rebuild(self, model: str) -> int:
        dense = self.dense(model)
        with dense.lock:
            dense.discard()
            dense.sync(self)
            return dense.size

    def size(self, model: str) -> int:
        return self.dense(model).size

    # -- verify ---------------------------------------------------------------------------------------
    def check(self, model: str, report: VerifyReport, repair: bool, damaged: bool) -> None:
        dense = self.dense(model)
        with dense.lock:
            if repair and not report.missing:
                dense.discard()
                report.repairs.append("dense index rebuilt from the store")
            dense.sync(self)  # damaged vectors are left out of it, as they are out of search
            if dense.load_problem and not repair:  # the file was there but wrong: a problem, rebuilt here
                report.problems.append(f"{dense.load_problem}: rebuilt from the store")
            elif dense.rebuilt and not repair:
                report.repairs.append("dense index was missing or unreadable: rebuilt from the store")
            dense.load_problem = ""
            if not damaged:  # else it differs from the store by them: reported once, already
                self._differences(dense, report)

    def _differences(self, dense: DenseIndex, report: VerifyReport) -> None:
        """The faiss index must hold exactly the passages with vectors, and the same vectors."""
        index_ids = np.sort(dense.ids())
        stored_ids = self.documents.passage_ids()
        differ = 0
        with_vectors: list[np.ndarray] = []
        internal = dense.all_ids()  # passage id at each position of the inner index
        order = np.argsort(internal)
        inner = faiss.downcast_index(dense.index.index) if dense.index is not None else None
        for start in range(0, len(stored_ids), BUILD_BATCH):
            batch = self.passage_vectors(dense.model, stored_ids[start:start + BUILD_BATCH].tolist())
            with_vectors.append(batch.ids)
            if not len(batch) or dense.index is None:
                continue
            present = np.isin(batch.ids, index_ids)
            if not present.any():
                continue
            ids = batch.ids[present]
            positions = order[np.searchsorted(internal, ids, sorter=order)]
            try:
                copies = inner.reconstruct_batch(positions.astype(np.int64))
            except RuntimeError:  # an IVF index without a direct map: compared by ids only
                continue
            stored = batch.vectors[present]
            if copies.shape[1] != stored.shape[1]:  # an index of another dimension (normally caught at load)
                report.problems.append(f"dense index has vectors of {copies.shape[1]} dimensions, the store's "
                                       f"have {stored.shape[1]}")
                return
            cosine = (copies * stored).sum(axis=1) / np.maximum(
                np.linalg.norm(copies, axis=1) * np.linalg.norm(stored, axis=1), 1e-12)
            differ += int((cosine < (0.9999 if dense.kind in ("flat", "hnsw") else 0.98)).sum())
        expected = np.concatenate(with_vectors) if with_vectors else np.zeros(0, dtype=np.int64)
        if not np.array_equal(np.sort(expected), index_ids):
            report.problems.append("dense index differs from the store after syncing")
        elif differ:
            report.problems.append(f"dense index differs from the store: {differ} vectors are not the stored ones")
