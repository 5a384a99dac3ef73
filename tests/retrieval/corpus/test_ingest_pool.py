"""A large add embedding in worker processes stores what one process stores (issue 24, ingest on both
cores): the same vectors under the same text hashes, the same documents and passages, the same result for
every input document, duplicates and near-duplicates across batches included, and the adding process
embeds nothing itself."""
from __future__ import annotations

from dataclasses import replace

from retrieval import Corpus, load_settings
from tests.fakes.hash_embedder import PoolHashEmbedder
from tests.retrieval.corpus.test_corpus import _upload


def _documents():
    docs = _upload(700)  # 70 documents of 10 passages: batches of 26 documents (256 passages or more)
    # the same text and a near-duplicate of documents in the batch before theirs, which is still being
    # embedded when theirs is prepared
    docs.append(replace(docs[40], title="Upload 40 again"))
    near = docs[45].text.rsplit("\n\n", 1)[0] + "\n\nA closing paragraph added by another edition of the story."
    docs.append(replace(docs[45], text=near, title="Upload 45, another edition"))
    return docs


def _add(tmp_path, name: str, workers: int):
    embedder = PoolHashEmbedder()
    settings = load_settings(env={}).replace(home=str(tmp_path / name), ingest_workers=workers)
    corpus = Corpus(settings, embedder=embedder)
    results = list(corpus.add_documents(_documents()))
    rows = []
    after = ("", "")
    while batch := corpus.store.embeddings.export(after=after, limit=1000):
        rows.extend(batch)
        after = (batch[-1].model, batch[-1].text_hash)
    passages = corpus.store.documents.passages(corpus.store.documents.passage_ids().tolist())
    hits = corpus.search("Upload 42", k=3, mode="lexical")
    corpus.close()
    return embedder, results, rows, passages, hits


def test_pooled_add_stores_the_same_vectors_and_results_as_one_process(tmp_path):
    one_embedder, one_results, one_rows, one_passages, one_hits = _add(tmp_path, "one", workers=1)
    pool_embedder, pool_results, pool_rows, pool_passages, pool_hits = _add(tmp_path, "pool", workers=2)
    assert one_embedder.calls > 0 and pool_embedder.calls == 0  # the workers embedded, not the adding process
    assert [(r.status, r.doc_id, r.duplicate_of, r.message) for r in pool_results] == \
        [(r.status, r.doc_id, r.duplicate_of, r.message) for r in one_results]
    assert [r.status for r in pool_results[-2:]] == ["duplicate", "near-duplicate"]
    one = {(r.model, r.text_hash): r.vector.tobytes() for r in one_rows}
    pooled = {(r.model, r.text_hash): r.vector.tobytes() for r in pool_rows}
    assert len(one) >= 700 * 2  # passage and answer-sentence vectors
    assert {key: pooled.get(key) for key in one} == one  # every vector, byte for byte
    # beyond them, at most the vectors of the two refused documents (embedded before the batch holding the
    # documents they repeat was written; the cache keeps them, as it keeps a removed document's)
    assert len(set(pooled) - set(one)) <= 2 * 11
    assert {i: (p.doc_id, p.text) for i, p in pool_passages.items()} == \
        {i: (p.doc_id, p.text) for i, p in one_passages.items()}
    assert [h.passage_id for h in pool_hits] == [h.passage_id for h in one_hits] != []
