"""LLM answers end to end with the fake OpenAI-compatible server: only verified sentences reach the user.

Through `Corpus.ask`, `citebot ask` (text and --json) and every way the model can fail: the answer a
user sees is either verified generated sentences, or exactly the extractive answer.
"""
from __future__ import annotations

import json

import pytest

from ...conftest import SEED_ARTICLE
from ...fakes.openai_server import (SUPPORTED, UNSUPPORTED, FakeOpenAI, Reply, answering, error, hang,
                                   malformed, poisoned_answer, unsupported_shown)
from ..cli.test_cli import citebot

QUESTION = "why did talks stop?"
MARCH = "The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with Tokyo"
SHOWN = SUPPORTED[:-5] + ". [1]"  # as the answer shows it: the sentence, then its numbers


def visible(answer) -> str:
    """Everything of the answer a user reads as the answer (not the cited passages themselves)."""
    return answer.answer + " " + " ".join(s.text for s in answer.sentences)


def test_no_llm_configured_means_todays_extractive_answer(corpus_with, llm):
    answer = corpus_with(None).ask(QUESTION)
    assert answer.mode == "extractive" and answer.fallback == "" and llm.requests == []
    assert answer.sentences[0].text.startswith(MARCH) and answer.sentences[0].citations == [1]


def test_the_prompt_shows_numbered_passages_with_title_date_and_source(corpus_with, llm):
    llm.script(SUPPORTED)
    answer = corpus_with(llm).ask(QUESTION)
    prompt = llm.requests[0].prompt
    assert llm.requests[0].passage_numbers == [c.n for c in answer.citations]
    assert "[1] The resumption of talks on the peace treaty" in prompt and "2024-02-07 — TASS" in prompt
    assert "Question: why did talks stop?" in prompt and "English" in prompt


@pytest.mark.parametrize("stream", [False, True])
def test_a_supported_answer_is_shown_with_citations_support_and_quote(corpus_with, llm, stream):
    llm.script(SUPPORTED)
    answer = corpus_with(llm, llm_stream=stream).ask(QUESTION)
    assert answer.mode == "generative" and answer.dropped == 0
    assert answer.answer == SHOWN
    [sentence] = answer.sentences
    assert sentence.citations == [1] and sentence.quote.startswith(MARCH)
    assert 0.5 <= sentence.support <= 1.0
    c1 = answer.citations[0]
    assert c1.passage[c1.quotes[0][0]:c1.quotes[0][1]] == sentence.quote


@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_an_unsupported_sentence_never_reaches_the_user(corpus_with, llm, kind):
    sentence, fragment = UNSUPPORTED[kind]
    llm.script(f"{SUPPORTED} {sentence}")
    answer = corpus_with(llm).ask(QUESTION)
    assert answer.mode == "generative" and answer.dropped == 1
    assert fragment not in visible(answer)
    assert [s.text for s in answer.sentences] == [SUPPORTED[:-5] + "."]


def test_when_nothing_survives_the_extractive_answer_is_given(corpus_with, llm):
    baseline = corpus_with(None).ask(QUESTION)
    llm.script(" ".join(s for s, _ in UNSUPPORTED.values()))
    answer = corpus_with(llm).ask(QUESTION)
    assert answer.mode == "extractive" and answer.fallback == "no sentence survived verification"
    assert answer.dropped == len(UNSUPPORTED)
    assert answer.answer == baseline.answer and answer.sentences == baseline.sentences
    assert unsupported_shown(visible(answer)) == []


@pytest.mark.parametrize("reply, reason", [
    (hang(3), "timeout"), (error(500), "http-500"), (error(429, retry_after=0.01), "http-429"),
    (malformed(), "malformed"), (Reply("NO ANSWER"), "refusal"),
    (Reply("I cannot answer this from the passages."), "refusal"), (Reply(""), "empty answer"),
], ids=["timeout", "500", "429", "malformed", "refusal", "refusal in words", "empty"])
def test_a_failing_model_gives_the_extractive_answer(corpus_with, llm, reply, reason):
    baseline = corpus_with(None).ask(QUESTION)
    llm.script(*[reply] * 3)
    answer = corpus_with(llm, llm_timeout=1.0).ask(QUESTION)
    assert answer.mode == "extractive" and answer.fallback == reason
    assert answer.to_json(True) | {"fallback": ""} == baseline.to_json(True)


def test_an_unanswerable_question_does_not_ask_the_model(corpus_with, llm):
    answer = corpus_with(llm).ask("What is the capital of Peru?")
    assert not answer.answered and llm.requests == []


# -- the command line ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gen") / "index"
    assert citebot(home, "add", str(SEED_ARTICLE)).returncode == 0
    return home


@pytest.fixture(scope="module")
def poisoned():
    with FakeOpenAI(answering(poisoned_answer())) as server:
        yield server


def test_ask_json_carries_mode_sentences_and_no_unsupported_sentence(home, poisoned, monkeypatch):
    for key, value in poisoned.env().items():
        monkeypatch.setenv(key, value)
    result = citebot(home, "ask", QUESTION, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "generative" and data["dropped"] == len(UNSUPPORTED)
    [sentence] = data["sentences"]
    assert sentence["citations"] == [1] and sentence["support"] >= 0.5 and sentence["quote"].startswith(MARCH)
    shown = data["answer"] + json.dumps(data["sentences"])
    assert unsupported_shown(shown) == []
    assert data["citations"][0]["n"] == 1 and MARCH in data["citations"][0]["passage"]


def test_ask_text_shows_sentences_with_numbers_and_quotes_on_request(home, poisoned, monkeypatch):
    for key, value in poisoned.env(CITEBOT_LLM_STREAM="true").items():
        monkeypatch.setenv(key, value)
    result = citebot(home, "ask", QUESTION, "--quotes")
    assert result.returncode == 0, result.stderr
    answer_part = result.stdout.split("Sources:")[0]
    assert SHOWN in answer_part
    assert f'> "{MARCH}' in answer_part
    assert f"{len(UNSUPPORTED)} unsupported sentences dropped" in answer_part
    assert unsupported_shown(answer_part) == []


def test_settings_never_print_the_api_key(home, monkeypatch):
    monkeypatch.setenv("CITEBOT_LLM_API_KEY", "sk-do-not-show")
    result = citebot(home, "settings")
    assert "CITEBOT_LLM_API_KEY" in result.stdout and "sk-do-not-show" not in result.stdout + result.stderr


def test_quotes_are_shown_only_on_request(corpus_with, llm):
    from retrieval.cli import format_answer

    llm.script(poisoned_answer())
    answer = corpus_with(llm).ask(QUESTION)
    plain, quoted = format_answer(answer).split("Sources:")[0], format_answer(answer, quotes=True)
    assert SHOWN in plain and '> "' not in plain and f'> "{MARCH}' in quoted
    assert unsupported_shown(plain) == [] and unsupported_shown(quoted.split("Sources:")[0]) == []


def test_json_without_an_llm_keeps_todays_shape_and_gains_mode_with_one(corpus_with, llm):
    assert set(corpus_with(None).ask(QUESTION).to_json()) == {"question", "answered", "answer", "citations", "time"}
    llm.script(SUPPORTED)
    data = corpus_with(llm).ask(QUESTION).to_json()
    assert data["mode"] == "generative" and data["sentences"][0]["citations"] == [1]
