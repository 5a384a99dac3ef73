"""Hybrid search: dense and lexical (BM25) candidates from the store, fused, with date/source filters.

Fusion defaults to a convex combination of min-max-normalised scores (lexical weight 0.4), which beat
reciprocal-rank fusion on SciFact train (0.7384 vs 0.7168 nDCG@10, docs/evaluation.md); RRF stays
available. The dense score of every candidate is computed exactly from its stored vector, so lexical-only
candidates are not penalised for missing a dense rank and the answer threshold sees a real cosine.
"""
from __future__ import annotations

import heapq
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

    dense_ranked = dict(dense_hits)
    dense_scores = dict(dense_ranked)
    lexical_scores = dict(lexical_hits)
    if query_vector is not None:
        # Exact cosine for lexical-only candidates, from their stored vectors.
        # (from the vector index in memory where the engine holds one: no store read per question)
        missing = [pid for pid in lexical_scores if pid not in dense_scores]
        if missing:
            dense_scores.update(store.vectors.scores(model, query_vector, missing))
    if mode == "dense":
        fused = dense_ranked
    elif mode == "lexical":
        fused = lexical_scores
    elif fusion == "rrf":
        fused = fuse_rrf(list(dense_ranked), list(lexical_scores))
    else:
        # Only ids that came from a ranked list take part in normalisation of that list.
        fused = fuse_convex(dense_ranked | {p: dense_scores[p] for p in lexical_scores if p in dense_scores},
                            lexical_scores, lexical_weight)
    # best first, lower passage id among equal scores (the n smallest of (-score, id): no key function)
    ranked = heapq.nsmallest(limit, [(-score, pid) for pid, score in fused.items()])
    return [Scored(pid, -negated, dense_scores.get(pid), lexical_scores.get(pid)) for negated, pid in ranked]
