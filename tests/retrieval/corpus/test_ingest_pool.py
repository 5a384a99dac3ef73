"""A large add embedding in worker processes stores what one process stores (issue 24, ingest on both
cores): the same vectors under the same text hashes, the same documents and passages, the same result for
every input document, duplicates and near-duplicates across batches included, and the adding process
embeds nothing itself. The three ways of starting workers are checked: forked from the adding process,
sharing its one loaded model (a ``fork_safe`` backend such as USE multilingual, the adding process running
one thread: `citebot add`); forked from one spawned loader, sharing its model (the same backend, the adding
process running other threads: the bot, a parallel sync); spawned, each loading its own (e5-small)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import replace

import psutil
import pytest

from retrieval import Corpus, load_settings
from tests.conftest import ROOT, SEED_ARTICLE
from tests.fakes.hash_embedder import BrokenPoolHashEmbedder, LoadCountingPoolHashEmbedder, PoolHashEmbedder
from tests.retrieval.corpus.test_corpus import _upload
from tests.retrieval.corpus.test_read_path import ask_while_a_commit_is_held


def _documents():
    docs = _upload(700)  # 70 documents of 10 passages: batches of 26 documents (256 passages or more)
    # the same text and a near-duplicate of documents in the batch before theirs, which is still being
    # embedded when theirs is prepared
    docs.append(replace(docs[40], title="Upload 40 again"))
    near = docs[45].text.rsplit("\n\n", 1)[0] + "\n\nA closing paragraph added by another edition of the story."
    docs.append(replace(docs[45], text=near, title="Upload 45, another edition"))
    return docs


MODES = ("forked", "loader", "spawned")
START = pytest.mark.parametrize("mode", MODES)


@contextmanager
def started(mode: str, embedder):
    """Make the next pooled add start its workers the ``mode`` way: ``spawned`` for a backend that is not
    ``fork_safe``; ``loader`` while this process runs another thread (the pool may not fork here then)."""
    embedder.fork_safe = mode != "spawned"
    done = threading.Event()
    other = threading.Thread(target=done.wait, name="another-thread")
    if mode == "loader":
        other.start()
    try:
        yield embedder
    finally:
        done.set()
        if other.is_alive():
            other.join()


def _notes(log) -> list[tuple[str, int]]:
    """(what, pid) of every model load and every embedding LoadCountingHashEmbedder wrote down."""
    return [(what, int(pid)) for what, pid in (line.split() for line in log.read_text().splitlines())]


def _add(tmp_path, name: str, workers: int, mode: str = "forked"):
    settings = load_settings(env={}).replace(home=str(tmp_path / name), ingest_workers=workers)
    with started(mode, PoolHashEmbedder()) as embedder:
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


@START
def test_pooled_add_stores_the_same_vectors_and_results_as_one_process(tmp_path, mode):
    one_embedder, one_results, one_rows, one_passages, one_hits = _add(tmp_path, "one", workers=1)
    pool_embedder, pool_results, pool_rows, pool_passages, pool_hits = _add(tmp_path, "pool", workers=2, mode=mode)
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


KILLED_ADD = r"""
import signal
import sys
# as a command run from a terminal has it, even when the tests run in a background job (which ignores SIGINT,
# and a child inherits that)
signal.signal(signal.SIGINT, signal.default_int_handler)
from retrieval import Corpus, load_settings
from tests.fakes.hash_embedder import BallastPoolHashEmbedder, SlowPoolHashEmbedder
from tests.retrieval.corpus.test_corpus import TALKS, _upload
from tests.retrieval.corpus.test_ingest_pool import started

model = BallastPoolHashEmbedder(int(sys.argv[3])) if len(sys.argv) > 3 else SlowPoolHashEmbedder()
with started(sys.argv[2], model) as embedder:
    corpus = Corpus(load_settings(env={}).replace(home=sys.argv[1], ingest_workers=2), embedder=embedder)
    for result in corpus.add_documents(_upload(700)):
        print(result.status, flush=True)
"""


@pytest.mark.parametrize("mode,stop", [(m, "SIGKILL") for m in MODES] + [(m, "Ctrl-C") for m in MODES[:2]])
def test_a_killed_pooled_add_leaves_whole_documents_and_no_worker_behind(tmp_path, mode, stop):
    home = tmp_path / "index"
    child = subprocess.Popen([sys.executable, "-c", KILLED_ADD, str(home), mode], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                             text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert child.stdout.readline().strip() == "added"  # a first batch is committed, later ones are embedding
        workers = psutil.Process(child.pid).children(recursive=True)  # a loader's siblings are its children
        assert len(workers) == 2
        # a worker holds nothing of the corpus open (a forked one closed what it inherited)
        assert [f.path for w in workers for f in w.open_files() if str(home) in f.path] == []
        if stop == "SIGKILL":
            child.kill()
        else:  # what a terminal sends: SIGINT to its foreground process group (the workers are in sessions of their own)
            os.killpg(child.pid, signal.SIGINT)
        assert child.wait(30) != 0
    finally:
        child.kill()
    gone, alive = psutil.wait_procs(workers, timeout=20)
    assert alive == []  # the workers saw their pipe close, or were killed with their parent
    corpus = Corpus(load_settings(env={}).replace(home=str(home), ingest_workers=1), embedder=PoolHashEmbedder())
    stored = corpus.documents()
    assert 0 < len(stored) < 70 and all(d.passages == 10 for d in stored)  # whole documents only
    assert corpus.verify().problems == []
    results = list(corpus.add_documents(_upload(700)))  # the rerun adds the rest
    assert sorted(r.status for r in results) == ["added"] * (70 - len(stored)) + ["duplicate"] * len(stored)
    assert corpus.store.counts().passages == 700
    corpus.close()


def _memory(pid: int) -> dict[str, float]:
    """A process's totals from /proc/PID/smaps_rollup, in MB."""
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
        rows = [line.split() for line in rollup]
    return {row[0].rstrip(":"): int(row[1]) / 1024 for row in rows if len(row) == 3 and row[2] == "kB"}


