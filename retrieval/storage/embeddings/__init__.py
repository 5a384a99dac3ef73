"""The embeddings part: the cache of vectors by (model, text hash), so nothing is ever embedded twice.

:func:`open_embeddings` picks the engine's module for an open database connection; the contract is in
``embeddings/base.py``.
"""
from __future__ import annotations

from typing import Any

from .base import Embeddings

__all__ = ["Embeddings", "open_embeddings"]


def open_embeddings(database: Any) -> Embeddings:
    """The embedding cache over ``database`` (an engine's connection)."""
    if database.engine == "postgresql":
        from .postgres import PostgresEmbeddings

        return PostgresEmbeddings(database)
    from .sqlite import SQLiteEmbeddings

    return SQLiteEmbeddings(database)
