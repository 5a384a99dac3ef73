"""The embedder protocol every backend meets, and what all backends share (thread limits, normalising)."""
from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors. ``name`` keys the embedding cache; ``min_score`` is
    the answer threshold calibrated for the model (CITEBOT_MIN_SCORE overrides it).

    A backend may also offer ``worker_factory() -> Callable[[], Embedder]``: a picklable factory building
    the same model (one thread) in another process, so `add` can embed in worker processes
    (``embed.pool``, CITEBOT_INGEST_WORKERS); one without it always embeds in the adding process. With
    ``fork_safe = True`` the model is loaded once (in the adding process, or in one loader when the adding
    process runs other threads) and the workers are forked from there, sharing its memory (``embed.forked``):
    only for a model a forked child can use (no threads or native runtime state of its own)."""

    name: str
    min_score: float

    @property
    def dim(self) -> int: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def limit_threads(threads: int) -> None:
    """One thread per query: two threads on two busy cores made queries 10-30x slower here. faiss's
    OpenMP and numpy's BLAS (the fusion's and the answer's small matrix products, which otherwise run
    on as many BLAS threads as cores: ~10x slower on this busy 2-core machine, docs/speed.md) alike."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
    except ImportError:  # pragma: no cover - faiss is a hard dependency
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")  # process-wide from here on
    except ImportError:  # pragma: no cover - a dependency; without it BLAS keeps its own default
        pass


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as contiguous float32 (a zero row stays zero), so a dot product is a cosine."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
