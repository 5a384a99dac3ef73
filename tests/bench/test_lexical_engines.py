"""The lexical bench compares engines only if its reference really is citebot's ranking: the BM25 definition
as a sparse matrix (what bm25s is given) and computed at question time must rank and score exactly as the
product's FTS5 does, over the same terms; and the quality bench's sign test must be the binomial one."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.lexical_engines import FTS5Engine, LazyEngine, ReferenceEngine, Terms, agreement, split_terms
from bench.ranking_unchanged import bootstrap, sign_test
from retrieval.text.lexical import query_terms, terms

from ..conftest import SHARED_DATA


def _terms(texts: list[tuple[str, str]]) -> Terms:
    ids: dict[str, int] = {}
    titles = [split_terms(terms(t)) for t, _ in texts]
    bodies = [split_terms(terms(b)) for _, b in texts]

    def flat(lists):
        off = np.zeros(len(lists) + 1, dtype=np.int64)
        off[1:] = np.cumsum([len(x) for x in lists])
        return np.asarray([ids.setdefault(w, len(ids)) for x in lists for w in x], dtype=np.int32), off

    title, title_off = flat(titles)
    body, body_off = flat(bodies)
    return Terms(list(ids), title, title_off, body, body_off, len(texts))


def test_the_reference_ranks_and_scores_like_the_products_fts5(tmp_path: Path):
    texts = [("Talks", "Peace treaty talks between Russia and Japan stopped in March 2022 after sanctions."),
             ("Treaty", "Japan and Russia never signed a peace treaty after the war; talks went on for years."),
             ("Kurils", "Talks on the Kuril islands resumed; Japanese fishermen want access to the islands."),
             ("Rates", "The central bank kept its key rate unchanged and said inflation was slowing."),
             ("Переговоры", "Переговоры о мирном договоре между Россией и Японией были прекращены в марте."),
             ("Ставка", "Центральный банк сохранил ключевую ставку, инфляция замедляется, снова ставка.")]
    corpus_file = SHARED_DATA / "scifact" / "corpus.jsonl"
    if corpus_file.exists():
        with corpus_file.open() as f:
            texts += [(d["title"], d["text"][:1200]) for d in (json.loads(next(f)) for _ in range(200))]
    t = _terms(texts)
    fts5, reference, lazy = FTS5Engine(), ReferenceEngine(), LazyEngine()
    for engine in (fts5, reference, lazy):
        engine.build(t, tmp_path)
    try:
        questions = ["why did peace treaty talks stop?", "islands fishermen", "key rate inflation", "talks",
                     "почему прекратились переговоры?", "ключевая ставка", "cells protein expression",
                     "vitamin D deficiency risk", "gene mutation cancer patients", "nothing matches zzzqx"]
        compared = 0
        for q in questions:
            words = split_terms(query_terms(q))
            expected = fts5.search(words)
            for engine in (reference, lazy):
                got = engine.search(words)
                assert [round(s, 4) for s in got.scores] == pytest.approx([round(s, 4) for s in expected.scores],
                                                                         abs=2e-4), (engine.name, q)
                assert agreement(got, expected) == (1.0, True), (engine.name, q)
            compared += len(expected.ids)
        assert compared > 40
    finally:
        fts5.close()


def test_agreement_counts_a_different_passage_as_a_different_ranking():
    from bench.lexical_engines import Hits

    assert agreement(Hits([1, 2, 3], [3.0, 2.0, 1.0]), Hits([1, 2, 4], [3.0, 2.0, 1.5])) == (2 / 3, False)
    assert agreement(Hits([2, 1], [2.0, 2.0]), Hits([1, 2], [2.0, 2.0])) == (1.0, True)  # a tie may swap


def test_the_sign_test_is_two_sided_binomial_and_the_interval_holds_the_mean():
    assert sign_test(5, 0) == pytest.approx(2 / 32)
    assert sign_test(3, 3) == 1.0 and sign_test(0, 0) == 1.0
    lo, hi = bootstrap([0.0] * 50 + [1.0] * 50, rounds=2000)
    assert lo < 0.5 < hi and hi - lo < 0.3
