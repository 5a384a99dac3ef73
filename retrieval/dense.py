"""The faiss index, derived from the store's embeddings and kept in sync by passage id.

Passage ids are never reused (AUTOINCREMENT), so syncing is a set difference between the ids in the
store and the ids in the index: removed documents leave dense search at once, added ones enter it.
The file on disk is written atomically (temp file + rename) and stamped with the store generation and
model; a missing, stale, foreign or corrupt file is rebuilt or re-synced from the store, never trusted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from pathlib import Path

import faiss
import numpy as np

from .store import Store

log = logging.getLogger(__name__)
INDEX_FILE = "dense.faiss"
STAMP_FILE = "dense.json"


def _ids_digest(ids: np.ndarray) -> str:
    """Which passages an index file holds, so a stamp written by another process's save (two processes
    saving at once can pair one's index with the other's stamp) is never taken for this file's."""
    return hashlib.blake2b(np.sort(np.asarray(ids, dtype=np.int64)).tobytes(), digest_size=8).hexdigest()


class DenseIndex:
    def __init__(self, home: Path, model: str, ann_threshold: int = 50_000) -> None:
        self.home = Path(home)
        self.model = model
        self.ann_threshold = ann_threshold
        self.index: faiss.Index | None = None
        self.generation = -1
        self.dim = 0
        self.lock = threading.RLock()
        self.rebuilt = False  # set when the last sync had to rebuild from the store (verify reports it)
        self._stamp_stale = False  # the loaded file's stamp did not describe it: re-synced, then re-saved

    # -- persistence ---------------------------------------------------------------------------------
    def _load(self) -> None:
        stamp_path, index_path = self.home / STAMP_FILE, self.home / INDEX_FILE
        try:
            stamp = json.loads(stamp_path.read_text())
            if stamp.get("model") != self.model:
                return
            index = faiss.read_index(str(index_path))
            if index.ntotal != stamp.get("count"):
                raise ValueError("count mismatch")
        except FileNotFoundError:
            return
        except Exception as exc:  # truncated or corrupt file: rebuilt from the store
            log.warning("dense index %s unreadable (%s); rebuilding from the store", index_path, exc)
            return
        self.index, self.generation, self.dim = index, int(stamp.get("generation", -1)), index.d
        if stamp.get("ids") != _ids_digest(self.ids()):
            self.generation, self._stamp_stale = -1, True  # trust neither: re-sync by passage id

    def save(self) -> None:
        """Write index then stamp, each atomically; a crash between leaves a stamp that forces a re-sync."""
        with self.lock:
            if self.index is None:
                return
            tmp_index = self.home / f".{INDEX_FILE}.{os.getpid()}.tmp"
            tmp_stamp = self.home / f".{STAMP_FILE}.{os.getpid()}.tmp"
            try:
                self._remove_stale_temps()
                faiss.write_index(self.index, str(tmp_index))
                with open(tmp_index, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp_index, self.home / INDEX_FILE)
                stamp = {"generation": self.generation, "model": self.model, "count": int(self.index.ntotal),
                         "dim": self.dim, "type": self.kind, "ids": _ids_digest(self.ids())}
                tmp_stamp.write_text(json.dumps(stamp))
                os.replace(tmp_stamp, self.home / STAMP_FILE)
            except OSError as exc:  # read-only directory: keep serving from memory
                log.warning("cannot save the dense index in %s: %s", self.home, exc)
                for tmp in (tmp_index, tmp_stamp):
                    tmp.unlink(missing_ok=True)
            self._stamp_stale = False

    def _remove_stale_temps(self) -> None:
        """Temp files of a process killed while saving (each as large as the index) are removed."""
        for tmp in self.home.glob(".dense.*.tmp"):
            try:
                pid = int(tmp.name.split(".")[-2])
                if pid != os.getpid():
                    os.kill(pid, 0)
            except ValueError:
                continue
            except ProcessLookupError:
                tmp.unlink(missing_ok=True)
            except PermissionError:  # alive, another user's process
                continue

    def discard(self) -> None:
        """Forget the index in memory and on disk, so the next sync rebuilds it from the store."""
        with self.lock:
            self.index = None
            self.generation = -1
            for name in (INDEX_FILE, STAMP_FILE):
                (self.home / name).unlink(missing_ok=True)

    @property
    def kind(self) -> str:
        if self.index is None:
            return "none"
        inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
        return "ivf" if isinstance(inner, faiss.IndexIVF) else "flat"

    def ids(self) -> np.ndarray:
        if self.index is None or self.index.ntotal == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    # -- sync ----------------------------------------------------------------------------------------
    def sync(self, store: Store, save: bool = True) -> bool:
        """Bring the index up to the store's generation; returns True if anything changed."""
        with self.lock:
            generation = store.generation()
            if self.index is not None and self.generation == generation:
                return False
            if self.index is None:
                self._load()
                if self.index is not None and self.generation == generation:
                    return False
            self.rebuilt = False
            changed = False
            store_ids = store.passage_ids()
            if self.index is None:
                changed = self._rebuild(store)
            else:
                index_ids = self.ids()
                stale = np.setdiff1d(index_ids, store_ids, assume_unique=True)
                new = np.setdiff1d(store_ids, index_ids, assume_unique=True)
                if len(stale):
                    self.index.remove_ids(faiss.IDSelectorBatch(stale))
                    changed = True
                if len(new):
                    ids, vectors = store.passage_vectors(self.model, new.tolist())
                    if len(ids):
                        self._ensure(vectors.shape[1])
                        self.index.add_with_ids(vectors, ids)
                        changed = True
                if self.kind == "flat" and self.index.ntotal > self.ann_threshold:
                    changed = self._rebuild(store) or changed
            self.generation = generation
            if save and (changed or self._stamp_stale or not (self.home / STAMP_FILE).exists()):
                self.save()
            return changed

    def _ensure(self, dim: int) -> None:
        if self.index is None:
            self.dim = dim
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def _rebuild(self, store: Store) -> bool:
        ids, vectors = store.passage_vectors(self.model)
        self.rebuilt = True
        if len(ids) == 0:
            self.index = None
            return True
        dim = vectors.shape[1]
        self.dim = dim
        if len(ids) > self.ann_threshold:
            nlist = int(4 * math.sqrt(len(ids)))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = vectors[rng.choice(len(vectors), size=min(len(vectors), nlist * 64), replace=False)]
            ivf.train(sample)
            # nlist/2 probes: 0.98 recall@10 against flat at 100k passages (bench.retrieval_speed);
            # nlist/16 gave 0.90, too lossy for citations
            ivf.nprobe = max(8, nlist // 2)
            self.index = faiss.IndexIDMap2(ivf)
        else:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.index.add_with_ids(vectors, ids)
        return True

    # -- search --------------------------------------------------------------------------------------
    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        with self.lock:
            if self.index is None or self.index.ntotal == 0 or k <= 0:
                return []
            if query.shape[-1] != self.index.d:
                return []
            k = min(k, self.index.ntotal)
            params = None
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                inner = faiss.downcast_index(self.index.index)
                params = (faiss.SearchParametersIVF(sel=selector, nprobe=inner.nprobe)
                          if isinstance(inner, faiss.IndexIVF) else faiss.SearchParameters(sel=selector))
            scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k, params=params)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]
