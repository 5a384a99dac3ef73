"""The in-memory lexical copy (storage/lexical/memory.py) on both engines: the engine's own scores (FTS5's,
PostgreSQL's postings), on real English and Russian text, through adds, removals, repairs and filters by
another process; the engine answers whenever the copy cannot."""
from __future__ import annotations

import json

import pytest

from retrieval import load_settings
from retrieval.storage import SearchFilters, VerifyReport, open_postgres, open_sqlite, open_storage
from retrieval.storage.lexical.memory import MemoryBM25
from retrieval.text.lexical import query_terms

from ...conftest import SHARED_DATA
from .conftest import new_document
from .engines import damage_lexical


def _fts5(store, terms, limit=100, filters=SearchFilters()):
    """The same search answered by the engine itself (FTS5, or PostgreSQL's postings)."""
    memory, store.lexical.memory = store.lexical.memory, None
    try:
        return store.lexical.search(terms, limit, filters)
    finally:
        store.lexical.memory = memory


def _same(memory_hits, fts5_hits, exact: bool = True) -> bool:
    """Equal scores in the same order (PostgreSQL sums a passage's terms in its own order: equal to 1e-12),
    and the same passages except where scores tie (to that precision) at the cut."""
    tolerance = 0.0 if exact else 1e-12
    ours, theirs = [h.score for h in memory_hits], [h.score for h in fts5_hits]
    if len(ours) != len(theirs) or any(abs(a - b) > tolerance * max(1.0, abs(b)) for a, b in zip(ours, theirs)):
        return False
    last = theirs[-1] if theirs else 0.0

    def above_cut(hits):
        return {h.passage_id for h in hits if abs(h.score - last) > tolerance * max(1.0, abs(last))}

    return above_cut(memory_hits) == above_cut(fts5_hits)


def _xquad(lang: str) -> tuple[list[tuple[str, str]], list[str]]:
    data = json.loads((SHARED_DATA / "xquad" / f"xquad.{lang}.dev.json").read_text())["data"]
    docs, questions = [], []
    for article in data:
        for para in article["paragraphs"]:
            docs.append((article["title"], para["context"]))
            questions.extend(qa["question"] for qa in para["qas"][:1])
    return docs, questions


def _fill_real(store) -> list[str]:
    """Real English and Russian news-like text (XQuAD paragraphs, SciFact abstracts); the questions."""
    questions = []
    with store.transaction() as tx:
        for lang in ("en", "ru"):
            docs, asked = _xquad(lang)
            questions += asked[:80]
            for title, text in docs:
                tx.insert_document(new_document(text, title, date="2024-01-0" + ("1" if lang == "en" else "2")))
        with (SHARED_DATA / "scifact" / "corpus.jsonl").open() as fh:
            for _, line in zip(range(600), fh):
                row = json.loads(line)
                tx.insert_document(new_document(row["text"].replace("\n\n", "\n"), row["title"] or "T",
                                                source="scifact"))
    with (SHARED_DATA / "scifact" / "queries.jsonl").open() as fh:
        questions += [json.loads(line)["text"] for _, line in zip(range(80), fh)]
    assert store.lexical.warm()
    return questions


@pytest.fixture(scope="module")
def real_store(tmp_path_factory):
    store = open_sqlite(tmp_path_factory.mktemp("memory") / "index")
    yield store, _fill_real(store)
    store.close()


def test_the_copy_gives_postgresqls_scores_on_real_text(pg_url):
    store = open_postgres(pg_url)
    try:
        questions = _fill_real(store)
        differ = [q for q in questions[::2] if not _same(store.lexical.search(query_terms(q), 100),
                                                         _fts5(store, query_terms(q)), exact=False)]
        assert store.lexical.memory.ready and differ == []
        terms = query_terms(questions[0])
        assert _same(store.lexical.search(terms, 20, SearchFilters(source="scifact")),
                     _fts5(store, terms, 20, SearchFilters(source="scifact")), exact=False)
    finally:
        store.close()


def test_the_copy_gives_fts5s_scores_on_real_english_and_russian_text(real_store):
    store, questions = real_store
    differ = [q for q in questions if not _same(store.lexical.search(query_terms(q), 100),
                                                _fts5(store, query_terms(q)))]
    assert store.lexical.memory.ready and len(questions) == 240
    assert differ == []


def test_filters_and_the_title_weight_rank_as_fts5_does(real_store):
    from retrieval.storage import BM25

    store, questions = real_store
    memory, answered = store.lexical.memory, []
    real = memory.try_search

    def recorded(tokens, limit, allowed=None, bm25=None):  # the filtered questions reach the copy
        found = real(tokens, limit, allowed, bm25)
        answered.append(allowed is not None and found is not None)
        return found

    memory.try_search = recorded
    try:
        for q in questions[::20]:
            terms = query_terms(q)
            for filters in (SearchFilters(since="2024-01-02"), SearchFilters(source="SciFact"),
                            SearchFilters(until="2024-01-01")):
                assert _same(store.lexical.search(terms, 20, filters), _fts5(store, terms, 20, filters)), (q, filters)
    finally:
        del memory.try_search
    assert answered and all(answered)
    for q in questions[::20]:
        terms = query_terms(q)
        heavy = BM25(title_weight=3.0)
        memory_hits = store.lexical.search(terms, 20, bm25=heavy)
        store.lexical.memory, keep = None, store.lexical.memory
        try:
            assert _same(memory_hits, store.lexical.search(terms, 20, bm25=heavy))
        finally:
            store.lexical.memory = keep


@pytest.fixture(params=("sqlite", "postgresql"))
def opener(request, tmp_path):
    """Opens stores on one index, as two processes would (the bot asking, `citebot add` writing)."""
    if request.param == "sqlite":
        return lambda: open_sqlite(tmp_path / "index")
    url = request.getfixturevalue("pg_url")
    return lambda: open_postgres(url)


