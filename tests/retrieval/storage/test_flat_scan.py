"""The SQLite engine's exact (flat) dense search, which scans an 8-bit copy of the vectors and re-scores
its candidates from the float32 ones (issue 24): the results must be exact search's, in exact search's
order, with exact cosines, and follow every add and removal at once, even for passages too alike for
8 bits to tell apart."""
from __future__ import annotations

import numpy as np

from retrieval.storage import open_sqlite
from tests.retrieval.storage.test_hnsw import _fill
from tests.retrieval.storage.test_sqlite import _clustered, _questions

N, DIM = 3000, 64


def _exact(store, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Brute force over the stored float32 vectors: best first, lower passage id first among equals."""
    batch = store.vectors.passage_vectors("toy")
    scores = batch.vectors @ query
    order = np.lexsort((batch.ids, -scores))[:k]
    return [(int(batch.ids[i]), float(scores[i])) for i in order]


def _found(store, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    return [(h.passage_id, h.score) for h in store.vectors.search("toy", query, k)]


def test_flat_search_is_exact_search_and_follows_adds_and_removals(tmp_path):
    vectors = _clustered(N + 300, DIM, seed=5)
    store = open_sqlite(tmp_path)
    _fill(store, vectors, 0, N)
    store.vectors.sync("toy")
    dense = store.vectors.dense("toy")
    assert dense.kind == "flat"
    for q in _questions(vectors[:N], 40, seed=6):
        for k in (1, 10, 100):
            found, exact = _found(store, q, k), _exact(store, q, k)
            assert [p for p, _ in found] == [p for p, _ in exact]
            np.testing.assert_allclose([s for _, s in found], [s for _, s in exact], rtol=0, atol=1e-6)
    assert dense._scan is not None  # the 8-bit scan answered (white box: both paths must be exact)

    codes = dense._scan.codes
    _fill(store, vectors, N, N + 300)  # new passages are found at once (a stale 8-bit copy would miss them)
    store.vectors.sync("toy")
    ids = store.documents.passage_ids()
    for row in (N + 7, N + 299):
        assert _found(store, vectors[row], 1)[0][0] == int(ids[row])
    for q in _questions(vectors[N - 100:N + 300], 20, seed=12):
        assert _found(store, q, 10) == _exact(store, q, 10)
    assert dense._scan.codes is codes  # an add extended the copy rather than making it again
    removed = set(ids[:250].tolist())  # the first document
    with store.transaction() as tx:
        tx.delete_document(1)
    store.vectors.sync("toy")
    for q in vectors[:20]:  # the removed passages' own vectors: never found again
        assert not removed & {p for p, _ in _found(store, q, 10)}
    q = _questions(vectors[250:], 1, seed=7)[0]
    assert _found(store, q, 50) == _exact(store, q, 50)
    store.close()


def test_vectors_8_bits_cannot_tell_apart_are_ranked_by_their_exact_cosines(tmp_path):
    """Two near-identical passages (a wire story and its lightly edited copy) round to the same float16
    (so also 8-bit) vector; the exact re-scoring still puts the closer one first, with its own score."""
    rng = np.random.default_rng(8)
    query = rng.standard_normal(DIM).astype(np.float32)
    query /= np.linalg.norm(query)
    base = query + 0.3 * rng.standard_normal(DIM).astype(np.float32)
    base /= np.linalg.norm(base)
    nudged = base + 2e-5 * query  # closer to the question, by less than float16 resolves
    nudged /= np.linalg.norm(nudged)
    assert np.array_equal(base.astype(np.float16), nudged.astype(np.float16))
    assert float(nudged @ query) > float(base @ query)
    vectors = _clustered(500, DIM, seed=9)
    vectors[10], vectors[400] = nudged, base  # the closer one gets the higher passage id
    store = open_sqlite(tmp_path)
    _fill(store, vectors, 0, 500)
    store.vectors.sync("toy")
    ids = store.documents.passage_ids()
    top = _found(store, query, 2)
    assert [p for p, _ in top] == [int(ids[10]), int(ids[400])] and top[0][1] > top[1][1]
    assert top == _exact(store, query, 2)
    store.close()



def test_many_passages_too_alike_for_8_bits_still_give_the_exact_top(tmp_path):
    """600 copies of one story, each edited a little (differences far below 8-bit resolution): the 8-bit
    scan cannot tell which 110 are closest, so it cannot prove its candidates hold the exact top 10, and
    the search must scan the float32 vectors rather than return the 8-bit scan's guess."""
    rng = np.random.default_rng(11)
    base = rng.standard_normal(DIM).astype(np.float32)
    vectors = base + 1e-4 * rng.standard_normal((600, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = open_sqlite(tmp_path)
    _fill(store, vectors, 0, 600)
    store.vectors.sync("toy")
    for seed in range(5):
        q = base + 0.5 * np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        for k in (1, 10):
            assert _found(store, q, k) == _exact(store, q, k)
    store.close()


def test_passages_outside_the_copys_range_are_still_found_exactly(tmp_path):
    """The 8-bit copy's range is fixed by the vectors it was made from; passages added later whose
    components lie far outside it (another model's scale, a damaged vector) are clipped in the copy.
    Searches stay exact, and the copy is made again over the wider range rather than kept imprecise."""
    vectors = _clustered(1200, DIM, seed=13)
    store = open_sqlite(tmp_path)
    _fill(store, vectors, 0, 1000)
    store.vectors.sync("toy")
    dense = store.vectors.dense("toy")
    q = _questions(vectors[:1000], 1, seed=14)[0]
    assert _found(store, q, 10) == _exact(store, q, 10)
    trained = dense._scan.trained
    vectors[1000:] *= 3.0  # components three times the range the copy was made for
    _fill(store, vectors, 1000, 1200)
    store.vectors.sync("toy")
    for q in _questions(vectors[1000:], 10, seed=15):
        assert _found(store, q, 10) == _exact(store, q, 10)
    assert dense._scan.error <= 1.5 * dense._scan.trained and dense._scan.trained > trained
    store.close()
