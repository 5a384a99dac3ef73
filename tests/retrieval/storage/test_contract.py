"""The storage contract, run against both engines (SQLite in a temp dir, a real PostgreSQL 18 + pgvector
server from the session fixture): what a user of `Corpus` sees must not depend on the engine."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from retrieval import Corpus, Document, load_settings
from retrieval.errors import UserError
from retrieval.text.lexical import query_terms, terms
from retrieval.storage import BM25, NewDocument, NewPassage, open_storage
from retrieval.storage.migrate import migrate, open_target
from tests.conftest import SEED_ARTICLE
from tests.fakes.hash_embedder import HashEmbedder
from tests.retrieval.storage.engines import child, damage_lexical, damage_vector

TALKS = "Moscow was stopping peace treaty talks with Tokyo"
ENGINES = ("sqlite", "postgres")


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def where(engine, tmp_path, request) -> dict[str, str]:
    """Setting overrides that put a corpus on ``engine``."""
    if engine == "sqlite":
        return {"home": str(tmp_path / "index"), "database_url": ""}
    return {"home": str(tmp_path / "home"), "database_url": request.getfixturevalue("pg_url")}


@pytest.fixture
def open_corpus(make_corpus, where):
    def factory(model=None) -> Corpus:
        return make_corpus(Path(where["home"]), model=model, database_url=where["database_url"])
    return factory


def _env(where: dict[str, str]) -> dict[str, str]:
    return {"CITEBOT_HOME": where["home"], "CITEBOT_DATABASE_URL": where["database_url"]}


def _doc(n: int, words: str, **meta) -> Document:
    text = (f"Report {n} says {words}. The ministry confirmed report {n} on Monday. "
            f"Officials gave no further details about item {n}.")
    return Document(text=text, title=meta.pop("title", f"Report {n}"), path=meta.pop("path", f"/news/{n}.txt"), **meta)


def test_add_ask_and_duplicate(open_corpus):
    corpus = open_corpus()
    assert corpus.store.schema_version() >= 1
    [added] = corpus.add_paths([SEED_ARTICLE])
    assert added.status == "added" and added.passages > 0
    answer = corpus.ask("why did talks stop?")
    assert answer.answered
    assert TALKS in answer.citations[0].passage and "March 2022" in answer.answer
    generation = corpus.store.generation()
    [again] = corpus.add_paths([SEED_ARTICLE])
    assert (again.status, again.reason, again.duplicate_of) == ("duplicate", "duplicate", added.doc_id)
    assert corpus.store.counts().documents == 1
    assert corpus.store.generation() >= generation


def test_replace_and_remove(open_corpus):
    corpus = open_corpus(HashEmbedder())
    first = corpus.add_document(_doc(1, "the harbour froze", path="/news/a.txt"))
    g1 = corpus.store.generation()
    second = corpus.add_document(_doc(1, "the bridge reopened", path="/news/a.txt"))
    assert second.status == "replaced" and second.doc_id != first.doc_id
    assert corpus.store.generation() > g1
    assert [d.doc_id for d in corpus.documents()] == [second.doc_id]
    assert not corpus.search("harbour froze", mode="lexical")
    assert {h.doc_id for h in corpus.search("bridge reopened", mode="lexical")} == {second.doc_id}
    corpus.remove(second.doc_id)
    assert corpus.documents() == [] and corpus.store.counts().passages == 0
    assert corpus.search("bridge reopened", k=5) == []
    with pytest.raises(UserError):
        corpus.document(second.doc_id)
    assert corpus.verify().ok


def test_filters_on_both_search_paths(open_corpus):
    corpus = open_corpus(HashEmbedder())
    old = corpus.add_document(_doc(1, "grain exports resumed", date="2021-01-05", source="TASS")).doc_id
    new = corpus.add_document(_doc(2, "grain exports stalled", date="2022-03-10", source="Reuters")).doc_id
    undated = corpus.add_document(_doc(3, "grain exports doubled", source="TASS")).doc_id
    for mode in ("lexical", "dense", "hybrid"):
        def ids(**f):
            return {h.doc_id for h in corpus.search("grain exports", k=10, mode=mode, **f)}
        assert ids() == {old, new, undated}, mode
        assert ids(since="2022-01-01") == {new}, mode
        assert ids(until="2021-12-31") == {old}, mode  # the undated document never passes a date filter
        assert ids(source="tass") == {old, undated}, mode
        assert ids(source="TASS", since="2022-01-01") == set(), mode


def test_a_filtered_search_follows_adds_and_removals_made_anywhere(open_corpus):
    """Which passages a filter admits is kept between searches (each filtered search asks for it), but
    only for one store generation: what another process (here another corpus on the same store) or this
    one adds or removes is in, or out of, the very next filtered search."""
    reader, writer = open_corpus(HashEmbedder()), open_corpus(HashEmbedder())
    first = reader.add_document(_doc(1, "grain exports resumed", date="2022-02-01")).doc_id
    assert reader.store.lexical.warm()  # as a server runs: the in-memory lexical copy answers, filters too

    def ids(mode: str) -> set[int]:
        return {h.doc_id for h in reader.search("grain exports", k=10, mode=mode, since="2022-01-01")}

    modes = ("lexical", "dense", "hybrid")
    assert all(ids(m) == {first} for m in modes)
    second = writer.add_document(_doc(2, "grain exports stalled", date="2022-03-01")).doc_id
    assert all(ids(m) == {first, second} for m in modes)
    writer.remove(first)
    assert all(ids(m) == {second} for m in modes)
    third = reader.add_document(_doc(3, "grain exports doubled", date="2023-01-09")).doc_id
    assert all(ids(m) == {second, third} for m in modes)


def test_reindex_embeds_answer_sentences_missing_for_the_model_so_ask_embeds_only_the_question(open_corpus):
    from retrieval.answer import sentence_texts
    from retrieval.types import text_hash

    corpus = open_corpus()
    corpus.add_paths([SEED_ARTICLE])
    store, model = corpus.store, corpus.embedder.name
    rows = store.documents.passages(store.documents.passage_ids().tolist()).values()
    sentences = {t for r in rows for t in sentence_texts(r.text, r.start, r.sentences)}
    # as after a switch to another model: the answer sentences have no vector for it yet
    store.embeddings.delete(model, [text_hash(t) for t in sentences], keep_used=False)
    result = corpus.reindex()
    assert result["sentences"] == len(sentences) and result["embedded"] == 0
    assert corpus.reindex()["sentences"] == 0  # a second run finds them all
    corpus.embedder.passage_texts.clear()
    answer = corpus.ask("why did talks stop?")
    assert answer.answered and TALKS in answer.answer
    assert corpus.embedder.passage_texts == []  # no sentence embedded at question time


def test_verify_finds_and_repairs_damage(open_corpus):
    corpus = open_corpus()
    corpus.add_paths([SEED_ARTICLE])
    assert corpus.verify().ok
    passages = corpus.store.documents.passages(corpus.store.documents.passage_ids().tolist())
    first, last = min(passages), max(passages)
    damage_lexical(corpus.store, first)
    damage_vector(corpus.store, corpus.embedder.name, passages[last].embed_hash)
    report = corpus.verify()
    assert not report.ok
    text = " ".join(report.problems)
    assert "lexical" in text and ("vector" in text or "embedding" in text), report.problems
    repaired = corpus.verify(repair=True)
    assert repaired.ok, repaired.problems
    assert repaired.repairs
    assert corpus.verify().ok
    answer = corpus.ask("why did talks stop?")
    assert answer.answered and TALKS in answer.citations[0].passage


_WRITER_IN_TRANSACTION = """
import sys, time
from retrieval import Document, load_settings
from retrieval.text.lexical import terms
from retrieval.storage import NewDocument, NewPassage, open_storage
store = open_storage(load_settings())
text = "A document that must never be half written. It has two passages of text."
with store.transaction() as tx:
    tx.insert_document(NewDocument(Document(text, title="Killed", path="/killed"), content_hash="killed-doc",
        title_terms=terms("Killed"), passages=[NewPassage(i, 0, len(text), text, "killed-%d" % i, [(0, len(text))], terms(text)) for i in range(2)]))
    print("inside", flush=True)
    time.sleep(120)
