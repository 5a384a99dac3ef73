"""The SQLite engine: an index written by the previous release opens and answers unchanged, migrations are
numbered, vectors are little-endian, a failed transaction leaves nothing, and the compressed faiss index
re-scores its candidates exactly."""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.errors import UserError
from retrieval.text.lexical import query_terms, terms
from retrieval.storage import NewDocument, NewPassage, SearchFilters, open_storage
from retrieval.storage import open_sqlite
from retrieval.storage.migrations import TABLE
from retrieval.storage.sqlite import MIGRATIONS, SCHEMA_VERSION, STORE_FILE
from retrieval.storage.vectors.dense import DenseIndex

from retrieval import Document, load_settings

V1_INDEX = Path(__file__).parent / "data" / "v1-index"
TALKS = "Moscow was stopping peace treaty talks with Tokyo"


@pytest.mark.quality  # the old index holds the real default model's vectors
def test_index_written_by_the_previous_release_opens_and_answers(tmp_path, make_corpus):
    """tests/retrieval/storage/data/v1-index was written by the code before the storage interface (see
    make_v1_index.py next to it): it must open, answer citing the March 2022 sentence, and embed nothing
    but the question, without being rewritten."""
    home = tmp_path / "v1"
    shutil.copytree(V1_INDEX, home)
    before = (home / STORE_FILE).read_bytes()
    corpus = make_corpus(home)
    assert corpus.store.schema_version() == 1
    answer = corpus.ask("why did talks stop?")
    assert answer.answered
    assert TALKS in answer.citations[0].passage and "March 2022" in answer.answer
    assert corpus.embedder.passage_texts == []  # every passage and sentence vector came from the old store
    assert [d.title for d in corpus.documents()][1] == "Central bank keeps rate unchanged"
    assert {h.source for h in corpus.search("bank rate", k=5, source="reuters")} == {"Reuters"}
    assert corpus.verify().ok
    stamp = json.loads((home / "dense.json").read_text())
    assert stamp["generation"] == corpus.store.generation() == 1  # the old faiss file was current: kept
    corpus.close()
    with sqlite3.connect(home / STORE_FILE) as db:  # the old tables, untouched apart from new cache rows
        assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 2
    assert len((home / STORE_FILE).read_bytes()) >= len(before) - 4096


