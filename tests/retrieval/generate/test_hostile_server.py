"""The LLM client against a hostile or broken OpenAI-compatible server (issue 23): the deadline bounds the
whole call, bytes read included; sizes are capped; hostile JSON and stream chunks are a fallback, never a
traceback; the key never follows a redirect and never reaches the user; CITEBOT_LLM_URL is checked when
loaded. The bounds asserted are the acceptance's (CITEBOT_LLM_TIMEOUT + 2 s), liveness bounds, not speed."""
from __future__ import annotations

import json
import time

import pytest

from retrieval.generate.client import MAX_ANSWER_CHARS, ChatClient, LLMError
from retrieval.settings import SettingsError, load_settings

from ...conftest import SEED_ARTICLE
from ...fakes.openai_server import SUPPORTED, FakeOpenAI, Reply, drip, error, hostile_stream, malformed, redirect

MESSAGES = [{"role": "user", "content": "Question: why did talks stop?\nAnswer:"}]
KEY = "sk-live-hostile-key-ABCDEFGH"
QUESTION = "why did talks stop?"


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def timed(call, *args, **kwargs):
    started = time.monotonic()
    try:
        return call(*args, **kwargs), time.monotonic() - started
    except LLMError as exc:
        return exc, time.monotonic() - started


@pytest.mark.parametrize("stream", [False, True])
def test_a_dripping_server_is_cut_off_at_the_deadline(llm, stream):
    """One byte every 0.05 s: each read is quick, the whole answer would take about a minute."""
    llm.script(drip(SUPPORTED * 3, every=0.05, stream=stream))
    result, seconds = timed(ChatClient(llm.url, timeout=1.0, stream=stream).complete, MESSAGES)
    assert isinstance(result, LLMError) and result.reason == "timeout", result
    assert seconds < 1.0 + 2


def test_a_stream_without_newlines_is_capped(llm):
    llm.script(Reply("word " * 200_000, stream=True, newlines=False))
    result, seconds = timed(ChatClient(llm.url, timeout=5.0, stream=True).complete, MESSAGES)
    assert isinstance(result, LLMError) and result.reason == "malformed" and "line over" in str(result)
    assert seconds < 5.0 + 2


def test_a_slow_stream_without_newlines_hits_the_deadline(llm):
    llm.script(Reply("word " * 500, stream=True, newlines=False, chunk_delay=0.01))
    result, seconds = timed(ChatClient(llm.url, timeout=1.0, stream=True).complete, MESSAGES)
    assert isinstance(result, LLMError) and result.reason == "timeout", result
    assert seconds < 1.0 + 2


