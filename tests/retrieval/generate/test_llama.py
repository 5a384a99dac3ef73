"""The real server path: llama.cpp's OpenAI-compatible server with Gemma 3 270M (slow; `make test-all`).

The model is tiny and weak, so the test asserts what must hold whatever it writes: the answer arrives
over the real HTTP path, every sentence shown passes the checks on its own, and a sentence the cited
passage does not support is rejected even when the real model writes it.
"""
from __future__ import annotations

import pytest

from retrieval.generate.client import ChatClient
from retrieval.generate.facts import Haystack, missing_facts
from retrieval.generate.verify import verify

from ...conftest import SEED_ARTICLE
from ...fakes import llama_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    missing = llama_server.available()
    if missing:
        pytest.fail(missing)  # `make test-all` installs the llm extra; a silent skip would hide a broken path
    with llama_server.LlamaServer() as running:
        yield running


def test_answers_come_over_the_real_server_and_only_verified_sentences_are_shown(server, make_corpus):
    corpus = make_corpus(llm_url=server.url, llm_timeout=180.0)
    corpus.add_paths([SEED_ARTICLE])
    answer = corpus.ask("why did talks stop?")
    assert answer.answered
    assert answer.fallback in ("", "refusal", "no sentence survived verification", "empty answer"), answer.fallback
    if answer.mode == "generative":
        for sentence in answer.sentences:
            cited = [answer.citations[n - 1] for n in sentence.citations]
            hay = Haystack([f"{c.title}\n{c.source}\n{c.passage}" for c in cited])
            assert missing_facts(sentence.text, hay) == []
            assert sentence.support >= corpus.settings.llm_min_support
            assert any(sentence.quote in c.passage for c in cited)
    else:
        assert answer.sentences[0].text.startswith("The Russian foreign ministry said in March 2022")


def test_what_the_real_model_writes_beyond_the_passage_is_rejected(server, make_corpus):
    corpus = make_corpus()
    corpus.add_paths([SEED_ARTICLE])
    citations = corpus.ask("why did talks stop?").citations
    client = ChatClient(server.url, timeout=180)
    wrong = "Moscow stopped the peace treaty talks with Tokyo in April 2031 [1]."
    completion = client.complete([{"role": "user", "content": f"Repeat exactly this sentence: {wrong}"}],
                                 max_tokens=40)
    assert completion.text.strip(), "the real server returned no text"
    result = verify(completion.text, citations, corpus.encoder.sentences,
                    corpus.settings.llm_min_support)
    kept = " ".join(v.claim.text for v in result.kept)
    assert "2031" not in kept and "April" not in kept
    for streamed in (False, True):
        text = ChatClient(server.url, timeout=180, stream=streamed).complete(
            [{"role": "user", "content": "Say hello."}], max_tokens=8).text
        assert isinstance(text, str)
