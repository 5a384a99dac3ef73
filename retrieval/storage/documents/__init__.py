"""The documents part: documents and passages, the unit of work (:class:`Transaction`) and the generation.

:func:`open_documents` picks the engine's module for an open database connection (the corpus's parts
share it, so one transaction covers a document's rows and its lexical entries). The contract is in
``documents/base.py``.
"""
from __future__ import annotations

from typing import Any

from .base import DocumentCounts, Documents, Transaction

__all__ = ["DocumentCounts", "Documents", "Transaction", "open_documents"]


def open_documents(database: Any, lexical: Any) -> Documents:
    """The documents part over ``database`` (an engine's connection), writing ``lexical``'s entries."""
    if database.engine == "postgresql":
        from .postgres import PostgresDocuments

        return PostgresDocuments(database, lexical)
    from .sqlite import SQLiteDocuments

    return SQLiteDocuments(database, lexical)
