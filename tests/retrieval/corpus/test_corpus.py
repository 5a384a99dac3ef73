"""The retrieval core as a user meets it: add, ask, duplicates, replacement, removal, caching."""
from __future__ import annotations

import json
import random
import threading

import numpy as np

import pytest

from retrieval import Document, UserError
from tests.fakes.hash_embedder import HashEmbedder

from ...conftest import SEED_ARTICLE

TALKS = "Moscow was stopping peace treaty talks with Tokyo"

OTHER_STORY = """---
title: Central bank keeps rate unchanged
date: 2024-03-01
source: Reuters
---
The central bank of Chile kept its benchmark interest rate unchanged on Friday, citing stubborn inflation.

Analysts had expected the bank to hold the rate at 7.25 percent after three consecutive cuts last year. The
governor said further easing would depend on how quickly price growth slows in the coming months.
"""


@pytest.mark.quality  # the real model and its calibrated threshold
def test_answers_why_talks_stopped_with_the_tass_passage_first(seed_corpus):
    answer = seed_corpus.ask("why did talks stop?")
    assert answer.answered
    first = answer.citations[0]
    assert first.n == 1
    assert TALKS in first.passage
    assert first.source == "TASS"
    assert first.date == "2024-02-07"  # the file's own `date` line (see README)
    assert "[1]" in answer.answer
    # every answer sentence is quoted verbatim from the passage it cites
    for sentence, n in answer.sentences:
        assert sentence in answer.citations[n - 1].passage
    # and the quote spans point at those sentences
    for citation in answer.citations:
        for start, end in citation.quotes:
            assert citation.passage[start:end] in answer.answer


def test_json_shape_is_stable(seed_corpus):
    data = seed_corpus.ask("why did talks stop?").to_json()
    assert set(data) == {"question", "answered", "answer", "citations", "time"}
    assert data["time"]["intent"] is None and data["time"]["headline"] == "As of 7 Feb 2024 (TASS)"
    assert data["answered"] is True
    first = data["citations"][0]
    assert {"n", "doc_id", "title", "date", "source", "url", "passage", "score"} <= set(first)
    json.dumps(data)  # serialisable as is


@pytest.mark.quality  # the real model and its calibrated threshold
def test_unanswerable_question_says_so_and_shows_weak_matches(seed_corpus):
    answer = seed_corpus.ask("What is the capital of Peru?")
    assert not answer.answered
    assert "Nothing in the corpus answers" in answer.answer
    assert "[" not in answer.answer  # no passage is cited as an answer
    assert answer.citations  # nearest passages are shown as weak matches


def test_readding_identical_content_is_a_duplicate_and_changes_nothing(seed_corpus):
    before = seed_corpus.store.counts()
    generation = seed_corpus.store.generation()
    (result,) = seed_corpus.add_paths([SEED_ARTICLE])
    assert result.status == "duplicate"
    assert result.doc_id == 1 and result.reason == "duplicate" and result.duplicate_of == 1
    assert seed_corpus.store.counts() == before
    assert seed_corpus.store.generation() == generation


def test_readding_the_same_path_with_new_content_replaces_it(make_corpus, tmp_path):
    corpus = make_corpus()
    path = tmp_path / "story.md"
    path.write_text(OTHER_STORY, encoding="utf-8")
    (first,) = corpus.add_paths([path])
    assert first.status == "added"
    path.write_text(OTHER_STORY.replace("Chile", "Peru").replace("7.25", "6.25"), encoding="utf-8")
    (second,) = corpus.add_paths([path])
    assert second.status == "replaced"
    docs = corpus.documents()
    assert [d.doc_id for d in docs] == [second.doc_id]
    hits = corpus.search("central bank of Peru interest rate", k=5)
    assert hits and all(h.doc_id == second.doc_id for h in hits)
    assert "Peru" in hits[0].text


def test_removed_document_leaves_dense_and_lexical_search_at_once(seed_corpus, tmp_path):
    story = tmp_path / "bank.md"
    story.write_text(OTHER_STORY, encoding="utf-8")
    (added,) = seed_corpus.add_paths([story])
    assert any(h.doc_id == added.doc_id for h in seed_corpus.search("Chile interest rate", k=3))
    seed_corpus.remove(added.doc_id)
    for mode in ("dense", "lexical", "hybrid"):
        hits = seed_corpus.search("Chile interest rate inflation", k=20, mode=mode)
        assert all(h.doc_id != added.doc_id for h in hits), mode
    with pytest.raises(UserError, match="no document"):
        seed_corpus.remove(added.doc_id)


