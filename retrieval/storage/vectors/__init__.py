"""The vectors part: nearest passages by cosine (a faiss file beside SQLite, pgvector HNSW in PostgreSQL).

:func:`open_vectors` picks the engine's module for an open database connection; the contract is in
``vectors/base.py``.
"""
from __future__ import annotations

from typing import Any

from ...settings import default
from .base import Vectors

__all__ = ["Vectors", "open_vectors"]


def open_vectors(database: Any, documents: Any, embeddings: Any, *, ann_threshold: int = default("ann_threshold"),
                 hnsw_threshold: int = default("hnsw_threshold"), index_type: str = "halfvec") -> Vectors:
    """The vector index over ``database`` (an engine's connection), the passages of ``documents`` and the
    vectors ``embeddings`` caches. ``hnsw_threshold`` / ``ann_threshold``: the SQLite engine's flat / HNSW / compressed faiss switches;
    ``index_type``: what PostgreSQL's HNSW index stores."""
    if database.engine == "postgresql":
        from .postgres import PostgresVectors

        return PostgresVectors(database, documents, embeddings, index_type=index_type)
    from .sqlite import SQLiteVectors

    return SQLiteVectors(database, documents, ann_threshold=ann_threshold, hnsw_threshold=hnsw_threshold)
