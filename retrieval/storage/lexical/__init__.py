"""The lexical part: BM25 over the stemmed terms of every passage (FTS5 in SQLite, postings in PostgreSQL).

:func:`open_lexical` picks the engine's module for an open database connection; the contract is in
``lexical/base.py`` and the ranking's parameters in ``storage/bm25.py``.
"""
from __future__ import annotations

from typing import Any

from ..bm25 import BM25, FTS5
from .base import Lexical, LexicalWriter

__all__ = ["BM25", "FTS5", "Lexical", "LexicalWriter", "open_lexical"]


def open_lexical(database: Any, bm25: BM25 = FTS5, memory: bool = False) -> Lexical:
    """The lexical part over ``database`` (an engine's connection); ``memory``: whether it may keep an
    in-memory copy (``lexical/memory.py``, CITEBOT_LEXICAL_MEMORY)."""
    if database.engine == "postgresql":
        from .postgres import PostgresLexical

        return PostgresLexical(database, bm25, memory=memory)
    from .sqlite import SQLiteLexical

    return SQLiteLexical(database, bm25, memory=memory)
