"""The faiss file of the SQLite vectors part, derived from the stored embeddings and kept in sync by passage id.

Passage ids are never reused (AUTOINCREMENT), so syncing is a set difference between the ids in the
store and the ids in the index: removed documents leave dense search at once, added ones enter it.
The file on disk is written atomically (temp file + rename) and stamped with the store generation and
model; a missing, stale, foreign or corrupt file is rebuilt or re-synced from the store, never trusted.

Up to ``hnsw_threshold`` passages the index is exact (flat inner product). Above it, an HNSW graph over
the float32 vectors (faiss ``IndexHNSWFlat``): its candidates carry exact inner products (the graph only
chooses them), passages are added to the graph incrementally, and removed ones are tombstones (left out
of every search, listed in the stamp) until they are a tenth of the graph, which is then rebuilt. Above
``ann_threshold`` it is compressed: IVF over 8-bit scalar-quantised vectors (a quarter of the memory),
searched for a few hundred candidates that are then re-scored exactly from the stored float32 vectors,
so the scores a caller sees are always exact cosines (recall and memory: bench/ann.py, bench/scale.py).
Flat and HNSW indexes hold the float32 vectors themselves, so :meth:`DenseIndex.scores` (the exact
cosine of any passage, for fusion) is answered from memory.

An unfiltered flat search scans an 8-bit copy of the vectors (faiss ``IndexScalarQuantizer``
QT_8bit_uniform, derived in memory, never saved; extended after an add, made again after a removal):
a quarter of the bytes read, and a scan of this size is bound by reading them (at 10,000 real vectors,
0.46 ms per question after the question's encoding has evicted the caches, against 0.83 for a float16
copy and 1.42 for float32; docs/speed.md). Its candidates, twice as many as asked, are re-scored
exactly from the float32 vectors. That they hold the exact top k is proved, not hoped: no vector's
8-bit score is off by more than the largest quantisation error (its norm, times the question's), so
when the k-th exact score beats the last candidate's 8-bit score by more than that, no unscanned
passage can reach it; when it does not (passages too alike for 8 bits), the float32 vectors are scanned
instead. Results and scores are always the exact search's.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import shutil
import threading
from pathlib import Path
from typing import Protocol, Sequence

import faiss
import numpy as np

from ...errors import UserError
from ...settings import default
from ..base import VectorBatch


class VectorSource(Protocol):
    """What the index is built and synced from: the SQLite vectors part (the store's generation, its
    passage ids and their stored vectors)."""

    def generation(self) -> int: ...

    def passage_ids(self) -> np.ndarray: ...

    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch: ...


log = logging.getLogger(__name__)
INDEX_FILE = "dense.faiss"
STAMP_FILE = "dense.json"
BUILD_BATCH = 50_000  # vectors read from the store at a time while (re)building: bounded memory
RESCORE_MIN = 200  # compressed index: candidates re-scored exactly, at least this many (or 4 x k)
HNSW_M = 32  # graph degree (faiss IndexHNSWFlat)
HNSW_EF_CONSTRUCTION = 200  # 80 gave recall@10 0.976 at efSearch 512 on 30k real vectors, 200 gave 0.994
HNSW_EF_SEARCH = 512  # search width, at least 2 x k: recall@10 >= 0.98 against exact on real vectors (bench/ann.py)
TOMBSTONE_SHARE = 0.1  # removed passages left in the HNSW graph before it is rebuilt
SCAN_DEPTH = 2  # the 8-bit scan's candidates per passage asked (at least SCAN_MIN), re-scored exactly
SCAN_MIN = 100  # (the proof held in all 800 searches, k=10 and 100, at 10k-70k real vectors: bench/ann.py)
SCAN_SLACK = 1e-5  # float32 rounding in faiss's 8-bit scores and in the proof's own sum
SCAN_BATCH = 8192  # vectors quantised at a time to measure the largest error: bounded memory


def _ids_digest(ids: np.ndarray) -> str:
    """Which passages an index file holds, so a stamp written by another process's save (two processes
    saving at once can pair one's index with the other's stamp) is never taken for this file's."""
    return hashlib.blake2b(np.sort(np.asarray(ids, dtype=np.int64)).tobytes(), digest_size=8).hexdigest()