def test_migrations_are_numbered_and_a_newer_schema_is_refused(tmp_path):
    assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    store = open_sqlite(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION and store.generation() == 0
    store.close()
    with sqlite3.connect(tmp_path / STORE_FILE) as db:  # releases before the runner read it: kept in step
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    with sqlite3.connect(tmp_path / STORE_FILE) as db:  # as a newer citebot would record its migration
        db.execute(f"INSERT INTO {TABLE} VALUES ('corpus', {SCHEMA_VERSION + 1}, 'later')")
    with pytest.raises(UserError, match="newer citebot"):
        open_sqlite(tmp_path)


def _doc(text: str, title: str = "T", **kw) -> NewDocument:
    from retrieval.types import text_hash

    passages = [NewPassage(i, 0, len(p), p, text_hash(f"{title}\n{p}"), [(0, len(p))], terms(p))
                for i, p in enumerate(text.split("\n\n"))]
    return NewDocument(Document(text, title=title, lang="en", **kw), content_hash=text_hash(text),
                       title_terms=terms(title), passages=passages)


def test_vectors_are_stored_little_endian_and_read_back(tmp_path):
    store = open_sqlite(tmp_path)
    vector = np.array([0.6, -0.8, 0.0], dtype=">f4")  # big-endian input: stored as '<f4' all the same
    store.embeddings.put("m", {"h": vector})
    (blob,) = sqlite3.connect(tmp_path / STORE_FILE).execute("SELECT vector FROM embeddings").fetchone()
    assert blob == np.array([0.6, -0.8, 0.0], dtype="<f4").tobytes()
    assert np.array_equal(store.embeddings.cached("m", ["h"])["h"], vector.astype(np.float32))
    assert store.generation() == 0  # the embedding cache does not move the generation
    store.close()


def test_open_storage_chooses_the_engine_from_the_url(tmp_path):
    settings = load_settings(env={}).replace(home=str(tmp_path))
    store = open_storage(settings)
    assert store.engine == "sqlite" and store.location == str(tmp_path / STORE_FILE)
    store.close()
    with pytest.raises(UserError, match="unsupported database"):
        open_storage(settings, url="mysql://localhost/x")


def test_postgres_without_its_driver_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    settings = load_settings(env={"CITEBOT_DATABASE_URL": "postgresql://localhost/citebot"}).replace(home=str(tmp_path))
    with pytest.raises(ImportError) as raised:
        open_storage(settings)
    assert isinstance(raised.value, UserError) and "pip install 'citebot[postgres]'" in str(raised.value)
    assert "\n" not in str(raised.value)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors shaped like passage embeddings: topics, stories within topics, passages near their
    story (cosine ~0.75). Uniform noise would not be: real neighbours are much closer than random."""
    rng = np.random.default_rng(seed)
    topics = _unit(rng.standard_normal((max(1, n // 40), dim)))
    stories = _unit(topics[rng.integers(0, len(topics), 4 * len(topics))]
                    + 0.8 * _unit(rng.standard_normal((4 * len(topics), dim))))
    return _unit(stories[rng.integers(0, len(stories), n)] + 0.9 * _unit(rng.standard_normal((n, dim))))


def _questions(vectors: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Query vectors near random passages (cosine ~0.7), as a question is near its answer."""
    rng = np.random.default_rng(seed)
    picked = vectors[rng.integers(0, len(vectors), n)]
    return _unit(picked + _unit(rng.standard_normal(picked.shape)))


def test_compressed_index_rescoring_keeps_recall_and_exact_scores(tmp_path):
    """Above the threshold the faiss index is IVF + 8-bit scalar quantisation; its candidates are re-scored
    from the stored vectors, so recall@10 against exact search stays >= 0.98 and scores are exact cosines."""
    store = open_sqlite(tmp_path, ann_threshold=1000)
    n, dim = 6000, 64
    vectors = _clustered(n, dim, seed=1)
    with store.transaction() as tx:
        for start in range(0, n, 500):
            text = "\n\n".join(f"passage {i}" for i in range(start, start + 500))
            tx.insert_document(_doc(text, title=f"doc {start}"))
    rows = store.documents.passages(store.documents.passage_ids().tolist())
    store.embeddings.put("toy", {r.embed_hash: vectors[int(r.text.split()[1])] for r in rows.values()})
    ids = store.documents.passage_ids()
    assert store.vectors.sync("toy") and store.vectors.dense("toy").kind == "ivf-sq8"
    matrix = store.vectors.passage_vectors("toy").vectors
    queries = _questions(vectors, 50, seed=2)
    recall = []
    for q in queries:
        exact = ids[np.argsort(-(matrix @ q))[:10]]
        found = store.vectors.search("toy", q, 10)
        recall.append(len(set(exact.tolist()) & {h.passage_id for h in found}) / 10)
        for hit in found:
            assert hit.score == pytest.approx(float(matrix[np.searchsorted(ids, hit.passage_id)] @ q), abs=1e-5)
    assert np.mean(recall) >= 0.98
    store.close()
    reopened = open_sqlite(tmp_path, ann_threshold=1000)  # the compressed file is saved and loaded back
    assert reopened.vectors.dense("toy").sync(reopened.vectors) is False and reopened.vectors.dense("toy").kind == "ivf-sq8"
    reopened.close()


def test_dense_index_is_small_for_a_compressed_corpus(tmp_path):
    """8-bit codes: the saved faiss file is about a quarter of the float32 vectors it indexes."""
    index = DenseIndex(tmp_path, "toy", ann_threshold=10)
    store = open_sqlite(tmp_path, ann_threshold=10)
    with store.transaction() as tx:
        tx.insert_document(_doc("\n\n".join(f"passage {i}" for i in range(3000)), title="many"))
    rows = store.documents.passages(store.documents.passage_ids().tolist())
    vectors = _clustered(3000, 128, seed=3)
    store.embeddings.put("toy", {r.embed_hash: vectors[int(r.text.split()[1])] for r in rows.values()})
    index.sync(store.vectors)
    assert index.kind == "ivf-sq8"
    assert (tmp_path / "dense.faiss").stat().st_size < 0.4 * vectors.nbytes
    store.close()