"""

_ADDER = """
import sys
from retrieval import Corpus, Document, load_settings
from tests.fakes.hash_embedder import HashEmbedder
corpus = Corpus(load_settings(), embedder=HashEmbedder())
first, count, shared = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
numbers = list(range(shared)) + list(range(first, first + count))
for n in numbers:
    text = (f"Report {n} says the grain deal was extended. The ministry confirmed report {n} on Monday. "
            f"Officials gave no further details about item {n}.")
    r = corpus.add_document(Document(text=text, title=f"Report {n}", path=f"/news/{n}.txt"))
    print(r.status, r.doc_id, r.passages, flush=True)
corpus.close()
"""


def _adder(where: dict[str, str], first: int, count: int, shared: int = 0):
    code = "import sys; sys.argv = ['x', '%d', '%d', '%d']\n" % (first, count, shared) + _ADDER
    return child(code, _env(where))


def test_killed_writer_leaves_nothing_half_written(open_corpus, where):
    corpus = open_corpus(HashEmbedder())
    corpus.add_document(_doc(1, "the harbour froze"))
    before = corpus.store.counts()
    proc = child(_WRITER_IN_TRANSACTION, _env(where))
    try:
        line = proc.stdout.readline()
        assert line.strip() == "inside", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)  # mid-transaction: its document is inserted but not committed
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert corpus.store.documents.find(content_hash="killed-doc") is None
    assert corpus.store.counts().passages == before.passages
    # the killed writer's lock is gone: the next write goes through at once
    started = time.monotonic()
    assert corpus.add_document(_doc(2, "the bridge reopened")).status == "added"
    assert time.monotonic() - started < 20
    assert corpus.verify().ok

    # a real ingest killed at some point: every document is wholly there or wholly absent
    proc = _adder(where, 100, 40)
    seen = [proc.stdout.readline() for _ in range(3)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert all(s.startswith("added") for s in seen), seen
    infos = corpus.documents()
    expected = corpus.add_document(_doc(99, "grain deal")).passages  # same shape of text: same passage count
    assert all(i.passages == expected for i in infos if i.title.startswith("Report 1")), infos
    assert len(infos) >= 2 + 3
    report = corpus.verify()
    assert report.ok, report.problems


def test_two_writers_at_once_both_finish(open_corpus, where):
    corpus = open_corpus(HashEmbedder())
    procs = [_adder(where, 1000, 12, shared=3), _adder(where, 2000, 12, shared=3)]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        outputs.append([line.split() for line in out.splitlines()])
    statuses = [s for out in outputs for s, *_ in out]
    # the 3 shared texts are stored once; the loser of each race sees a duplicate (or, when the other
    # process committed between its two checks, a near-duplicate of the same text)
    assert statuses.count("added") == 12 + 12 + 3
    assert statuses.count("duplicate") + statuses.count("near-duplicate") == 3
    assert corpus.store.counts().documents == 27
    ids = [int(i) for out in outputs for s, i, _ in out if s == "added"]
    assert len(set(ids)) == 27  # no id handed out twice, no write lost
    assert corpus.store.generation() >= 27
    assert corpus.verify().ok


def test_migrate_both_ways_without_embedding(make_corpus, tmp_path, pg_url):
    source = make_corpus(tmp_path / "sq1")
    source.add_paths([SEED_ARTICLE])
    source.add_document(_doc(7, "the central bank kept its key rate", date="2023-05-02", source="Reuters"))
    question = "why did talks stop?"
    before = source.ask(question)
    assert before.answered
    docs_before = [(d.doc_id, d.title, d.passages, d.content_hash) for d in source.documents()]
    settings = load_settings(env={})

    hops = [(tmp_path / "sq1", ""), (tmp_path / "h2", pg_url), (tmp_path / "sq3", "")]
    for (src_home, src_url), (dst_home, dst_url) in zip(hops, hops[1:]):
        src = open_storage(settings.replace(home=str(src_home)), url=src_url)
        dst = open_target(dst_url or str(dst_home), settings)
        report = migrate(src, dst)
        src.close()
        dst.close()
        assert (report.copied, report.skipped) == (2, 0)
        moved = make_corpus(dst_home, database_url=dst_url)
        assert moved.store.engine == ("postgresql" if dst_url else "sqlite")
        assert [(d.doc_id, d.title, d.passages, d.content_hash) for d in moved.documents()] == docs_before
        answer = moved.ask(question)
        # passages and sentences: every vector came along; the question's vector lives in each process's
        # memory (asking writes nothing), so it alone is embedded again
        assert moved.embedder.passage_texts == [] and moved.embedder.query_texts == [question]
        assert answer.answer == before.answer
        assert [c.passage_id for c in answer.citations] == [c.passage_id for c in before.citations]
        assert {h.doc_id for h in moved.search("key rate", k=3, source="reuters")} == {docs_before[1][0]}
        assert moved.verify().ok


_MIGRATOR = """
import sys, time
from retrieval import load_settings
from retrieval.storage import open_storage
from retrieval.storage import migrate as m
settings = load_settings()
src = open_storage(settings, url="")
dst = m.open_target(sys.argv[1], settings)
def slow(report):
    print("copied", report.copied, flush=True)
    time.sleep(0.5)
m.migrate(src, dst, slow)
"""


def test_a_killed_migration_resumes(make_corpus, tmp_path, pg_url):
    source = make_corpus(tmp_path / "src", model=HashEmbedder())
    for n in range(8):
        source.add_document(_doc(n, f"story number {n}"))
    source.close()
    code = "import sys; sys.argv = ['x', %r]\n" % pg_url + _MIGRATOR
    proc = child(code, {"CITEBOT_HOME": str(tmp_path / "src"), "CITEBOT_DATABASE_URL": ""})
    try:
        for _ in range(3):
            assert proc.stdout.readline().startswith("copied"), proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    settings = load_settings(env={})
    src = open_storage(settings.replace(home=str(tmp_path / "src")), url="")
    dst = open_target(pg_url, settings)
    partial = dst.counts().documents
    assert 3 <= partial < 8
    report = migrate(src, dst)
    assert (report.copied, report.skipped) == (8 - partial, partial)
    assert dst.counts().documents == 8 and dst.counts().passages == src.counts().passages
    src.close()
    dst.close()
    moved = make_corpus(tmp_path / "h", model=HashEmbedder(), database_url=pg_url)
    assert moved.verify().ok
    assert moved.embedder.calls == 0
