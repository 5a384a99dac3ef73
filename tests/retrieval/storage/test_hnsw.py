"""The SQLite engine's HNSW index (above CITEBOT_HNSW_THRESHOLD): recall against exact search, exact scores,
incremental adds without a rebuild, removals as tombstones that survive a restart, self-healing, and the
fusion scores read from memory (issue 24)."""
from __future__ import annotations

import numpy as np
import pytest

from retrieval.storage import open_sqlite
from tests.retrieval.storage.test_sqlite import _clustered, _doc, _questions

N, DIM = 3000, 64


def _fill(store, vectors: np.ndarray, start: int, stop: int, per_doc: int = 250) -> None:
    with store.transaction() as tx:
        for first in range(start, stop, per_doc):
            text = "\n\n".join(f"passage {i}" for i in range(first, min(stop, first + per_doc)))
            tx.insert_document(_doc(text, title=f"doc {first}"))
    rows = store.documents.passages(store.documents.passage_ids().tolist())
    store.embeddings.put("toy", {r.embed_hash: vectors[int(r.text.split()[1])] for r in rows.values()})


def _recall(store, queries: np.ndarray) -> float:
    batch = store.vectors.passage_vectors("toy")
    found = []
    for q in queries:
        exact = set(batch.ids[np.argsort(-(batch.vectors @ q))[:10]].tolist())
        hits = store.vectors.search("toy", q, 10)
        for hit in hits:  # exact cosines, whatever chose the candidates
            assert hit.score == pytest.approx(float(batch.vectors[np.searchsorted(batch.ids, hit.passage_id)] @ q),
                                              abs=1e-5)
        found.append(len(exact & {h.passage_id for h in hits}) / 10)
    return float(np.mean(found))


def test_hnsw_above_the_threshold_keeps_recall_adds_incrementally_and_tombstones_removals(tmp_path):
    vectors = _clustered(N + 500, DIM, seed=3)
    queries = _questions(vectors[:N], 40, seed=4)
    store = open_sqlite(tmp_path, hnsw_threshold=1000)
    _fill(store, vectors, 0, N)
    store.vectors.sync("toy")
    dense = store.vectors.dense("toy")
    assert dense.kind == "hnsw" and dense.size == N
    assert _recall(store, queries) >= 0.98
    graph = dense.index

    _fill(store, vectors, N, N + 500)  # one more document: added to the graph, not rebuilt
    assert store.vectors.sync("toy") and dense.index is graph and not dense.rebuilt
    assert dense.size == N + 500
    newest = store.vectors.search("toy", vectors[N + 10], 1)
    assert newest[0].passage_id == int(store.documents.passage_ids()[N + 10])

    removed_doc = 1  # the first document: passages 0..249
    removed_ids = set(store.documents.passage_ids().tolist())
    with store.transaction() as tx:
        tx.delete_document(removed_doc)
    removed_ids -= set(store.documents.passage_ids().tolist())
    assert len(removed_ids) == 250
    store.vectors.sync("toy")
    assert dense.index is graph and dense.size == N + 250  # a tombstone per removed passage, no rebuild
    for q in vectors[:20]:  # the removed passages' own vectors: never found again
        assert not removed_ids & {h.passage_id for h in store.vectors.search("toy", q, 10)}
    assert not removed_ids & set(store.vectors.scores("toy", vectors[0], sorted(removed_ids)))
    assert _recall(store, queries) >= 0.98
    report = store.verify("toy")
    assert not report.problems, report.problems
    store.close()

    reopened = open_sqlite(tmp_path, hnsw_threshold=1000)  # saved with its tombstones, loaded as it was
    dense = reopened.vectors.dense("toy")
    assert dense.sync(reopened.vectors) is False and dense.kind == "hnsw" and dense.size == N + 250
    for q in vectors[:20]:
        assert not removed_ids & {h.passage_id for h in reopened.vectors.search("toy", q, 10)}
    with reopened.transaction() as tx:  # tombstones past a tenth of the graph: rebuilt without them
        tx.delete_document(2)
    assert dense.sync(reopened.vectors) and dense.rebuilt and dense.size == N and not len(dense.removed)
    assert not reopened.verify("toy").problems
    reopened.close()


def test_fusion_scores_come_from_the_index_in_memory_and_a_damaged_file_is_rebuilt(tmp_path):
    vectors = _clustered(1500, DIM, seed=5)
    store = open_sqlite(tmp_path, hnsw_threshold=1000)
    _fill(store, vectors, 0, 1500)
    store.vectors.sync("toy")
    ids = store.documents.passage_ids()
    q = vectors[7]
    reads = []
    original = store.vectors.passage_vectors
    store.vectors.passage_vectors = lambda *a, **kw: reads.append(a) or original(*a, **kw)
    scores = store.vectors.scores("toy", q, ids[:50].tolist() + [10 ** 9])
    assert reads == []  # no store read: the vectors came from the faiss index
    assert set(scores) == set(ids[:50].tolist())  # an unknown passage is absent
    stored = original("toy", ids[:50].tolist())
    assert np.allclose([scores[i] for i in stored.ids.tolist()], stored.vectors @ q, atol=1e-5)
    store.close()

    (tmp_path / "dense.faiss").write_bytes(b"not an index")  # damaged: rebuilt from the store, never trusted
    reopened = open_sqlite(tmp_path, hnsw_threshold=1000)
    assert reopened.vectors.search("toy", q, 1)[0].passage_id == int(ids[7])
    assert reopened.vectors.dense("toy").kind == "hnsw"
    reopened.close()
