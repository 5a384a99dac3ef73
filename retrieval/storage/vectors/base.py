"""The vectors part's contract: nearest passages to a question vector, and the vectors they come from.

* ``search`` returns the passages nearest to a unit query vector, scored with the exact cosine computed
  from the stored vectors (an approximate index may choose the candidates, never the score); a query of
  another dimension returns []; filters are the documents' (``SearchFilters``).
* ``passage_vectors`` reads passages' vectors for a model from the embedding cache. Vectors of a size
  other than the most common one among those read are damage and are left out, on both engines: search
  keeps working, and verify reports them (``embeddings.damaged``).
* A derived index (the faiss file; PostgreSQL's HNSW index is created once per model) is brought up to
  the store by ``sync`` and rebuilt by ``rebuild``; ``check`` says whether it holds exactly the passages
  that have vectors.
"""
from __future__ import annotations

import abc
from typing import Any, Sequence

import numpy as np

from ..base import NO_FILTERS, ScoredPassage, SearchFilters, VectorBatch, VerifyReport


class Vectors(abc.ABC):
    """The vector index of one corpus over the passages of ``documents`` and the cached vectors."""

    def __init__(self, database: Any, documents: Any) -> None:
        self.database = database
        self.documents = documents

    @abc.abstractmethod
    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch:
        """Vectors for ``model`` of these passages (all passages when None), ascending by id; passages
        without a vector are left out, and so are damaged ones (see the module docstring)."""

    @abc.abstractmethod
    def search(self, model: str, query: np.ndarray, limit: int,
               filters: SearchFilters = NO_FILTERS) -> list[ScoredPassage]:
        """Top ``limit`` passages by cosine with the unit vector ``query``, best first; the score is the
        exact inner product with the stored vector. The index is brought up to the store first."""

    def scores(self, model: str, query: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Exact cosine of the unit vector ``query`` with each of these passages' vectors (fusion scores
        lexical-only candidates with it); passages without a usable vector are absent. Engines with the
        vectors in memory answer from there."""
        batch = self.passage_vectors(model, ids)
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if not len(batch) or batch.vectors.shape[1] != query.shape[0]:
            return {}
        return dict(zip(batch.ids.tolist(), (batch.vectors @ query).tolist()))

    @abc.abstractmethod
    def sync(self, model: str) -> bool:
        """Bring a derived index up to the store; returns whether anything changed. Called after writes
        so the next reader starts warm."""

    @abc.abstractmethod
    def rebuild(self, model: str) -> int:
        """Throw the derived index away and build it again from the stored vectors; returns the number of
        vectors it holds."""

    @abc.abstractmethod
    def size(self, model: str) -> int:
        """Vectors the index holds for ``model`` (passages with a vector, for in-table engines)."""

    @abc.abstractmethod
    def check(self, model: str, report: VerifyReport, repair: bool, damaged: bool) -> None:
        """Whether the index holds exactly the passages with vectors (``damaged``: the store holds damaged
        vectors, already reported, by which the index legitimately differs); with ``repair`` (and no
        vector missing) it is rebuilt."""

    def close(self) -> None:
        """Release what the part holds in memory."""
