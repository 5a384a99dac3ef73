"""The embeddings part's contract on both engines: a cache by (model, text hash) that never moves the
generation, keeps what it has, and says what is missing or damaged."""
from __future__ import annotations

import numpy as np

from .conftest import new_document
from .engines import put_raw_vector


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_put_and_read_back_keeping_existing_keys(store):
    assert store.embeddings.put("m", {"a": _unit(1, 0, 0), "b": _unit(0, 1, 0)})
    assert store.embeddings.put("m", {"a": _unit(0, 0, 1)})  # an existing key keeps its vector
    cached = store.embeddings.cached("m", ["a", "b", "c"])
    assert sorted(cached) == ["a", "b"] and np.allclose(cached["a"], _unit(1, 0, 0))
    assert cached["a"].dtype == np.float32
    assert store.embeddings.cached("other", ["a"]) == {}  # keyed by model too
    assert store.embeddings.count() == 2 and store.generation() == 0


def test_missing_and_delete_keep_what_passages_use(store):
    with store.transaction() as tx:
        tx.insert_document(new_document("One.\n\nTwo.\n\nOne."))  # two passages share a text (and a hash)
    rows = list(store.documents.passages(store.documents.passage_ids().tolist()).values())
    missing = store.embeddings.missing("m")
    assert sorted(m.embed_hash for m in missing) == sorted({r.embed_hash for r in rows})  # one per distinct text
    store.embeddings.put("m", {rows[0].embed_hash: _unit(1, 0), "unused": _unit(0, 1)})
    assert {m.embed_hash for m in store.embeddings.missing("m")} == {rows[1].embed_hash}
    assert store.embeddings.delete("m", [rows[0].embed_hash, "unused"]) == 1  # the used one is kept
    assert store.embeddings.delete("m", [rows[0].embed_hash], keep_used=False) == 1
    assert len(store.embeddings.missing("m")) == 2


def test_trim_bounds_the_cache_and_keeps_the_recent(store):
    store.embeddings.put("m#query", {f"q{i}": _unit(1, i) for i in range(10)})
    assert store.embeddings.trim("m#query", keep=4, recent=["q9", "q8"]) == 6
    left = store.embeddings.cached("m#query", [f"q{i}" for i in range(10)])
    assert len(left) == 4 and {"q9", "q8"} <= set(left)
    assert store.embeddings.trim("m#query", keep=4) == 0


def test_export_in_key_order_after_a_key(store):
    store.embeddings.put("b", {"x": _unit(1, 0)})
    store.embeddings.put("a", {"y": _unit(0, 1), "x": _unit(1, 1)})
    rows = store.embeddings.export()
    assert [(r.model, r.text_hash) for r in rows] == [("a", "x"), ("a", "y"), ("b", "x")]
    assert [(r.model, r.text_hash) for r in store.embeddings.export(("a", "x"), limit=1)] == [("a", "y")]
    assert np.allclose(rows[0].vector, _unit(1, 1))


def test_damaged_vectors_are_found_and_not_served(store):
    with store.transaction() as tx:
        tx.insert_document(new_document("One.\n\nTwo.\n\nThree."))
    rows = sorted(store.documents.passages(store.documents.passage_ids().tolist()).values(), key=lambda r: r.passage_id)
    store.embeddings.put("m", {rows[0].embed_hash: _unit(1, 0, 0), rows[1].embed_hash: _unit(0, 1, 0)})
    put_raw_vector(store, "m", rows[2].embed_hash, np.zeros(3, dtype=np.float32))  # zero-filled
    assert store.embeddings.damaged("m") == [rows[2].embed_hash]
