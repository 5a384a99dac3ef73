"""The composed store: one corpus's parts over one engine's connection, plus what spans them.

``open_storage(settings)`` returns a :class:`Storage` holding ``documents``, ``embeddings``, ``lexical`` and
``vectors`` (each a small part with one module per engine) and the engine's ``database`` connection.
Callers use the part they need (``store.lexical.search``, ``store.embeddings.put``, ...); the store itself
keeps only the lifecycle and what spans parts: the transaction (documents and their lexical entries
commit together), the generation, meta values, counts and ``verify``, which asks each part to check its
own share.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..settings import default
from .base import Counts, VerifyReport
from .documents import Documents, Transaction, open_documents
from .embeddings import Embeddings, open_embeddings
from .lexical import Lexical, open_lexical
from .vectors import Vectors, open_vectors


class Storage:
    """One corpus's store: its parts and lifecycle (see the module docstring). Thread-safe as its parts."""

    def __init__(self, database: Any, documents: Documents, embeddings: Embeddings, lexical: Lexical,
                 vectors: Vectors) -> None:
        self.database = database
        self.documents = documents
        self.embeddings = embeddings
        self.lexical = lexical
        self.vectors = vectors

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    def engine(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.database.engine

    @property
    def location(self) -> str:
        """Where the store is, for messages and `citebot stats` (a path, or a URL without password)."""
        return self.database.location

    def close(self) -> None:
        """Release connections and files; the instance is unusable afterwards."""
        self.vectors.close()
        self.lexical.close()
        self.database.close()

    def __enter__(self) -> "Storage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The applied migration number of the corpus's tables (1 = the first release's schema)."""
        return self.database.schema_version()

    # -- what spans the parts -------------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[Transaction]:
        """The unit of work: documents, passages and lexical entries, atomically (``documents/base.py``)."""
        return self.documents.transaction()

    def generation(self) -> int:
        """Moves by one with every committed transaction and nothing else."""
        return self.database.generation()

    def get_meta(self, key: str) -> str | None:
        return self.database.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Store a key/value (own short transaction; does not move the generation). ``generation`` is
        reserved."""
        self.database.set_meta(key, value)

    def counts(self) -> Counts:
        docs = self.documents.counts()
        return Counts(docs.documents, docs.passages, self.embeddings.count())

    def verify(self, model: str, repair: bool = False) -> VerifyReport:
        """Check the store and its indexes agree, comparing content and not only ids: the engine's own
        integrity check, then each part's share (documents without passages and orphan passages; lexical
        entries by their terms; damaged and missing vectors of ``model``; the vector index against the
        passages that have vectors).

        Never raises for damage: an unreadable store is one problem. With ``repair`` it rebuilds the
        lexical entries from the passages, drops damaged vectors (reporting them in ``missing``) and
        rebuilds any derived vector index; documents and passages are never changed. Problems fixed by the
        repair are not listed as problems; with ``repair`` missing vectors are not a problem either (the
        caller embeds ``missing``, then calls ``vectors.rebuild``). ``summary`` is one line:
        "N documents, P passages, V dense vectors, generation G"."""
        report = VerifyReport()
        try:
            self.database.integrity(report, repair)
            self.documents.check(report)
            self.lexical.check(report, repair)
            damaged = self.embeddings.damaged(model)
            if damaged:
                report.problems.append(f"{len(damaged)} stored vectors for model {model} are damaged "
                                       f"(truncated, zero-filled or not numbers)")
                if repair:
                    self.embeddings.delete(model, damaged, keep_used=False)
                    report.repairs.append(f"dropped {len(damaged)} damaged vectors (their texts are embedded again)")
            report.missing = self.embeddings.missing(model)
            if report.missing:
                report.problems.append(f"{len(report.missing)} passage texts have no embedding for model {model}")
            self.vectors.check(model, report, repair, damaged=bool(damaged))
            if repair:  # what the repair fixed is no longer a problem; missing vectors are the caller's to embed
                report.problems = [p for p in report.problems
                                   if not ("lexical" in p or "embedding" in p or "damaged" in p or "dense" in p)]
            counts = self.counts()
            report.summary = (f"{counts.documents} documents, {counts.passages} passages, "
                              f"{self.vectors.size(model)} dense vectors, generation {self.generation()}")
        except Exception as exc:
            failed = self.database.check_failed(exc)
            if failed is None:
                raise
            return failed
        return report


def open_sqlite(home: Path, ann_threshold: int = default("ann_threshold"),
                hnsw_threshold: int = default("hnsw_threshold"),
                lexical_memory: bool = default("lexical_memory")) -> Storage:
    """The corpus store in ``home``: one SQLite file for every part, plus the faiss file beside it."""
    from .sqlite import SQLiteDatabase

    return _compose(SQLiteDatabase(home), lexical_memory=lexical_memory, ann_threshold=ann_threshold,
                    hnsw_threshold=hnsw_threshold)


def open_postgres(url: str, *, pool_size: int | None = None, index_type: str = "halfvec",
                  lexical_memory: bool = default("lexical_memory")) -> Storage:
    """The corpus store in the PostgreSQL database at ``url`` (pgvector; psycopg must be installed)."""
    from .postgres import POOL_MAX, PostgresDatabase

    return _compose(PostgresDatabase(url, pool_size=pool_size or POOL_MAX), lexical_memory=lexical_memory,
                    index_type=index_type)


def _compose(database: Any, lexical_memory: bool = False, **vector_options: Any) -> Storage:
    lexical = open_lexical(database, memory=lexical_memory)
    documents = open_documents(database, lexical)
    lexical.admitted = documents.passage_ids
    embeddings = open_embeddings(database)
    vectors = open_vectors(database, documents, embeddings, **vector_options)
    return Storage(database, documents, embeddings, lexical, vectors)