def compressed_params(count: int) -> tuple[int, int]:
    """(nlist, nprobe) of the compressed index for ``count`` vectors: about 4 x sqrt(n) lists, a quarter
    of them probed. After exact re-scoring that gave recall@10 0.997 against exact search at 100k
    clustered synthetic vectors (a sixteenth: 0.985, an eighth: 0.990); real embeddings are less
    evenly clustered, hence the margin (bench/scale.py prints the sweep)."""
    nlist = max(16, int(4 * math.sqrt(count)))
    return nlist, max(16, nlist // 4)


class DenseIndex:
    """One model's faiss index over the passages of one SQLite store (in ``home``)."""

    def __init__(self, home: Path, model: str, ann_threshold: int = default("ann_threshold"),
                 hnsw_threshold: int = default("hnsw_threshold")) -> None:
        self.home = Path(home)
        self.model = model
        self.ann_threshold = ann_threshold
        self.hnsw_threshold = hnsw_threshold
        self.removed = np.zeros(0, dtype=np.int64)  # HNSW tombstones: in the graph, out of every search
        self._positions: tuple[np.ndarray, np.ndarray] | None = None  # (ids by position, argsort): scores()
        self._scan: _Scan | None = None  # a flat index's 8-bit copy, for search()
        self.scan_fallbacks = 0  # flat searches whose 8-bit candidates could not be proved exact (bench/ann.py)
        self.index: faiss.Index | None = None
        self._kind: str | None = None  # what kind of index ``index`` is (the kind property)
        self.generation = -1
        self.dim = 0
        self.lock = threading.RLock()
        self.rebuilt = False  # set when the last sync had to rebuild from the store (verify reports it)
        self._stamp_stale = False  # the loaded file's stamp did not describe it: re-synced, then re-saved
        self.load_problem = ""  # why the file on disk could not be used (verify reports it), "" if it could

    def close(self) -> None:
        with self.lock:
            self._set(None)
            self.generation = -1

    def _set(self, index: "faiss.Index | None", removed: np.ndarray | None = None) -> None:
        """Replace the index (and its tombstones); the cached id positions go with it."""
        self.index = index
        self._kind = None
        self.removed = np.zeros(0, dtype=np.int64) if removed is None else np.sort(removed.astype(np.int64))
        self._changed()

    def _changed(self, appended: bool = False) -> None:
        """The index's vectors changed: what is derived from them in memory is rebuilt when next needed;
        after vectors were only ``appended`` (an add), the 8-bit copy is extended instead (every search of
        a live corpus's first question after a sync would otherwise pay for the whole copy)."""
        self._positions = None
        if not appended:
            self._scan = None

    # -- persistence ---------------------------------------------------------------------------------
    def _load(self) -> None:
        stamp_path, index_path = self.home / STAMP_FILE, self.home / INDEX_FILE
        try:
            stamp = json.loads(stamp_path.read_text())
            if not isinstance(stamp, dict) or stamp.get("model") != self.model:
                return
            index = faiss.read_index(str(index_path))
            if index.ntotal != stamp.get("count"):
                raise ValueError("count mismatch")
        except FileNotFoundError:
            return
        except Exception as exc:  # truncated or corrupt file, or a directory in its place: rebuilt
            log.warning("dense index %s unreadable (%s); rebuilding from the store", index_path, exc)
            return
        if stamp.get("dim") is not None and stamp.get("dim") != index.d:  # readable, but not this model's
            self.load_problem = f"dense index file has vectors of {index.d} dimensions, its stamp says {stamp['dim']}"
            log.warning("%s; rebuilding from the store", self.load_problem)
            return
        self._set(index, np.asarray(stamp.get("removed", []), dtype=np.int64))
        self.generation, self.dim = int(stamp.get("generation", -1)), index.d
        if stamp.get("ids") != _ids_digest(self.ids()):
            self.generation, self._stamp_stale = -1, True  # trust neither: re-sync by passage id

    def save(self) -> None:
        """Write index then stamp, each atomically; a crash between leaves a stamp that forces a re-sync.
        A full disk is the usual one-line error (nothing of the old file is lost); a read-only directory
        only logs a warning (the index keeps serving from memory)."""
        with self.lock:
            if self.index is None:
                return
            tmp_index = self.home / f".{INDEX_FILE}.{os.getpid()}.tmp"
            tmp_stamp = self.home / f".{STAMP_FILE}.{os.getpid()}.tmp"
            try:
                self._remove_stale_temps()
                try:
                    faiss.write_index(self.index, str(tmp_index))
                except RuntimeError as exc:  # faiss reports ENOSPC as a RuntimeError ("... No space left ...")
                    raise OSError(_errno_of(str(exc)), str(exc)) from None
                with open(tmp_index, "rb+") as fh:
                    os.fsync(fh.fileno())
                self._replace(tmp_index, self.home / INDEX_FILE)
                stamp = {"generation": self.generation, "model": self.model, "count": int(self.index.ntotal),
                         "dim": self.dim, "type": self.kind, "ids": _ids_digest(self.ids()),
                         "removed": self.removed.tolist()}
                tmp_stamp.write_text(json.dumps(stamp))
                self._replace(tmp_stamp, self.home / STAMP_FILE)
            except OSError as exc:
                for tmp in (tmp_index, tmp_stamp):
                    try:
                        tmp.unlink(missing_ok=True)
                    except OSError:
                        pass
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise UserError(f"the disk holding the index in {self.home} is full: the dense index file "
                                    f"could not be saved (the store itself is complete); free some space and "
                                    f"run the command again") from None
                log.warning("cannot save the dense index in %s: %s", self.home, exc)  # read-only directory
            self._stamp_stale = False

    @staticmethod
    def _replace(tmp: Path, target: Path) -> None:
        """os.replace, except that a directory squatting on the file's name is removed first."""
        if target.is_dir() and not target.is_symlink():
            log.warning("%s is a directory; replacing it with the index file", target)
            shutil.rmtree(target)
        os.replace(tmp, target)

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
            self._set(None)
            self.generation = -1
            for name in (INDEX_FILE, STAMP_FILE):
                path = self.home / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)

    @property
    def kind(self) -> str:
        """Worked out once per index object (every search asks; SWIG type checks are not free)."""
        if self.index is None:
            return "none"
        if self._kind is None:
            inner = faiss.downcast_index(self.index.index) if hasattr(self.index, "index") else self.index
            if isinstance(inner, faiss.IndexIVFScalarQuantizer):
                self._kind = "ivf-sq8"
            elif isinstance(inner, faiss.IndexHNSW):
                self._kind = "hnsw"
            else:
                self._kind = "ivf" if isinstance(inner, faiss.IndexIVF) else "flat"
        return self._kind

    @property
    def size(self) -> int:
        return int(self.index.ntotal) - len(self.removed) if self.index is not None else 0

    def all_ids(self) -> np.ndarray:
        """Passage id at each position of the inner index (tombstones included)."""
        if self.index is None or self.index.ntotal == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def ids(self) -> np.ndarray:
        """The passages the index serves (tombstones left out)."""
        ids = self.all_ids()
        return ids[~np.isin(ids, self.removed)] if len(self.removed) else ids

    def scores(self, query: np.ndarray, ids: Sequence[int]) -> dict[int, float] | None:
        """Exact cosine of ``query`` with each of these passages' vectors, read from the index in memory
        (flat and HNSW hold the float32 vectors); passages it does not serve are absent. None when the
        index cannot say (compressed, or not loaded): the caller reads the store instead."""
        with self.lock:
            if self.index is None or self.kind not in ("flat", "hnsw"):
                return None
            query = np.asarray(query, dtype=np.float32).reshape(-1)
            if query.shape[0] != self.index.d:
                return {}
            if self._positions is None:
                all_ids = self.all_ids()
                self._positions = (all_ids, np.argsort(all_ids, kind="stable"))
            all_ids, order = self._positions
            wanted = np.asarray(list(ids), dtype=np.int64)
            if len(self.removed):
                wanted = wanted[~np.isin(wanted, self.removed)]
            at = np.searchsorted(all_ids, wanted, sorter=order)
            at = np.minimum(at, max(len(all_ids) - 1, 0))
            found = len(all_ids) > 0
            hit = (all_ids[order[at]] == wanted) if found else np.zeros(len(wanted), dtype=bool)
            if not hit.any():
                return {}
            positions = order[at[hit]].astype(np.int64)
            vectors = faiss.downcast_index(self.index.index).reconstruct_batch(positions)
        sims = vectors @ query
        return {int(pid): float(sim) for pid, sim in zip(wanted[hit].tolist(), sims.tolist())}

    # -- sync ----------------------------------------------------------------------------------------
    def sync(self, store: VectorSource, save: bool = True) -> bool:
        """Bring the index up to the store's generation; returns True if anything changed."""
        with self.lock:
            generation = store.generation()
            if self.index is not None and self.generation == generation:
                return False
            if self.index is None:
                self._load()
                if self.index is not None and not self._dimension_fits(store):
                    self._set(None)
                    self.generation = -1
                if self.index is not None and self.generation == generation and not self._wrong_kind():
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
                if len(stale) and self.kind == "hnsw":  # a graph cannot drop nodes: tombstones
                    self.removed = np.union1d(self.removed, stale)
                    changed = True
                    if len(self.removed) > TOMBSTONE_SHARE * self.index.ntotal or np.isin(new, self.removed).any():
                        changed = self._rebuild(store)
                        new = new[:0]
                elif len(stale):
                    self.index.remove_ids(faiss.IDSelectorBatch(stale))
                    self._changed()
                    changed = True
                for start in range(0, len(new), BUILD_BATCH):
                    batch = store.passage_vectors(self.model, new[start:start + BUILD_BATCH].tolist())
                    if len(batch) and batch.vectors.shape[1] != self.index.d:
                        self._set(None)  # the model's dimension changed under the same name: start again
                        changed = self._rebuild(store)
                        break
                    if len(batch):
                        self.index.add_with_ids(batch.vectors, batch.ids)
                        self._changed(appended=True)
                        changed = True
                if self._wrong_kind():  # crossed the threshold (or the setting changed): rebuilt
                    changed = self._rebuild(store) or changed
            self.generation = generation
            if save and (changed or self._stamp_stale or not (self.home / STAMP_FILE).is_file()):
                self.save()
            return changed

    def _dimension_fits(self, store: VectorSource) -> bool:
        """Whether the loaded file's vectors have the stored vectors' size (a file of another dimension
        made verify crash with a numpy broadcast error); if not, it is reported and rebuilt."""
        first = store.passage_vectors(self.model, store.passage_ids()[:1].tolist())
        if not len(first) or first.vectors.shape[1] == self.index.d:
            return True
        self.load_problem = (f"dense index file has vectors of {self.index.d} dimensions, the model's have "
                             f"{first.vectors.shape[1]}")
        log.warning("%s; rebuilding from the store", self.load_problem)
        return False

    def _wrong_kind(self) -> bool:
        """An index above its kind's range, or well below it (under half: a corpus hovering at a threshold
        is not rebuilt back and forth)."""
        if self.index is None:
            return False
        n = self.size
        if self.kind == "flat":
            return n > min(self.hnsw_threshold, self.ann_threshold)
        if self.kind == "hnsw":
            return n > self.ann_threshold or n < self.hnsw_threshold // 2 or self.hnsw_threshold >= self.ann_threshold
        return n < self.ann_threshold // 2

    def _new_index(self, count: int, dim: int) -> "faiss.Index":
        """An empty index of the kind ``count`` vectors call for (the compressed one is trained later)."""
        if count > min(self.hnsw_threshold, self.ann_threshold) and count <= self.ann_threshold:
            graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            graph.hnsw.efSearch = HNSW_EF_SEARCH
            return faiss.IndexIDMap2(graph)
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def _rebuild(self, store: VectorSource) -> bool:
        """Build the index from every stored vector, reading them in batches (bounded memory)."""
        self.rebuilt = True
        ids = store.passage_ids()
        first = store.passage_vectors(self.model, ids[:BUILD_BATCH].tolist()) if len(ids) else None
        if first is None or len(first) == 0:
            self._set(None)
            return True
        dim = first.vectors.shape[1]
        self.dim = dim
        if len(ids) > self.ann_threshold:
            nlist, nprobe = compressed_params(len(ids))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample_ids = np.sort(rng.choice(ids, size=min(len(ids), nlist * 40), replace=False))
            sample = np.concatenate([store.passage_vectors(self.model, sample_ids[i:i + BUILD_BATCH].tolist()).vectors
                                     for i in range(0, len(sample_ids), BUILD_BATCH)])
            ivf.train(sample)
            del sample
            ivf.nprobe = nprobe
            self._set(faiss.IndexIDMap2(ivf))
        else:
            self._set(self._new_index(len(ids), dim))
        self.index.add_with_ids(first.vectors, first.ids)
        del first
        for start in range(BUILD_BATCH, len(ids), BUILD_BATCH):
            batch = store.passage_vectors(self.model, ids[start:start + BUILD_BATCH].tolist())
            if len(batch):
                self.index.add_with_ids(batch.vectors, batch.ids)
        return True

    # -- search --------------------------------------------------------------------------------------
    def search(self, store: VectorSource, query: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(passage id, exact cosine) of the ``k`` nearest passages, best first, among ``allowed`` if given."""
        with self.lock:
            if self.index is None or self.index.ntotal == 0 or k <= 0:
                return []
            query = np.asarray(query, dtype=np.float32).reshape(1, -1)
            if query.shape[-1] != self.index.d:
                return []
            kind = self.kind
            compressed = kind not in ("flat", "hnsw")
            want = min(max(RESCORE_MIN, 4 * k) if compressed else k, self.size)
            if want <= 0:
                return []
            params = None
            inner = faiss.downcast_index(self.index.index)
            selector = None
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                allowed = np.asarray(allowed, dtype=np.int64)
                if len(self.removed):
                    allowed = np.setdiff1d(allowed, self.removed)
                selector = faiss.IDSelectorBatch(allowed)
            elif len(self.removed):
                removed = faiss.IDSelectorBatch(self.removed)
                selector = faiss.IDSelectorNot(removed)
                selector.referenced = removed  # kept alive as long as the selector
            if kind == "flat" and selector is None:
                return self._flat_search(inner, query, want)
            if kind == "hnsw":
                params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, 2 * want))
                if selector is not None:
                    params.sel = selector
            elif selector is not None:
                params = (faiss.SearchParametersIVF(sel=selector, nprobe=inner.nprobe)
                          if isinstance(inner, faiss.IndexIVF) else faiss.SearchParameters(sel=selector))
            scores, ids = self.index.search(query, want, params=params)
        kept = ids[0] != -1
        found = list(zip(ids[0][kept].tolist(), scores[0][kept].tolist()))
        if not compressed:
            return found
        # the quantised scores only chose candidates: the stored float32 vectors give the exact cosines
        batch = store.passage_vectors(self.model, [pid for pid, _ in found])
        if not len(batch):
            return []
        exact = batch.vectors @ query.reshape(-1)
        order = np.lexsort((batch.ids, -exact))[:k]
        return list(zip(batch.ids[order].tolist(), exact[order].tolist()))

    def _flat_search(self, inner: "faiss.IndexFlat", query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The exact top ``k`` of a flat index: candidates from its 8-bit copy, scored from its float32
        vectors (held by faiss, read in place), best first and by passage id among equals. Under the lock."""
        if self._scan is None or len(self._scan.ids) < inner.ntotal:
            ids = faiss.rev_swig_ptr(self.index.id_map.data(), int(inner.ntotal))  # passage id by position
            # made, or extended when passages were only added since (a removal drops it: see _changed)
            self._scan = _Scan.of(inner, ids) if self._scan is None else self._scan.extended(inner, ids)
        scan = self._scan
        n = len(scan.ids)
        depth = min(n, max(SCAN_DEPTH * k, k + SCAN_MIN))
        approx, positions = scan.codes.search(query, depth)
        kept = positions[0] >= 0
        positions = positions[0][kept]
        exact = scan.vectors[positions] @ query.reshape(-1)
        ids = scan.ids[positions]
        order = np.lexsort((ids, -exact))[:k]
        if len(positions) < n and len(order):
            reach = float(approx[0][kept][-1]) + scan.error * float(np.linalg.norm(query)) + SCAN_SLACK
            if not float(exact[order[-1]]) > reach:  # an unscanned passage could beat or tie the k-th
                self.scan_fallbacks += 1
                return _top(scan.vectors @ query.reshape(-1), scan.ids, k)
        return list(zip(ids[order].tolist(), exact[order].tolist()))  # (plain ints and floats)


class _Scan:
    """A flat index's 8-bit copy (``codes``), its float32 vectors and passage ids by position (views
    into faiss), and ``error``: the largest distance of any vector from its 8-bit form (``trained``:
    that distance when the copy's range was fixed, from the vectors it was built from)."""

    def __init__(self, codes: "faiss.Index", vectors: np.ndarray, ids: np.ndarray, error: float,
                 trained: float) -> None:
        self.codes, self.vectors, self.ids, self.error, self.trained = codes, vectors, ids, error, trained

    @classmethod
    def of(cls, inner: "faiss.IndexFlat", ids: np.ndarray) -> "_Scan":
        vectors = _vectors_of(inner)
        codes = faiss.IndexScalarQuantizer(int(inner.d), faiss.ScalarQuantizer.QT_8bit_uniform,
                                           faiss.METRIC_INNER_PRODUCT)
        codes.train(vectors)  # one range for every component, from these vectors
        error = _add_codes(codes, vectors)
        return cls(codes, vectors, ids, error, error)

    def extended(self, inner: "faiss.IndexFlat", ids: np.ndarray) -> "_Scan":
        """The copy with the vectors appended to ``inner`` since it was made, in the same range. A new
        vector outside that range is clipped, so its error is larger; once the largest error has grown
        by half, the copy is made again from all vectors (a wider range) so the proof keeps holding."""
        vectors = _vectors_of(inner)  # faiss may have moved its storage: fresh views
        error = max(self.error, _add_codes(self.codes, vectors[len(self.ids):]))
        if error > 1.5 * self.trained:
            return _Scan.of(inner, ids)
        return _Scan(self.codes, vectors, ids, error, self.trained)


def _vectors_of(inner: "faiss.IndexFlat") -> np.ndarray:
    """The float32 vectors a flat index holds, read in place."""
    n, dim = int(inner.ntotal), int(inner.d)
    return faiss.rev_swig_ptr(inner.get_xb(), n * dim).reshape(n, dim)


def _add_codes(codes: "faiss.Index", vectors: np.ndarray) -> float:
    """Append ``vectors`` to the 8-bit ``codes`` (in batches: bounded memory) and return the largest
    distance of any of them from its 8-bit form."""
    error = 0.0
    for start in range(0, len(vectors), SCAN_BATCH):
        part = np.ascontiguousarray(vectors[start:start + SCAN_BATCH])
        packed = codes.sa_encode(part)
        codes.add_sa_codes(packed, None)  # what add() stores, without encoding twice
        off = part - codes.sa_decode(packed)
        error = max(error, float(np.sqrt(np.einsum("ij,ij->i", off, off)).max()))
    return error


def _top(scores: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best of all ``scores``, best first and by passage id among equals."""
    if k < len(scores):
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        within = np.flatnonzero(scores >= kth)
        scores, ids = scores[within], ids[within]
    order = np.lexsort((ids, -scores))[:k]
    return list(zip(ids[order].tolist(), scores[order].tolist()))


def _errno_of(message: str) -> int:
    lowered = message.lower()
    if "no space" in lowered:
        return errno.ENOSPC
    if "quota" in lowered:
        return errno.EDQUOT
    if "too large" in lowered:  # RLIMIT_FSIZE, the tests' stand-in for a full disk
        return errno.EFBIG
    return errno.EIO
