"""The lexical part's contract: one BM25 entry per passage, searched by stemmed terms.

* Each passage has one lexical entry: the stemmed terms of its document's title and of its own text (both
  computed by ``retrieval.text.lexical.terms``, the one place stemming happens), written by a
  :class:`LexicalWriter` inside the documents part's transaction, so entries and passages commit together.
* Search takes already-stemmed distinct query terms and ORs them; scores are BM25 (``storage/bm25.py``:
  k1, b and the title field's weight, the body's being 1.0), higher is better, the same on both engines.
* ``check`` compares entries with the passages by content (the terms, not only ids); a repair rebuilds
  them from the passages and moves the generation (searchable content changed).
"""
from __future__ import annotations

import abc
from typing import Any, Callable, Sequence

import numpy as np

from ..base import NO_FILTERS, ScoredPassage, SearchFilters, VerifyReport
from ..bm25 import BM25, FTS5
from .memory import MemoryBM25

MEMORY_AFTER = 50  # lexical searches of one process before it builds the copy unasked (`ask --batch`, eval)


class LexicalWriter(abc.ABC):
    """Writes lexical entries on the connection of one open documents transaction."""

    buffered = 0  # entries held back for a batched write (PostgreSQL's COPY)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @abc.abstractmethod
    def add(self, passage_id: int, title_terms: Sequence[str], terms: Sequence[str]) -> int:
        """The entry of one new passage; returns its length in tokens (title and body)."""

    @abc.abstractmethod
    def remove_document(self, doc_id: int) -> None:
        """Drop the entries of a document's passages (called before the passages are deleted)."""

    def flush(self) -> None:
        """Write buffered entries (before a read inside the transaction)."""

    def finish(self) -> None:
        """Last writes of the transaction (counters), just before COMMIT."""


class Lexical(abc.ABC):
    """The lexical index of one corpus. ``database`` is the engine's connection. With ``memory``, an
    in-memory copy (``lexical/memory.py``) answers in processes that ask many questions (a server calls
    :meth:`warm`; any process after :data:`MEMORY_AFTER` searches), with the engine's own scores; the
    engine module is then its ``EntrySource`` (``state``, ``entry_ids``, ``entries``, ``totals``) and says
    what a question's terms are to it (:meth:`query_tokens`)."""

    def __init__(self, database: Any, bm25: BM25 = FTS5, memory: bool = False) -> None:
        self.database = database
        self.bm25 = bm25
        self.memory: MemoryBM25 | None = MemoryBM25(self, bm25) if memory else None
        self._searches = 0
        # which passages a filter admits, for the copy: the documents part's passage_ids (set by the store;
        # that SQL is written once, there)
        self.admitted: Callable[[SearchFilters], np.ndarray] | None = None

    def _from_memory(self, terms: Sequence[str], limit: int, filters: SearchFilters,
                     bm25: BM25) -> list[ScoredPassage] | None:
        """The in-memory copy's answer, or None when the engine must answer (see :class:`MemoryBM25`)."""
        self._searches += 1
        if self.memory is None or self._searches < MEMORY_AFTER:  # a few questions never pay the build
            return None
        tokens = self.query_tokens(list(dict.fromkeys(t for t in terms if t)))
        if tokens is None:
            return None
        if filters.active and self.admitted is None:
            return None
        allowed = self.admitted(filters) if filters.active else None
        found = self.memory.try_search(tokens, limit, allowed, bm25)
        return None if found is None else [ScoredPassage(pid, score) for pid, score in found]

    def compact(self) -> None:
        """After the copy's build: rewrite long-lived caches filled during it into fresh memory (see the
        SQLite engine's); nothing to do where there are none."""

    def query_tokens(self, terms: list[str]) -> list[str] | None:
        """What the distinct query terms are to the engine, one token each, in order; None if the copy
        cannot answer them (e.g. a term the engine reads as a phrase)."""
        return terms

    @abc.abstractmethod
    def search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
               bm25: BM25 | None = None) -> list[ScoredPassage]:
        """Top ``limit`` passages matching any of ``terms`` (already stemmed, distinct), best first, ranked
        by ``bm25`` (the part's own by default). An empty ``terms`` returns []."""

    def close(self) -> None:
        """Release what the part holds beside the database connection (an in-memory copy, its thread)."""
        if self.memory is not None:
            self.memory.close()

    def warm(self, background: bool = False) -> bool:
        """Build the in-memory copy (when enabled): now (whether it answers: benchmarks, tests) or in a
        background thread (False at once: servers at start-up)."""
        if self.memory is None:
            return False
        self._searches = max(self._searches, MEMORY_AFTER)
        if background:
            self.memory.start()
            return False
        self.memory.wait()
        return self.memory.sync()

    @abc.abstractmethod
    def writer(self, conn: Any) -> LexicalWriter:
        """The writer for one documents transaction on ``conn``."""

    def stored_terms(self, conn: Any, passage_ids: Sequence[int]) -> dict[int, str]:
        """The body terms the engine keeps per passage as written (space-separated), for an exact copy
        by migration; engines that keep no ordered copy return {} and the terms are recomputed."""
        return {}

    @abc.abstractmethod
    def check(self, report: VerifyReport, repair: bool) -> None:
        """Compare every entry with its passage (see the module docstring); with ``repair`` rebuild them."""
