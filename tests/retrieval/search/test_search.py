"""Hybrid search on its own (retrieval/search.py): fusion, and what it asks of the store, with a fake
store so ranking can be checked exactly without a model."""
from __future__ import annotations

import numpy as np
import pytest

from retrieval.text.lexical import terms
from retrieval.search import fuse_convex, fuse_rrf, hybrid_search
from retrieval.storage import ScoredPassage, SearchFilters, VectorBatch
from retrieval.storage.vectors.base import Vectors


def test_convex_fusion_rewards_agreement():
    fused = fuse_convex({1: 0.9, 2: 0.5, 3: 0.1}, {2: 10.0, 3: 1.0}, lexical_weight=0.4)
    # 1 is best densely but unseen lexically; 2 is good in both and wins
    assert max(fused, key=fused.get) == 2
    assert fused[3] == pytest.approx(0.0)


def test_rrf_sums_reciprocal_ranks():
    fused = fuse_rrf([1, 2], [2, 3], k=60)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61)


class FakeStore:
    """Three passages: 1 and 2 found densely, 3 only lexically; records what search asked for (its
    ``vectors`` and ``lexical`` parts, as the real store has)."""

    def __init__(self) -> None:
        self.stored = {1: np.array([1.0, 0.0]), 2: np.array([0.8, 0.6]), 3: np.array([0.6, 0.8])}
        self.calls: list[tuple] = []
        self.vectors = _FakeVectors(self)
        self.lexical = _FakeLexical(self)


class _FakeVectors:
    scores = Vectors.scores  # the contract's default: exact cosines from passage_vectors

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def search(self, model, query, limit, filters=SearchFilters()):
        self.store.calls.append(("vector", model, limit, filters))
        return [ScoredPassage(pid, float(self.store.stored[pid] @ query)) for pid in (1, 2)]

    def passage_vectors(self, model, ids=None):
        self.store.calls.append(("vectors", tuple(ids)))
        ids = sorted(ids)
        return VectorBatch(np.array(ids, dtype=np.int64),
                           np.stack([self.store.stored[i] for i in ids]).astype(np.float32))


class _FakeLexical:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def search(self, words, limit, filters=SearchFilters(), bm25=None):
        self.store.calls.append(("lexical", tuple(words), limit, filters))
        return [ScoredPassage(3, 7.0), ScoredPassage(2, 5.0)]


def test_lexical_only_candidates_get_their_exact_cosine_and_filters_reach_both_searches():
    store = FakeStore()
    filters = SearchFilters(since="2024-01-01", source="TASS")
    query = np.array([1.0, 0.0], dtype=np.float32)
    scored = hybrid_search(store, "m", "Why did the talks stop?", query, 3, filters=filters)
    by_id = {s.passage_id: s for s in scored}
    assert by_id[3].dense == pytest.approx(0.6) and by_id[3].lexical == 7.0  # from its stored vector
    assert by_id[1].lexical is None and by_id[2].dense == pytest.approx(0.8)
    # min-max within each list, then 0.6 x dense + 0.4 x lexical: dense 1.0/0.8/0.6 -> 1/0.5/0, lexical 7/5 -> 1/0
    assert [(s.passage_id, round(s.score, 6)) for s in scored] == [(1, 0.6), (3, 0.4), (2, 0.3)]
    assert ("vectors", (3,)) in store.calls  # only the lexical-only candidate's vector is read
    lexical = next(c for c in store.calls if c[0] == "lexical")
    assert lexical[1] == tuple(terms("Why did the talks stop?")) == ("talk", "stop")  # stemmed, stop words out
    assert all(c[-1] == filters for c in store.calls if c[0] in ("vector", "lexical"))


def test_lexical_mode_never_touches_vectors_and_stop_words_alone_search_nothing():
    store = FakeStore()
    scored = hybrid_search(store, "m", "talks", None, 5, mode="lexical")
    assert [s.passage_id for s in scored] == [3, 2] and all(s.dense is None for s in scored)
    assert [c[0] for c in store.calls] == ["lexical"]
    store.calls.clear()
    assert hybrid_search(store, "m", "why did it", None, 5, mode="lexical") == []
    assert store.calls == []
