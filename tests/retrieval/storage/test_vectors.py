"""The vectors part's contract on both engines: exact cosine scores, filters, another dimension, and
vectors of a mixed size (left out on both engines, search keeps working, verify reports them)."""
from __future__ import annotations

import numpy as np
import pytest

from retrieval.storage import SearchFilters, VerifyReport

from .conftest import new_document
from .engines import put_raw_vector


def _unit(rows) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


VECTORS = _unit([[1, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]])


def _filled(store, model: str = "m") -> list[int]:
    """Five one-passage documents (two from source B, dated 2024) with VECTORS; their passage ids."""
    with store.transaction() as tx:
        for i in range(len(VECTORS)):
            tx.insert_document(new_document(f"Passage number {i}.", title=f"D{i}", source="B" if i % 2 else "A",
                                            date="2024-01-01" if i % 2 else None))
    ids = store.documents.passage_ids().tolist()
    rows = store.documents.passages(ids)
    store.embeddings.put(model, {rows[pid].embed_hash: VECTORS[i] for i, pid in enumerate(ids)})
    return ids


def test_nearest_first_with_exact_cosines_and_filters(store):
    ids = _filled(store)
    query = _unit([[1, 0.2, 0, 0]])[0]
    hits = store.vectors.search("m", query, 3)
    assert [h.passage_id for h in hits] == [ids[0], ids[1], ids[4]]
    for hit in hits:
        assert hit.score == pytest.approx(float(VECTORS[ids.index(hit.passage_id)] @ query), abs=1e-5)
    assert [h.passage_id for h in store.vectors.search("m", query, 5, SearchFilters(source="b"))] == [ids[1], ids[3]]
    assert {h.passage_id for h in store.vectors.search("m", query, 5, SearchFilters(since="2024-01-01"))} == \
        {ids[1], ids[3]}
    assert store.vectors.search("m", np.ones(7, dtype=np.float32) / np.sqrt(7), 3) == []  # another dimension
    assert store.vectors.search("other-model", query, 3) == [] and store.vectors.search("m", query, 0) == []


def test_passage_vectors_in_id_order_and_the_index_follows_deletes(store):
    ids = _filled(store)
    batch = store.vectors.passage_vectors("m", [ids[3], ids[0], 999])
    assert batch.ids.tolist() == [ids[0], ids[3]] and np.allclose(batch.vectors, VECTORS[[0, 3]])
    assert len(store.vectors.passage_vectors("m")) == 5
    store.vectors.sync("m")
    assert store.vectors.size("m") == 5
    with store.transaction() as tx:
        tx.delete_document(store.documents.passages([ids[0]])[ids[0]].doc_id)
    assert ids[0] not in [h.passage_id for h in store.vectors.search("m", VECTORS[0], 5)]
    assert store.vectors.rebuild("m") == 4


def test_vectors_of_a_mixed_size_are_left_out_on_both_engines(store):
    """The contract (vectors/base.py): a vector of a size other than the most common one among those
    read is damage; it is left out, search keeps answering from the others, verify reports it."""
    ids = _filled(store)
    odd = store.documents.passages([ids[2]])[ids[2]].embed_hash
    put_raw_vector(store, "m", odd, _unit([[1, 0, 0]])[0])  # a 3-dim vector among 4-dim ones
    batch = store.vectors.passage_vectors("m")
    assert ids[2] not in batch.ids.tolist() and len(batch) == 4 and batch.vectors.shape == (4, 4)
    hits = store.vectors.search("m", VECTORS[2], 5)
    assert hits and ids[2] not in [h.passage_id for h in hits]
    filtered = store.vectors.search("m", VECTORS[2], 5, SearchFilters(source="a"))  # PostgreSQL: the exact scan
    assert [h.passage_id for h in filtered] == [ids[4], ids[0]]
    assert store.embeddings.damaged("m") == [odd]
    report = store.verify("m")
    assert any("damaged" in p for p in report.problems), report.problems
    repaired = store.verify("m", repair=True)
    assert [m.passage_id for m in repaired.missing] == [ids[2]]  # to be embedded again by the caller


def test_check_builds_or_compares_the_index(store):
    _filled(store)
    report = VerifyReport()
    store.vectors.check("m", report, repair=False, damaged=False)
    assert report.ok, report.problems
    assert store.vectors.size("m") == 5