def test_second_process_answers_without_reembedding(seed_corpus, make_corpus):
    question = "why did talks stop?"
    seed_corpus.ask(question)
    home = seed_corpus.settings.home_path
    seed_corpus.close()
    reopened = make_corpus(home=home)
    answer = reopened.ask(question)
    assert answer.answered and TALKS in answer.citations[0].passage
    # question vectors live in each process's memory (asking writes nothing): the question is embedded
    # once here, the passages and their sentences never
    assert reopened.embedder.passage_texts == [] and reopened.embedder.query_texts == [question]
    reopened.ask(question)
    assert reopened.embedder.query_texts == [question]
    # a new question embeds only the question and the candidate sentences, never the passages again
    reopened.ask("who signed the joint declaration in 1956?")
    stored = {p.text for p in reopened.store.documents.passages(reopened.store.documents.passage_ids().tolist()).values()}
    assert not any(t.split("\n", 1)[-1] in stored for t in reopened.embedder.passage_texts if "\n" in t)
    assert len(reopened.embedder.query_texts) == 2


def test_rebuilding_the_dense_index_reembeds_nothing(seed_corpus):
    embedder = seed_corpus.embedder
    calls = embedder.calls
    result = seed_corpus.reindex()
    assert result == {"embedded": 0, "sentences": 0, "indexed": seed_corpus.store.counts().passages}
    assert embedder.calls == calls


def test_date_and_source_filters(seed_corpus, tmp_path):
    story = tmp_path / "bank.md"
    story.write_text(OTHER_STORY, encoding="utf-8")
    seed_corpus.add_paths([story])
    assert {h.source for h in seed_corpus.search("bank rate treaty talks", k=20, source="Reuters")} == {"Reuters"}
    assert {h.date for h in seed_corpus.search("bank rate treaty talks", k=20, since="2024-02-10")} == {"2024-03-01"}
    assert {h.date for h in seed_corpus.search("bank rate treaty talks", k=20, until="2024-02-10")} == {"2024-02-07"}
    assert seed_corpus.search("bank rate", k=5, since="2030-01-01") == []
    with pytest.raises(UserError, match="not a date"):
        seed_corpus.search("bank", since="yesterday")


@pytest.mark.parametrize("question, message", [("", "empty"), ("   \n\t ", "empty"), ("x" * 5000, "limit")])
def test_bad_questions_get_clear_errors(seed_corpus, question, message):
    with pytest.raises(UserError, match=message):
        seed_corpus.ask(question)


def test_add_document_api_and_empty_text(make_corpus):
    corpus = make_corpus()
    assert corpus.add_document(Document(text="   ", title="empty")).status == "error"
    result = corpus.add_document(Document(text=OTHER_STORY.split("---\n")[-1], title="Rates", source="Reuters"))
    assert result.status == "added" and result.passages >= 1
    assert corpus.document(result.doc_id).title == "Rates"


def test_republished_story_is_a_near_duplicate_unless_forced(seed_corpus, tmp_path):
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    body = text.split("/TASS/.", 1)[1]
    copy = tmp_path / "republished.md"
    copy.write_text("---\ntitle: Moscow rules out peace treaty talks with Japan\nsource: Other Agency\n---\n"
                    + body + "\n\nThis story was updated with more background.\n", encoding="utf-8")
    (result,) = seed_corpus.add_paths([copy])
    assert result.status == "near-duplicate"
    assert result.doc_id == 1 and "nearly identical to document 1" in result.message
    assert "--force" not in result.message  # the CLI adds its own flag (tests/retrieval/cli/test_cli.py)
    assert result.reason == "near-duplicate" and result.duplicate_of == 1  # for the bot: no message parsing
    assert seed_corpus.store.counts().documents == 1
    (forced,) = seed_corpus.add_paths([copy], force=True)
    assert forced.status == "added"
    assert seed_corpus.store.counts().documents == 2


def test_near_duplicates_within_one_input_are_caught(make_corpus, tmp_path):
    corpus = make_corpus()
    story = OTHER_STORY.split("---\n")[-1]
    docs = [Document(text=story, title="A", path="a"), Document(text=story + "\nMore context follows here.", title="B", path="b")]
    statuses = [r.status for r in corpus.add_documents(docs)]
    assert statuses == ["added", "near-duplicate"]


