"""Nothing is written on the read path: asking keeps question vectors in memory, never in the store, and a
question is answered while another thread holds a large add's write transaction open (issue 24)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from tests.conftest import SEED_ARTICLE
from tests.retrieval.corpus.test_corpus import TALKS, _upload


def _count_writes(corpus) -> list[str]:
    """Every write transaction the store's connection opens, recorded (the caller's thread name)."""
    database = corpus.store.database
    opened: list[str] = []
    original = database.write

    @contextmanager
    def write(*args, **kwargs):
        opened.append(threading.current_thread().name)
        with original(*args, **kwargs) as conn:
            yield conn

    database.write = write
    return opened


def test_asking_opens_no_write_transaction_and_repeats_cost_no_encoding(seed_corpus):
    store = seed_corpus.store
    before = store.counts().cached_embeddings
    writes = _count_writes(seed_corpus)
    for i in range(4):
        answer = seed_corpus.ask(f"why did the talks stop, question {i}?")
        assert answer.citations
        seed_corpus.search(f"peace treaty {i}", k=3)
    assert writes == []  # not one write transaction while asking and searching
    assert store.counts().cached_embeddings == before  # no question vector in the store
    seen = len(seed_corpus.embedder.query_texts)
    assert seed_corpus.ask("why did the talks stop, question 2?").citations
    assert len(seed_corpus.embedder.query_texts) == seen  # the question's vector came from memory


def ask_while_a_commit_is_held(corpus, documents: list, commit: int = 1, check=None,
                               add_here: bool = False) -> tuple[list, list]:
    """Add ``documents`` in a thread, hold the add's ``commit``-th write transaction open (everything
    inserted, nothing committed), ask a question meanwhile and require its answer before the commit;
    ``check(answer)`` runs while the transaction is still open. Returns (the answers, the add's results).
    ``add_here``: add in the calling thread instead, and ask from a thread started while the commit is
    held (until then the process runs one thread, so a pooled add forks its workers: ``embed.forked``)."""
    holding, release = threading.Event(), threading.Event()
    original = corpus.store.transaction
    opened: list[int] = []
    answers: list = []
    asked: list[bool] = []

    def ask() -> None:
        asker = threading.Thread(target=lambda: answers.append(corpus.ask("why did talks stop?")))
        asker.start()
        asker.join(120)
        assert not asker.is_alive(), "the question waited for the add's write transaction"
        assert answers[0].answered and TALKS in answers[0].citations[0].passage
        if check is not None:
            check(answers[0])
        asked.append(True)

    @contextmanager
    def paused_transaction():
        with original() as tx:  # BEGIN IMMEDIATE ... every insert ... then wait before COMMIT
            yield tx
            opened.append(1)
            if len(opened) == commit:
                if add_here:
                    ask()
                else:
                    holding.set()
                    assert release.wait(300)

    corpus.store.transaction = paused_transaction
    results: list = []
    if add_here:
        results.extend(corpus.add_documents(documents))
        assert asked == [True], "the add never reached the held commit"
        return answers, results
    adder = threading.Thread(target=lambda: results.extend(corpus.add_documents(documents)), name="adder")
    adder.start()
    try:
        assert holding.wait(300), "the add never reached the held commit"
        ask()
        assert not release.is_set() and adder.is_alive()  # the write transaction was still open
    finally:
        release.set()
        adder.join(300)
    return answers, results


def test_a_question_is_answered_while_a_large_add_holds_its_write_transaction(make_corpus, tmp_path):
    corpus = make_corpus(tmp_path / "index")
    assert corpus.add_paths([SEED_ARTICLE])[0].status == "added"
    corpus.ask("warm up the model and the index")
    committed = corpus.documents()[0].passages
    # readers see the last committed state: none of the upload yet
    _, results = ask_while_a_commit_is_held(
        corpus, _upload(200), check=lambda _: corpus.store.counts().passages == committed or pytest.fail(
            "a reader saw uncommitted passages"))
    assert [r.status for r in results] == ["added"] * 20
    assert corpus.store.counts().passages == corpus.documents()[0].passages + 200
    assert corpus.search("Upload 3", k=20, mode="lexical")  # and once committed, it is searchable


def test_a_warmed_server_answers_from_the_lexical_copy_with_the_same_answers(seed_corpus, make_corpus):
    """Corpus.warm (what `citebot bot` and `citebot serve` call at start-up) builds the in-memory lexical
    copy in the background; once built, a question is answered from it, with the answer FTS5 gives, and
    asking writes nothing."""
    questions = ["why did the talks stop?", "peace treaty islands", "Какие санкции ввела Япония?"]
    expected = [seed_corpus.ask(q) for q in questions]  # a fresh process: one-shot questions, FTS5
    assert all(a.citations for a in expected) and any(a.answered for a in expected)
    assert not seed_corpus.store.lexical.memory.built
    server = make_corpus(home=seed_corpus.settings.home_path)
    writes = _count_writes(server)
    server.warm()
    server.store.lexical.memory.wait()
    answers = [server.ask(q) for q in questions]
    assert server.store.lexical.memory.ready and writes == []
    assert [[c.passage_id for c in a.citations] for a in answers] == \
        [[c.passage_id for c in a.citations] for a in expected]
    assert [(a.answered, a.answer) for a in answers] == [(a.answered, a.answer) for a in expected]
