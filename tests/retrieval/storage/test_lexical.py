"""The lexical part's contract on both engines: stemmed terms OR-ed, BM25 with the one definition
(storage/bm25.py), filters, and the same ranking and scores on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval import Document, load_settings
from retrieval.storage import BM25, FTS5, NewDocument, NewPassage, SearchFilters, VerifyReport, open_storage
from retrieval.text.lexical import query_terms, terms

from .conftest import new_document


def _doc_of(store, hit) -> int:
    return store.documents.passages([hit.passage_id])[hit.passage_id].doc_id


def test_stemmed_terms_any_of_them_and_filters(store):
    with store.transaction() as tx:
        old = tx.insert_document(new_document("The negotiators stopped talking in March.", "Talks", date="2022-03-21",
                                              source="TASS"))
        new = tx.insert_document(new_document("Talks resumed after a long pause.", "More talks", date="2024-01-10",
                                              source="Reuters"))
        tx.insert_document(new_document("Nothing about that here.", "Weather"))
    assert {_doc_of(store, h) for h in store.lexical.search(terms("talks"), 5)} == {old, new}  # one stem
    assert [_doc_of(store, h) for h in store.lexical.search(terms("talks"), 5, SearchFilters(since="2023-01-01"))] == [new]
    assert [_doc_of(store, h) for h in store.lexical.search(terms("talks"), 5, SearchFilters(source="tass"))] == [old]
    assert {_doc_of(store, h) for h in store.lexical.search(terms("pause march"), 5)} == {old, new}  # OR
    hits = store.lexical.search(terms("talks"), 5)
    assert hits == sorted(hits, key=lambda h: -h.score) and all(h.score > 0 for h in hits)
    assert store.lexical.search(terms("talks"), 1) == hits[:1]
    assert store.lexical.search([], 5) == [] and store.lexical.search(['quo"te'], 5) == []


def test_the_title_weight_of_the_bm25_definition_ranks_title_matches(store):
    with store.transaction() as tx:
        in_title = tx.insert_document(new_document("A report on the economy.", "Harbour news"))
        in_body = tx.insert_document(new_document("The harbour froze and the harbour stayed shut.", "Weather"))
    default = [_doc_of(store, h) for h in store.lexical.search(["harbour"], 5)]
    heavy = [_doc_of(store, h) for h in store.lexical.search(["harbour"], 5, bm25=BM25(title_weight=20.0))]
    assert FTS5 == BM25() and (FTS5.k1, FTS5.b, FTS5.title_weight) == (1.2, 0.75, 0.5)
    assert default == [in_body, in_title] and heavy == [in_title, in_body]


def test_entries_are_checked_by_content_and_rebuilt(store):
    from .engines import damage_lexical

    with store.transaction() as tx:
        tx.insert_document(new_document("Cats sleep all day.\n\nDogs bark at night."))
    clean = VerifyReport()
    store.lexical.check(clean, repair=False)
    assert clean.ok
    first = int(store.documents.passage_ids()[0])
    damage_lexical(store, first)
    found = VerifyReport()
    store.lexical.check(found, repair=False)
    assert found.problems and "lexical" in found.problems[0]
    generation = store.generation()
    repaired = VerifyReport()
    store.lexical.check(repaired, repair=True)
    assert repaired.repairs and store.generation() == generation + 1  # searchable content changed
    assert [h.passage_id for h in store.lexical.search(terms("cats"), 5)] == [first]
    again = VerifyReport()
    store.lexical.check(again, repair=False)
    assert again.ok


def test_lexical_ranking_is_the_same_on_both_engines(tmp_path, pg_url):
    """BM25 on PostgreSQL is computed with FTS5's formula over the same terms: same passages, same scores."""
    corpus_file = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "scifact" / "corpus.jsonl"
    texts = ["Peace treaty talks between Russia and Japan stopped in March 2022 after sanctions.",
             "Japan and Russia never signed a peace treaty after the Second World War.",
             "Talks on the Kuril islands resumed; Japanese fishermen want access to the islands.",
             "The central bank kept its key rate unchanged and said inflation was slowing.",
             "Переговоры о мирном договоре между Россией и Японией были прекращены в марте 2022 года.",
             "Центральный банк сохранил ключевую ставку, инфляция замедляется."]
    if corpus_file.exists():
        with corpus_file.open() as f:
            texts += [json.loads(next(f))["text"][:800] for _ in range(150)]
    stores = [open_storage(load_settings(env={}).replace(home=str(tmp_path / "sq")), url=""),
              open_storage(load_settings(env={}), url=pg_url)]
    try:
        for store in stores:
            with store.transaction() as tx:
                for i, text in enumerate(texts):
                    title = f"Story {i % 7}"
                    tx.insert_document(NewDocument(
                        Document(text, title=title, path=f"/{i}"), content_hash=f"h{i}", title_terms=terms(title),
                        passages=[NewPassage(0, 0, len(text), text, f"e{i}", [(0, len(text))], terms(text))]))
        questions = ["why did peace treaty talks stop?", "islands fishermen", "key rate inflation", "story 3 bank",
                     "почему прекратились переговоры?", "ключевая ставка", "cells protein expression",
                     "vitamin D deficiency risk", "gene mutation cancer patients"]
        compared = 0
        for q in questions:
            sq, pg = (s.lexical.search(query_terms(q), 10, bm25=BM25(title_weight=0.5)) for s in stores)
            assert len(sq) == len(pg), q
            assert [round(h.score, 5) for h in sq] == [round(h.score, 5) for h in pg], q
            sq_ids = {h.passage_id for h in sq if h.score > sq[-1].score + 1e-6}  # ties at the cut may differ
            assert sq_ids <= {h.passage_id for h in pg}, q
            compared += len(sq)
        assert compared > 30
    finally:
        for store in stores:
            store.close()


def test_fts5_cannot_take_another_k1_or_b(tmp_path):
    from retrieval.storage import open_sqlite

    store = open_sqlite(tmp_path)
    with pytest.raises(ValueError, match="k1 and b"):
        store.lexical.search(["x"], 5, bm25=BM25(k1=0.9))
    store.close()
