"""The ranking core (retrieval/search/): fusion by hand, candidate merging and what search asks of the
store (fake stores, so ranking is checked exactly without a model), and filters through the corpus."""
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


class ListStore:
    """A store answering with fixed dense and lexical lists (and stored vectors) through its ``vectors`` and
    ``lexical`` parts, as the real store does; records the calls."""

    def __init__(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
                 vectors: dict[int, list[float]] | None = None) -> None:
        self.dense, self.ranked_lexical, self.stored = dense, lexical, vectors or {}
        self.calls: list[tuple] = []
        self.vectors = _ListVectors(self)
        self.lexical = _ListLexical(self)


class _ListVectors:
    scores = Vectors.scores  # the contract's default: exact cosines from passage_vectors

    def __init__(self, store: ListStore) -> None:
        self.store = store

    def search(self, model, query, limit, filters=SearchFilters()):
        self.store.calls.append(("vector", model, limit, filters))
        return [ScoredPassage(pid, score) for pid, score in self.store.dense[:limit]]

    def passage_vectors(self, model, ids=None):
        self.store.calls.append(("vectors", tuple(ids)))
        found = sorted(i for i in ids if i in self.store.stored)
        if not found:
            return VectorBatch.empty()
        return VectorBatch(np.array(found, dtype=np.int64),
                           np.array([self.store.stored[i] for i in found], dtype=np.float32))


class _ListLexical:
    def __init__(self, store: ListStore) -> None:
        self.store = store

    def search(self, words, limit, filters=SearchFilters(), bm25=None):
        self.store.calls.append(("lexical", tuple(words), limit, filters))
        return [ScoredPassage(pid, score) for pid, score in self.store.ranked_lexical[:limit]]


def FakeStore() -> ListStore:
    """Three passages: 1 and 2 found densely (for the query [1, 0]), 3 only lexically."""
    return ListStore(dense=[(1, 1.0), (2, 0.8)], lexical=[(3, 7.0), (2, 5.0)],
                     vectors={1: [1.0, 0.0], 2: [0.8, 0.6], 3: [0.6, 0.8]})


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


# -- fusion, by hand ------------------------------------------------------------------------------------
def test_convex_fusion_at_the_extreme_weights_is_one_list_alone():
    dense, lexical = {1: 0.9, 2: 0.5, 3: 0.1}, {3: 9.0, 2: 4.0, 4: 1.0}
    only_dense = fuse_convex(dense, lexical, lexical_weight=0.0)
    only_lexical = fuse_convex(dense, lexical, lexical_weight=1.0)
    assert sorted(only_dense, key=lambda i: -only_dense[i])[:3] == [1, 2, 3]
    assert only_dense[4] == 0.0  # not a dense candidate: the dense minimum
    assert sorted(only_lexical, key=lambda i: -only_lexical[i])[:2] == [3, 2]
    assert only_lexical[1] == only_lexical[4] == 0.0  # unseen, and the lexical minimum, count the same


def test_convex_fusion_normalises_each_list_apart_so_scales_do_not_matter():
    dense = {1: 0.30, 2: 0.20, 3: 0.10}
    small = fuse_convex(dense, {1: 1.0, 3: 3.0}, 0.5)
    large = fuse_convex(dense, {1: 1000.0, 3: 3000.0}, 0.5)  # BM25 scores on another scale, same order
    assert small == pytest.approx(large)
    # dense 1/0.5/0, lexical 0/-/1: 1 -> 0.5, 2 -> 0.25, 3 -> 0.5
    assert small == pytest.approx({1: 0.5, 2: 0.25, 3: 0.5})


def test_a_list_of_equal_scores_counts_fully_and_empty_lists_fuse_to_nothing():
    assert fuse_convex({1: 0.4, 2: 0.4}, {}, 0.4) == pytest.approx({1: 0.6, 2: 0.6})
    assert fuse_convex({}, {}, 0.4) == {}
    assert fuse_rrf([], []) == {}


def test_rrf_uses_ranks_only():
    assert fuse_rrf([5, 6, 7], [7, 5]) == pytest.approx({5: 1 / 61 + 1 / 62, 6: 1 / 62, 7: 1 / 63 + 1 / 61})


# -- candidate merging in hybrid_search -------------------------------------------------------------------
Q = np.array([1.0, 0.0], dtype=np.float32)


def test_a_passage_found_both_ways_is_one_candidate_with_both_scores():
    store = ListStore(dense=[(1, 0.9), (2, 0.7)], lexical=[(2, 4.0), (3, 2.0)], vectors={3: [0.0, 1.0]})
    scored = hybrid_search(store, "m", "harbour ice", Q, 10)
    assert sorted(s.passage_id for s in scored) == [1, 2, 3]  # 2 once, not twice
    two = next(s for s in scored if s.passage_id == 2)
    assert (two.dense, two.lexical) == (pytest.approx(0.7), 4.0)
    assert ("vectors", (3,)) in store.calls  # only the lexical-only candidate needed its stored vector


def test_ties_are_broken_by_passage_id_and_the_limit_cuts_after_ranking():
    store = ListStore(dense=[(7, 0.5), (4, 0.5), (9, 0.5)], lexical=[])
    scored = hybrid_search(store, "m", "harbour", Q, 2, mode="dense")
    assert [s.passage_id for s in scored] == [4, 7]