@pytest.mark.parametrize("stream, size", [(True, 10_000_000), (False, 3_000_000)])
def test_huge_answers_are_capped(llm, stream, size):
    """A 10 MB streamed answer ran until killed at 300 s; a 3 MB cited answer took 125 s."""
    llm.script(Reply(("Talks stopped in March 2022 [1]. " * (size // 33 + 1))[:size], stream=stream))
    result, _ = timed(ChatClient(llm.url, timeout=30.0, stream=stream).complete, MESSAGES)
    assert isinstance(result, LLMError) and result.reason == "too-large", result
    assert f"{MAX_ANSWER_CHARS:,} characters" in str(result) or "bytes" in str(result)


@pytest.mark.parametrize("retry_after", ["-5", "nan", "inf", "1e308", "Wed, 21 Oct 2015 07:28:00 GMT", "9" * 400])
def test_a_hostile_retry_after_falls_back_to_the_backoff(llm, retry_after):
    llm.script(Reply(status=429, raw=b"{}", headers={"Retry-After": retry_after}), Reply("ok [1]."))
    result, seconds = timed(ChatClient(llm.url, timeout=10.0).complete, MESSAGES)
    assert not isinstance(result, LLMError), result
    assert result.text == "ok [1]." and result.attempts == 2


DEEP = b'{"choices": [{"message": {"content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}]}"


@pytest.mark.parametrize("reply", [
    malformed(DEEP),
    malformed(b"[" * 100_000),
    malformed(b'{"choices": [null]}'),
    malformed(b'{"choices": null}'),
    malformed(b'{"choices": [{"message": "text"}]}'),
    malformed(b'[1, 2]'),
    hostile_stream('{"choices": [{"delta": "a string"}]}'),
    hostile_stream('{"choices": [null]}'),
    hostile_stream('{"choices": "none"}'),
    hostile_stream(b'{"choices": [{"delta": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}"),
    hostile_stream('{"choices": [{"delta": {"content": 42}, "finish_reason": {"x": 1}}]}', "17"),
], ids=["deep json", "deep array", "null choice", "null choices", "message string", "array",
        "delta string", "null chunk choice", "choices string", "deep chunk", "odd types"])
def test_hostile_json_is_an_llm_error_not_a_traceback(llm, reply):
    llm.script(reply)
    result, _ = timed(ChatClient(llm.url, timeout=5.0, stream=reply.chunks is not None).complete, MESSAGES)
    assert isinstance(result, LLMError) and result.reason == "malformed", result


def test_the_key_never_follows_a_redirect_to_another_origin(llm):
    with FakeOpenAI() as elsewhere:
        elsewhere.script(Reply("stolen [1]."))
        for status in (301, 302, 307, 308):
            llm.script(redirect(f"{elsewhere.url}/chat/completions", status))
            result, _ = timed(ChatClient(llm.url, api_key=KEY, timeout=5.0).complete, MESSAGES)
            assert isinstance(result, LLMError) and result.reason == "redirect", result
            assert "CITEBOT_LLM_URL" in str(result) and KEY not in str(result)
        assert elsewhere.requests == []
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in llm.requests)


@pytest.fixture
def corpus_with(make_corpus, tmp_path):
    home = tmp_path / "index"
    make_corpus(home=home).add_paths([SEED_ARTICLE])

    def factory(server: FakeOpenAI, **overrides):
        return make_corpus(home=home, llm_url=server.url, **{"llm_timeout": 5.0, **overrides})
    return factory


def test_an_echoed_key_never_reaches_the_user_or_the_log(llm, corpus_with, caplog):
    """The server echoes the bearer token inside a sentence the verifier accepts."""
    def echo(request):
        token = request.headers.get("authorization", "").split()[-1]
        return Reply(SUPPORTED[:-5] + f", {token} [1].")

    llm.responder = echo
    caplog.set_level("DEBUG")
    for key in ("sk-abcdefghijklmnop", "secretkey", KEY):
        corpus = corpus_with(llm, llm_api_key=key)
        answer = corpus.ask(QUESTION)
        shown = json.dumps(answer.to_json(True))
        assert KEY not in shown and key not in shown, shown
        assert answer.mode == "extractive" and answer.fallback == "secret in the answer"
        assert key not in caplog.text


def test_ask_with_a_dripping_server_stays_within_the_timeout_plus_two_seconds(llm, corpus_with):
    llm.script(drip(SUPPORTED, every=0.05))
    corpus = corpus_with(llm, llm_timeout=1.0)
    corpus.ask("what did Japan do?")  # loads what the first question loads, outside the measurement
    llm.script(drip(SUPPORTED, every=0.05))
    answer, seconds = timed(corpus.ask, QUESTION)
    assert answer.mode == "extractive" and answer.fallback == "timeout"
    assert seconds < 1.0 + 2


@pytest.mark.parametrize("raw, reason", [
    ("http://[::1", "not a valid URL"),
    ("not a url", "a URL has no spaces"),
    ("localhost:11434", "expected an http:// or https:// URL"),
    ("ftp://models.example/v1", "expected an http:// or https:// URL"),
    ("http://host:99999/v1", "not a valid URL"),
    ("http://user:pw-s3cret@models.example/v1", "put the key in CITEBOT_LLM_API_KEY"),
])
def test_a_malformed_llm_url_is_refused_when_loaded(raw, reason):
    with pytest.raises(SettingsError) as caught:
        load_settings(env={"CITEBOT_LLM_URL": raw})
    message = str(caught.value)
    assert message.startswith("CITEBOT_LLM_URL=") and reason in message and "s3cret" not in message, message


def test_good_llm_urls_load():
    for url in ("http://localhost:11434/v1", "https://api.example.com/v1/chat/completions", "http://[::1]:8000"):
        assert load_settings(env={"CITEBOT_LLM_URL": f" {url} "}).llm_url == url
