"""The storage package: the corpus's store in parts (documents, embeddings, lexical, vectors), each with
one module per engine (the embedded SQLite engine and PostgreSQL), composed into :class:`Storage`.

:func:`open_storage` is the only place that chooses the engine, from ``CITEBOT_DATABASE_URL``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UserError
from .base import (NO_FILTERS, VECTOR_DTYPE, Counts, DocumentSpan, DocumentText, EmbeddingRow, MissingEmbedding,
                   NewDocument, NewPassage, PassageRow, ScoredPassage, SearchFilters, SignatureRow, StorageDamaged,
                   StoredDocument, VectorBatch, VerifyReport)
from .bm25 import BM25, FTS5
from .documents import Transaction
from .store import Storage, open_postgres, open_sqlite
from .urls import POSTGRES_SCHEMES, check_database_url, is_postgres_url, safe_location

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings


__all__ = [
    "open_storage", "open_sqlite", "open_postgres", "BM25", "FTS5", "is_postgres_url", "safe_location", "MissingDriver",
    "check_database_url", "POSTGRES_SCHEMES", "NO_FILTERS", "VECTOR_DTYPE", "Counts", "DocumentSpan", "DocumentText",
    "EmbeddingRow", "MissingEmbedding", "NewDocument", "NewPassage", "PassageRow", "ScoredPassage",
    "SearchFilters", "SignatureRow", "Storage", "StorageDamaged", "StoredDocument", "Transaction", "VectorBatch",
    "VerifyReport",
]


class MissingDriver(UserError, ImportError):
    """The PostgreSQL engine was asked for but psycopg/pgvector are not installed (one clear line)."""


def open_storage(settings: "Settings", url: str | None = None) -> Storage:
    """The store for ``settings``: PostgreSQL when the database URL (``url``, else CITEBOT_DATABASE_URL) is
    a postgresql:// URL, else SQLite in ``settings.home_path``. The PostgreSQL engine is imported only
    then, so SQLite users need neither psycopg nor pgvector."""
    url = (settings.database_url if url is None else url) or ""
    if not url.strip():
        return open_sqlite(settings.home_path, ann_threshold=settings.ann_threshold,
                           hnsw_threshold=settings.hnsw_threshold, lexical_memory=settings.lexical_memory)
    if not is_postgres_url(url):
        scheme = url.split(":", 1)[0] if ":" in url else url[:20]
        raise UserError(f"CITEBOT_DATABASE_URL: unsupported database {scheme!r}; use a postgresql:// URL, "
                        f"or leave it empty for SQLite in CITEBOT_HOME")
    try:
        import psycopg  # noqa: F401  (checked here for one clear message)

        from . import postgres  # noqa: F401
    except ImportError as exc:
        raise MissingDriver(
            f"CITEBOT_DATABASE_URL names PostgreSQL but its driver is not installed ({exc.name or exc}); "
            f"install it with `pip install 'citebot[postgres]'` (psycopg 3 and pgvector)"
        ) from None
    return open_postgres(url, lexical_memory=settings.lexical_memory)
