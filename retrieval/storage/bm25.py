"""The one definition of the lexical ranking: BM25's k1 and b and the title field's weight.

The SQLite engine ranks with FTS5's built-in ``bm25()``, whose k1 and b are fixed at FTS5's constants;
the PostgreSQL engine computes the same formula in SQL from these values, so both engines' lexical parts
and the benchmarks (bench/storage_lexical.py, bench/quality.py) import them from here instead of
restating 1.2, 0.75 and 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BM25:
    """BM25 parameters: ``k1`` (term-frequency saturation), ``b`` (length normalisation) and the weight
    of a passage's title field against its body (1.0)."""

    k1: float = 1.2  # FTS5's constant
    b: float = 0.75  # FTS5's constant
    title_weight: float = 0.5

    @property
    def fts5_compatible(self) -> bool:
        """Whether FTS5's bm25() computes this ranking (it takes field weights, never k1 or b)."""
        return (self.k1, self.b) == (FTS5.k1, FTS5.b)


FTS5 = BM25()  # the ranking both engines use
