"""Hybrid search: dense and lexical (BM25) candidates from the store, fused, with date/source filters.

Fusion defaults to a convex combination of min-max-normalised scores (lexical weight 0.4), which beat
reciprocal-rank fusion on SciFact train (0.7384 vs 0.7168 nDCG@10, docs/evaluation.md); RRF stays
available. The dense score of every candidate is computed exactly from its stored vector, so lexical-only
candidates are not penalised for missing a dense rank and the answer threshold sees a real cosine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..settings import default
from ..storage import NO_FILTERS, SearchFilters, Storage
from ..text.lexical import query_terms
from .fusion import fuse_convex, fuse_rrf

MODES = ("hybrid", "dense", "lexical")  # the one definition (the CLI, the eval and the bench import it)


@dataclass(frozen=True)
class Scored:
    """A fused result: the fused score and, where known, the exact cosine and the BM25 score."""

    passage_id: int
    score: float
    dense: float | None
    lexical: float | None


def hybrid_search(
    store: Storage,
    model: str,
    query: str,
    query_vector: np.ndarray | None,
    limit: int,
    *,
    mode: str = "hybrid",
    fusion: str = default("fusion"),
    lexical_weight: float = default("lexical_weight"),
    filters: SearchFilters = NO_FILTERS,
    candidates: int = 100,
) -> list[Scored]:
    """The top ``limit`` passages for ``query``, best first."""
    n = max(candidates, limit)

    dense_hits: list[tuple[int, float]] = []
    if mode in ("hybrid", "dense") and query_vector is not None:
        dense_hits = [(h.passage_id, h.score) for h in store.vectors.search(model, query_vector, n, filters)]
    lexical_hits: list[tuple[int, float]] = []
    words = query_terms(query)
    if mode in ("hybrid", "lexical") and words:
        lexical_hits = [(h.passage_id, h.score) for h in store.lexical.search(words, n, filters)]

    dense_scores = dict(dense_hits)
    lexical_scores = dict(lexical_hits)
    if query_vector is not None:
        # Exact cosine for lexical-only candidates, from their stored vectors.
        # (from the vector index in memory where the engine holds one: no store read per question)
        missing = [pid for pid in lexical_scores if pid not in dense_scores]
        if missing:
            dense_scores.update(store.vectors.scores(model, query_vector, missing))
    if mode == "dense":
        fused = {pid: s for pid, s in dense_hits}
    elif mode == "lexical":
        fused = dict(lexical_hits)
    elif fusion == "rrf":
        fused = fuse_rrf([p for p, _ in dense_hits], [p for p, _ in lexical_hits])
    else:
        # Only ids that came from a ranked list take part in normalisation of that list.
        fused = fuse_convex(dict(dense_hits) | {p: dense_scores[p] for p in lexical_scores if p in dense_scores},
                            lexical_scores, lexical_weight)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [Scored(pid, score, dense_scores.get(pid), lexical_scores.get(pid)) for pid, score in ranked]