def test_both_searches_are_asked_for_at_least_the_candidate_pool():
    store = ListStore(dense=[], lexical=[])
    hybrid_search(store, "m", "harbour", Q, 5, candidates=40)
    assert {(c[0], c[2]) for c in store.calls} == {("vector", 40), ("lexical", 40)}
    store.calls.clear()
    hybrid_search(store, "m", "harbour", Q, 150, candidates=40)  # deep pages ask for more
    assert {(c[0], c[2]) for c in store.calls} == {("vector", 150), ("lexical", 150)}


def test_dense_mode_never_asks_the_lexical_index():
    store = ListStore(dense=[(1, 0.9), (2, 0.3)], lexical=[(3, 5.0)])
    scored = hybrid_search(store, "m", "harbour", Q, 5, mode="dense")
    assert [s.passage_id for s in scored] == [1, 2] and all(s.lexical is None for s in scored)
    assert [c[0] for c in store.calls] == ["vector"]


def test_rrf_fusion_ranks_by_reciprocal_ranks():
    store = ListStore(dense=[(1, 0.9), (2, 0.8)], lexical=[(2, 3.0), (3, 1.0)], vectors={3: [1.0, 0.0]})
    scored = hybrid_search(store, "m", "harbour", Q, 3, fusion="rrf")
    assert [s.passage_id for s in scored] == [2, 1, 3]
    assert scored[0].score == pytest.approx(1 / 62 + 1 / 61)


def test_a_stored_vector_of_another_size_is_not_scored_instead_of_failing():
    store = ListStore(dense=[(1, 0.9)], lexical=[(3, 2.0)], vectors={3: [1.0, 0.0, 0.0]})
    scored = hybrid_search(store, "m", "harbour", Q, 5)
    three = next(s for s in scored if s.passage_id == 3)
    assert three.dense is None and three.lexical == 2.0


def test_hybrid_without_a_question_vector_is_lexical_ranking():
    store = ListStore(dense=[(1, 0.9)], lexical=[(3, 2.0), (2, 1.0)])
    scored = hybrid_search(store, "m", "harbour", None, 5)
    assert [s.passage_id for s in scored] == [3, 2]
    assert [c[0] for c in store.calls] == ["lexical"]


# -- filters, through the corpus ----------------------------------------------------------------------------
def test_filters_apply_before_the_limit_so_a_filtered_search_still_fills_its_page(make_corpus):
    from retrieval import Document

    corpus = make_corpus()
    for i in range(8):  # eight strong matches from one source, dated early ...
        corpus.add_document(Document(text=f"The harbour ice report number {i} says the harbour froze early.",
                                     title=f"Ice {i}", source="Coast", date=f"2024-01-{i + 1:02d}", path=f"c{i}"))
    for i in range(3):  # ... and three weaker ones from another source, dated later
        corpus.add_document(Document(text=f"Port bulletin {i}: the harbour reopened for ships after repairs.",
                                     title=f"Port {i}", source="Port", date=f"2024-03-{i + 1:02d}", path=f"p{i}"))
    by_source = corpus.search("harbour ice froze", k=3, source="Port")
    assert [h.source for h in by_source] == ["Port"] * 3
    by_date = corpus.search("harbour ice froze", k=5, since="2024-01-05", until="2024-02-01")
    assert sorted(h.date for h in by_date) == ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]
    for mode in ("dense", "lexical"):
        assert {h.source for h in corpus.search("harbour", k=20, mode=mode, source="Port")} == {"Port"}


def test_bad_search_arguments_are_user_errors_with_codes(make_corpus):
    from retrieval import UserError

    corpus = make_corpus()
    with pytest.raises(UserError) as bad_mode:
        corpus.search("harbour", mode="fuzzy")
    assert bad_mode.value.code == "bad_mode"
    with pytest.raises(UserError) as bad_k:
        corpus.search("harbour", k=0)
    assert bad_k.value.code == "bad_limit"


# -- further sources ("More sources") -------------------------------------------------------------------------
def _hit(pid: int, dense: float | None, lexical: float | None):
    from retrieval.types import Hit

    return Hit(pid, pid, 1.0, dense, lexical, f"passage {pid}", 0, 10, "T", None, "", "")


def test_further_passages_are_the_relevant_ones_not_shown_best_first():
    from retrieval import further_passages, relevance_floor

    class Searcher:
        def __init__(self, hits):
            self.hits, self.asked = hits, []

        def search(self, query, k=10):
            self.asked.append((query, k))
            return self.hits[:k]

    hits = [_hit(1, 0.50, 8.0), _hit(2, 0.30, None), _hit(3, 0.05, 2.0), _hit(4, 0.02, 1.0), _hit(5, None, None)]
    searcher = Searcher(hits)
    floor = relevance_floor(0.4)
    assert floor == pytest.approx(0.2)  # half the answer threshold
    further = further_passages(searcher, "q", shown=[1], upto=5, floor=floor)
    # 2 by similarity, 3 by a lexical score at least a quarter of the best (8.0); 4 and 5 pass neither
    assert [h.passage_id for h in further] == [2, 3]
    assert searcher.asked == [("q", 7)]  # enough to list `upto` after the shown ones
