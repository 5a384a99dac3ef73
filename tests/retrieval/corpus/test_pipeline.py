"""One pass per question: `ask` reads each thing from the store once and embeds only the question.

Was: `ask` cleaned the question, read the passages and looked up the question vector twice (once in
`search`, again in `ask`) and computed page numbers twice; the answer layer called back into the corpus
to embed. These tests count the calls a question makes.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from retrieval import Corpus, Document
from retrieval.storage import open_storage
from tests.fakes.hash_embedder import HashEmbedder

from ...conftest import SEED_ARTICLE, CountingEmbedder


class Counting:
    """A store (or one of its parts) that counts each method call by ``part.method``; the embedding cache's
    calls also by cache (passages or questions)."""

    PARTS = ("documents", "embeddings", "lexical", "vectors")

    def __init__(self, inner: Any, calls: Counter[str] | None = None, prefix: str = "") -> None:
        self._inner, self._prefix = inner, prefix
        self.calls: Counter[str] = Counter() if calls is None else calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not self._prefix and name in self.PARTS:
            return Counting(attr, self.calls, f"{name}.")
        if not callable(attr) or name.startswith("_"):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            key = self._prefix + name
            if self._prefix == "embeddings." and args and isinstance(args[0], str):
                key += "[questions]" if args[0].endswith("#query") else "[passages]"
            self.calls[key] += 1
            return attr(*args, **kwargs)

        return counted


def _indexed(make_corpus, tmp_path) -> Any:
    corpus = make_corpus(home=tmp_path / "index")
    corpus.add_paths([SEED_ARTICLE])
    corpus.search("warm up the dense index", k=1)
    settings = corpus.settings
    corpus.close()
    return settings


def test_one_ask_reads_each_thing_once_and_embeds_only_the_question(make_corpus, tmp_path):
    settings = _indexed(make_corpus, tmp_path)
    store = Counting(open_storage(settings))
    model = CountingEmbedder(HashEmbedder())
    with Corpus(settings, embedder=model, store=store) as corpus:
        answer = corpus.ask("why did talks stop?")
        calls = dict(store.calls)
    assert answer.answered
    reads = {k: n for k, n in calls.items() if not k.startswith(("embeddings.put", "embeddings.trim"))}
    # (the question's vector lives in the encoder's memory, never in the store: no read for it)
    assert reads == {"vectors.search": 1, "lexical.search": 1,
                     "documents.passages": 1, "embeddings.cached[passages]": 1} | (
        {"vectors.passage_vectors": 1} if "vectors.passage_vectors" in reads else {})
    assert model.query_texts == ["why did talks stop?"]  # one encoder call, for the question only
    assert model.passage_texts == []  # the candidate sentences were embedded when the article was added


def test_asking_again_embeds_nothing(make_corpus, tmp_path):
    settings = _indexed(make_corpus, tmp_path)
    model = CountingEmbedder(HashEmbedder())
    with Corpus(settings, embedder=model) as corpus:
        first = corpus.ask("why did talks stop?")
        second = corpus.ask("why did talks stop?")
    assert first.to_json() == second.to_json()
    assert model.calls == 1


def test_search_hands_the_answer_its_vector_spans_and_pages(make_corpus):
    page1 = "The port authority published its annual report on Monday. Cargo volumes were flat over the year."
    page2 = "The harbour master resigned because of repeated crane failures at the container terminal."
    corpus = make_corpus()
    corpus.add_document(Document(text=page1 + "\n\n" + page2, title="Port report",
                                 page_starts=[0, len(page1) + 2], path="port.pdf"))
    found = corpus.retrieve("why did the harbour master resign?", k=3)
    assert found.question == "why did the harbour master resign?"
    assert found.vector is not None and found.vector.shape == (corpus.embedder.dim,)
    assert len(found.spans) == len(found.hits) == len(found.page_starts) == 1
    hit = found.hits[0]
    assert [hit.text[s - hit.start:e - hit.start] for s, e in found.spans[0]][-1] == page2
    assert hit.page == 1  # the passage starts on page 1 ...
    assert found.page(0, len(page1) + 2) == 2  # ... and its last sentence is on page 2
    assert corpus.search("why did the harbour master resign?", k=3) == found.hits


def test_lexical_search_embeds_nothing(make_corpus):
    corpus = make_corpus()
    corpus.add_document(Document(text="The harbour master resigned on Monday.", title="Port"))
    before = corpus.embedder.calls
    found = corpus.retrieve("harbour master", mode="lexical")
    assert found.vector is None and found.hits
    assert corpus.embedder.calls == before