def test_questions_are_answered_while_another_process_holds_the_write_lock(seed_corpus):
    import sqlite3

    writer = sqlite3.connect(seed_corpus.store.location, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of adding documents
    try:
        answer = seed_corpus.ask("who told TASS that resuming dialogue was categorically impossible?")
        assert answer.answered and "Rudenko" in answer.citations[0].passage + answer.answer
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_citation_names_the_page_of_the_quoted_sentence(make_corpus):
    page1 = "The port authority published its annual report on Monday. Cargo volumes were flat over the year."
    page2 = "The harbour master resigned because of repeated crane failures at the container terminal."
    text = page1 + "\n\n" + page2
    corpus = make_corpus()
    corpus.add_document(Document(text=text, title="Port report", page_starts=[0, len(page1) + 2], path="port.pdf"))
    answer = corpus.ask("why did the harbour master resign?")
    assert answer.answered
    first = answer.citations[0]
    assert "crane failures" in answer.answer
    assert first.page == 2


def test_adding_after_an_embedder_switch_refuses_until_reindexed(make_corpus, tmp_path):
    """Was: one add after a model switch re-embedded the whole corpus as a side effect."""
    home = tmp_path / "switch"
    old = make_corpus(home=home, model=HashEmbedder("test-hash-old", dim=32))
    old.add_paths([SEED_ARTICLE])
    old.close()
    story = tmp_path / "bank.md"
    story.write_text(OTHER_STORY, encoding="utf-8")
    new = make_corpus(home=home)  # the test's default embedder: another model
    assert new.embedder.name != "test-hash-old"
    with pytest.raises(UserError, match="reindex") as refused:
        new.add_paths([story])
    assert refused.value.code == "reindex_needed" and refused.value.params["missing"] > 0
    assert new.embedder.passage_texts == []  # nothing was embedded, let alone the whole corpus
    assert new.store.counts().documents == 1  # and nothing added
    new.reindex()
    assert new.store.embeddings.missing(new.embedder.name) == []
    assert [r.status for r in new.add_paths([story])] == ["added"]
    hits = new.search("Moscow stopped peace treaty talks with Tokyo", k=3, mode="dense")
    assert hits and hits[0].source == "TASS"


class BlockingEmbedder:
    """The session model, except that a big passage batch (an upload) blocks until released, so a test
    can ask a question while an add is, deterministically, still embedding."""

    def __init__(self, inner, big: int = 200) -> None:
        self.inner, self.name, self.big = inner, inner.name, big
        self.embedding, self.release = threading.Event(), threading.Event()

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def min_score(self) -> float:
        return self.inner.min_score

    def encode_passages(self, texts):
        if len(texts) >= self.big:
            self.embedding.set()
            assert self.release.wait(300), "never released"
            rng = np.random.default_rng(0)  # the upload's vectors need not be real for this test
            vectors = rng.standard_normal((len(texts), self.dim)).astype(np.float32)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)


def _upload(passages: int) -> list[Document]:
    """Distinct documents of ten ~70-word paragraphs each (one passage per paragraph)."""
    rng = random.Random(5)
    syllables = "ba ko ri mu te sa lo vi ne du pa ge zo fi ra ty hu me".split()
    docs = []
    for d in range(passages // 10):
        paragraphs = [" ".join("".join(rng.choice(syllables) for _ in range(3)) for _ in range(70)) + "."
                      for _ in range(10)]
        docs.append(Document(text="\n\n".join(paragraphs), title=f"Upload {d}"))
    return docs


def test_a_question_is_answered_while_an_upload_is_embedding(make_corpus, embedder, tmp_path):
    """The write lock is held only for the write: a question does not wait for a 200-passage add."""
    blocking = BlockingEmbedder(embedder)
    corpus = make_corpus(tmp_path / "index", model=blocking)
    assert corpus.add_paths([SEED_ARTICLE])[0].status == "added"
    results: list = []
    adder = threading.Thread(target=lambda: results.extend(corpus.add_documents(_upload(200))))
    adder.start()
    try:
        assert blocking.embedding.wait(300), "the upload never reached the model"
        answers: list = []
        asker = threading.Thread(target=lambda: answers.append(corpus.ask("why did talks stop?")))
        asker.start()
        asker.join(120)
        assert not asker.is_alive(), "the question waited for the upload"
        assert adder.is_alive()  # the upload was still embedding when the answer came
        assert answers[0].answered and TALKS in answers[0].citations[0].passage
    finally:
        blocking.release.set()
        adder.join(300)
    assert [r.status for r in results] == ["added"] * 20 and sum(r.passages for r in results) == 200
    assert corpus.store.counts().passages == corpus.documents()[0].passages + 200


def test_ask_reports_its_progress_the_documents_found_before_it_answers(make_corpus, tmp_path):
    """What the Telegram bot shows while it works ("Checking 2 sources…"): ask tells the caller how many
    documents the search found, before composing the answer (no LLM: no "verified" stage)."""
    from retrieval import AskProgress, Document
    from tests.fakes.hash_embedder import HashEmbedder

    corpus = make_corpus(model=HashEmbedder())
    documents = [Document(text="The talks stopped in March 2022 after the sanctions.", title="A"),
                 Document(text="Talks between the two ministers stopped in 2022, officials said.", title="B")]
    assert [r.status for r in corpus.add_documents(documents)] == ["added", "added"]
    events: list[AskProgress] = []
    answer = corpus.ask("When did the talks stop?", progress=events.append)
    assert [(e.stage, e.sources) for e in events] == [("found", 2)]
    assert {c.doc_id for c in answer.citations} and events[0].sentences == []