@START
def test_forked_workers_share_the_pages_of_the_model_instead_of_copying_them(tmp_path, mode):
    """The model's weights (here 64 MB written at load) sit once in memory: in a forked worker they are
    pages shared with the process it was forked from, not pages of its own; a spawned worker holds its own."""
    ballast = 64
    child = subprocess.Popen([sys.executable, "-c", KILLED_ADD, str(tmp_path / "index"), mode, str(ballast)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert child.stdout.readline().strip() == "added"  # the workers are embedding the next batches
        workers = psutil.Process(child.pid).children(recursive=True)
        memory = [_memory(w.pid) for w in workers]
    finally:
        child.kill()
        child.wait(30)
    assert len(memory) == 2
    for rollup in memory:
        assert rollup["Rss"] > ballast  # the weights are there
        private = rollup["Private_Dirty"] + rollup["Private_Clean"]
        if mode == "spawned":
            assert private > ballast  # a copy of its own
        else:
            assert private < ballast / 2 and rollup["Shared_Dirty"] > ballast  # the one copy, shared


@START
@pytest.mark.parametrize("refuse", [True, False], ids=["model-refuses-texts", "model-never-loads"])
def test_texts_a_failing_worker_had_are_embedded_by_the_adding_process(tmp_path, refuse, mode):
    with started(mode, BrokenPoolHashEmbedder(refuse)) as embedder:
        corpus = Corpus(load_settings(env={}).replace(home=str(tmp_path / "index"), ingest_workers=2), embedder=embedder)
        results = list(corpus.add_documents(_upload(600)))
    assert [r.status for r in results] == ["added"] * 60
    assert embedder.calls >= 600 * 2  # every passage and answer sentence, embedded here instead
    assert corpus.verify().problems == []
    assert corpus.store.counts().passages == 600
    corpus.close()


@pytest.mark.parametrize("mode", ["forked", "loader"])
def test_a_question_is_answered_while_a_pooled_add_holds_its_write_transaction(tmp_path, mode):
    log = tmp_path / "models.log"
    corpus = Corpus(load_settings(env={}).replace(home=str(tmp_path / "index"), ingest_workers=2),
                    embedder=LoadCountingPoolHashEmbedder(str(log)))
    assert corpus.add_paths([SEED_ARTICLE])[0].status == "added"
    corpus.ask("warm up the model and the index")
    # the second batch's documents are inserted, not committed, while the third batch embeds; adding in
    # this thread, the pool forks (one thread until the question); adding in another, a loader forks
    _, results = ask_while_a_commit_is_held(corpus, _upload(700), commit=2, add_here=mode == "forked")
    assert [r.status for r in results] == ["added"] * 70
    corpus.close()
    loads = [pid for what, pid in _notes(log) if what == "load"]
    assert len(loads) == 1 and (loads == [os.getpid()]) == (mode == "forked")  # one model, loaded here or in the loader


@START
def test_workers_share_one_model_unless_the_backend_forbids_it(tmp_path, mode):
    """Forked workers embed with the one model the adding process (or their loader) loaded; spawned workers
    each load their own. The fake model writes down the process of every load and every embedding."""
    log = tmp_path / "models.log"
    with started(mode, LoadCountingPoolHashEmbedder(str(log))) as embedder:
        corpus = Corpus(load_settings(env={}).replace(home=str(tmp_path / "index"), ingest_workers=2), embedder=embedder)
        results = list(corpus.add_documents(_upload(700)))
    assert [r.status for r in results] == ["added"] * 70 and embedder.calls == 0  # the workers embedded everything
    assert corpus.verify().problems == []
    corpus.close()
    loads = [pid for what, pid in _notes(log) if what == "load"]
    embedding = {pid for what, pid in _notes(log) if what == "encode"} - {os.getpid()}  # minus a warm-up here
    assert embedding and os.getpid() not in embedding  # other processes embedded the passages
    if mode == "forked":
        assert loads == [os.getpid()]  # loaded once, here: no worker loaded a model of its own
    elif mode == "loader":
        assert len(loads) == 1 and loads[0] in embedding  # loaded once, by the loader, which embeds too
    else:
        assert len(loads) == 2 and set(loads) == embedding  # each worker loaded its own copy
