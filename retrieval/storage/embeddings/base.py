"""The embeddings part's contract: a cache of vectors keyed by (model name, sha256 hex of the embedded text).

* One float32 vector per key, stored as little-endian float32 bytes (numpy dtype ``'<f4'``,
  ``VECTOR_DTYPE``) or as a native vector type with the same values; unit-normalised by the encoders, so
  cosine = inner product. A passage's vector is found through its ``embed_hash`` (hash of
  ``title + "\\n" + text``), so re-adding, restarting or rebuilding never embeds the same text twice.
* Writes are their own short transactions and never move the generation.
* A stored vector of another size than the model's usual one, or not a finite unit vector, is damage:
  :meth:`Embeddings.cached` leaves it out (it is embedded again), :meth:`Embeddings.damaged` lists it
  for verify.
"""
from __future__ import annotations

import abc
from typing import Any, Iterable, Sequence

import numpy as np

from ..base import EmbeddingRow, MissingEmbedding, one_line_errors


class Embeddings(abc.ABC):
    """The embedding cache of one corpus. ``database`` is the engine's connection."""

    def __init__(self, database: Any) -> None:
        self.database = database

    @abc.abstractmethod
    def put(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        """Cache vectors by (model, text hash) in their own short transaction (existing keys are kept
        unchanged). With ``wait=False`` (the question path) it is best effort: a busy or read-only
        store is skipped silently. Returns whether the vectors were stored."""

    @abc.abstractmethod
    def delete(self, model: str, hashes: Iterable[str], keep_used: bool = True) -> int:
        """Drop cached vectors; with ``keep_used`` those of texts some passage embeds are kept. Returns
        how many were dropped."""

    @abc.abstractmethod
    def trim(self, model: str, keep: int, recent: Sequence[str] = ()) -> int:
        """Keep at most ``keep`` cached vectors under ``model``: a bounded cache (the question vectors are
        stored under ``<model>#query``). Never drops the ``recent`` hashes (just stored); which others go
        is the engine's choice. Best effort: a busy store is left as it is. Returns how many were dropped."""

    @abc.abstractmethod
    def cached(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors (float32) among these text hashes; misses and damaged ones are absent."""

    @abc.abstractmethod
    def export(self, after: tuple[str, str] = ("", ""), limit: int = 1000) -> list[EmbeddingRow]:
        """Up to ``limit`` cached vectors with (model, text_hash) > ``after``, in that order (migration)."""

    @abc.abstractmethod
    def damaged(self, model: str) -> list[str]:
        """Text hashes of passage vectors of ``model`` that are damaged (see the module docstring)."""

    # -- written once ---------------------------------------------------------------------------------
    @one_line_errors
    def missing(self, model: str) -> list[MissingEmbedding]:
        """One entry per distinct ``embed_hash`` of a passage with no vector for ``model``."""
        with self.database.reading() as conn:
            rows = self.database.query(
                conn, """SELECT p.embed_hash, min(p.id) FROM passages p
                         WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = :model
                                           AND e.text_hash = p.embed_hash)
                         GROUP BY p.embed_hash ORDER BY min(p.id)""", {"model": model})
        return [MissingEmbedding(h, int(pid)) for h, pid in rows]

    @one_line_errors
    def count(self) -> int:
        """Cached vectors of every model."""
        with self.database.reading() as conn:
            return int(self.database.query(conn, "SELECT count(*) FROM embeddings")[0][0])