def _two_processes(opener):
    asking, writing = opener(), opener()
    with writing.transaction() as tx:
        for i in range(30):
            tx.insert_document(new_document(f"Harbour talks round {i} stalled over fishing quotas.",
                                            f"Talks {i}"))
    assert asking.lexical.warm()
    return asking, writing


def test_another_processs_adds_and_removals_are_seen_at_the_next_question(opener):
    asking, writing = _two_processes(opener)
    exact = asking.engine == "sqlite"
    try:
        terms = query_terms("harbour quotas tariffs")
        before = asking.lexical.search(terms, 10)
        with writing.transaction() as tx:
            new = tx.insert_document(new_document("Tariffs on harbour quotas were lifted.", "Tariffs"))
        after = asking.lexical.search(terms, 10)
        assert asking.lexical.memory.ready  # the copy answered, synced, not FTS5
        assert after[0].passage_id in {int(p) for p in writing.documents.passage_ids()} and after != before
        assert _same(after, _fts5(asking, terms, 10), exact)
        assert {writing.documents.passages([h.passage_id])[h.passage_id].doc_id for h in after[:1]} == {new}
        with writing.transaction() as tx:
            tx.delete_document(new)
        gone = asking.lexical.search(terms, 10)
        assert asking.lexical.memory.ready and _same(gone, _fts5(asking, terms, 10), exact)
        assert all(writing.documents.passages([h.passage_id]) for h in gone)  # no removed passage comes back
    finally:
        asking.close()
        writing.close()


def test_a_repair_in_another_process_makes_the_copy_start_again(opener):
    asking, writing = opener(), opener()
    exact = asking.engine == "sqlite"
    try:
        with writing.transaction() as tx:
            for i in range(30):
                tx.insert_document(new_document(f"Harbour talks round {i} stalled.", f"Talks {i}"))
        first = int(writing.documents.passage_ids()[0])
        damage_lexical(writing, first)  # the entry holds "zzzwrong": the copy is built from what the engine holds
        terms = query_terms("zzzwrong harbour")
        asking.lexical.warm()  # (on PostgreSQL the damage leaves the totals wrong: the engine answers)
        assert _same(asking.lexical.search(terms, 10), _fts5(asking, terms, 10), exact)
        report = VerifyReport()
        writing.lexical.check(report, repair=True)  # same passage ids, other content
        assert report.repairs
        asking.lexical.search(terms, 10)  # the epoch moved: rebuilt in the background, FTS5 answers meanwhile
        asking.lexical.memory.wait()
        hits = asking.lexical.search(terms, 10)
        assert asking.lexical.memory.ready and _same(hits, _fts5(asking, terms, 10), exact)
        assert first in {h.passage_id for h in hits} and asking.lexical.search(["zzzwrong"], 10) == []
    finally:
        asking.close()
        writing.close()


def test_fts5_answers_what_the_copy_cannot(tmp_path):
    store = open_sqlite(tmp_path / "index")
    try:
        with store.transaction() as tx:
            tx.insert_document(new_document("The snake_case word, and snake apart from case.", "Code"))
            tx.insert_document(new_document("A case of snake oil.", "Oil"))
            tx.insert_document(new_document("ſun and sun, λόγος and λόγοσ.", "Greek"))
        assert store.lexical.warm()
        snake_case = query_terms("snake_case")  # one term to citebot, the phrase "snake cas" to FTS5
        phrase = store.lexical.search(snake_case, 10)
        assert len(snake_case) == 1 and len(phrase) == 1 and _same(phrase, _fts5(store, snake_case))
        for terms in (["ſun"], ["sun"], ["λόγος"], ["λόγοσ"]):  # unicode61 folds ſ and final ς
            assert _same(store.lexical.search(terms, 10), _fts5(store, terms)) and _fts5(store, terms)
    finally:
        store.close()


def test_a_copy_it_cannot_reproduce_is_never_used(tmp_path, monkeypatch):
    from retrieval.storage.lexical import sqlite as engine

    store = open_sqlite(tmp_path / "index")
    try:
        with store.transaction() as tx:
            tx.insert_document(new_document("Harbour talks stalled.\n\nThe harbour reopened.", "Talks"))
        real = engine.Fts5Tokens.tokens
        monkeypatch.setattr(engine.Fts5Tokens, "tokens", lambda self, s: real(self, s)[1:])  # a tokenizer that drifts
        assert not store.lexical.warm() and "tokens" in store.lexical.memory.mismatch
        terms = query_terms("harbour talks")
        assert _same(store.lexical.search(terms, 10), _fts5(store, terms))
    finally:
        store.close()


def test_one_question_never_builds_it_and_the_setting_turns_it_off(tmp_path, monkeypatch):
    store = open_sqlite(tmp_path / "index")
    with store.transaction() as tx:
        tx.insert_document(new_document("Harbour talks stalled.", "Talks"))
    store.lexical.search(["harbour"], 5)  # a one-shot `citebot ask`
    assert not store.lexical.memory.built and store.lexical.memory._builder is None
    store.close()
    monkeypatch.setenv("CITEBOT_HOME", str(tmp_path))
    monkeypatch.setenv("CITEBOT_LEXICAL_MEMORY", "0")
    settings = load_settings()
    assert settings.lexical_memory is False
    off = open_storage(settings)
    try:
        assert off.lexical.memory is None and not off.lexical.warm()
    finally:
        off.close()
    on = open_sqlite(tmp_path / "x")
    try:
        assert isinstance(on.lexical.memory, MemoryBM25)
    finally:
        on.close()
