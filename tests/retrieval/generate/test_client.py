"""The OpenAI-compatible client against the fake server: streams, errors, retries, timeouts, secrets."""
from __future__ import annotations

import logging
import time

import pytest

from retrieval.generate.client import ChatClient, LLMError, endpoint

from ...fakes.openai_server import FakeOpenAI, Reply, error, hang, malformed

MESSAGES = [{"role": "user", "content": "Question: why did talks stop?\nAnswer:"}]


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def test_endpoint_accepts_base_v1_and_full_urls():
    assert endpoint("http://h:11434") == "http://h:11434/v1/chat/completions"
    assert endpoint("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert endpoint("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


@pytest.mark.parametrize("stream", [False, True])
def test_answer_arrives_whole_streamed_or_not(llm, stream):
    llm.script(Reply("Talks stopped in March 2022 [1]. Japan imposed sanctions [1]."))
    client = ChatClient(llm.url, model="m", stream=stream, timeout=5)
    result = client.complete(MESSAGES, max_tokens=50)
    assert result.text == "Talks stopped in March 2022 [1]. Japan imposed sanctions [1]."
    assert result.finish_reason == "stop"
    body = llm.requests[0].body
    assert body["stream"] is stream and body["model"] == "m" and body["max_tokens"] == 50
    assert body["messages"] == MESSAGES


def test_api_key_is_sent_but_never_shown(llm, caplog):
    llm.script(error(500), error(500), error(500))
    client = ChatClient(llm.url, api_key="sk-secret-123", timeout=5)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    assert llm.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in str(info.value) and "sk-secret" not in repr(client)
    assert "sk-secret" not in caplog.text


def test_429_and_5xx_are_retried_a_bounded_number_of_times(llm):
    llm.script(error(429, retry_after=0.05), error(503), Reply("ok [1]."))
    result = ChatClient(llm.url, timeout=5).complete(MESSAGES)
    assert result.text == "ok [1]." and result.attempts == 3 and len(llm.requests) == 3

    llm.requests.clear()
    llm.script(*[error(429, retry_after=0.01)] * 10)
    with pytest.raises(LLMError) as info:
        ChatClient(llm.url, timeout=5, retries=2).complete(MESSAGES)
    assert info.value.reason == "http-429" and len(llm.requests) == 3


def test_client_errors_are_not_retried(llm):
    llm.script(error(400), Reply("never sent"))
    with pytest.raises(LLMError) as info:
        ChatClient(llm.url, timeout=5).complete(MESSAGES)
    assert info.value.reason == "http-400" and len(llm.requests) == 1


def test_a_slow_server_times_out_within_the_deadline(llm):
    llm.script(hang(3))
    started = time.monotonic()
    with pytest.raises(LLMError) as info:
        ChatClient(llm.url, timeout=0.5).complete(MESSAGES)
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 2


def test_a_stream_that_stalls_times_out(llm):
    llm.script(Reply("one two three four five six [1].", stream=True, chunk_delay=0.4))
    with pytest.raises(LLMError) as info:
        ChatClient(llm.url, timeout=0.6, stream=True).complete(MESSAGES)
    assert info.value.reason == "timeout"


@pytest.mark.parametrize("reply", [
    malformed(), malformed(b'{"choices": []}'), malformed(b"<html>502 Bad Gateway</html>"),
    Reply("half an answer that never", stream=True, cut_stream=True),
], ids=["truncated json", "no choices", "html", "cut stream"])
def test_malformed_output_is_an_error_not_an_answer(llm, reply):
    llm.script(reply)
    with pytest.raises(LLMError) as info:
        ChatClient(llm.url, timeout=5, stream=bool(reply.cut_stream)).complete(MESSAGES)
    assert info.value.reason == "malformed"


def test_nothing_listening_is_a_connection_error():
    with FakeOpenAI() as server:
        url = server.url
    with pytest.raises(LLMError) as info:
        ChatClient(url, timeout=2, retries=0).complete(MESSAGES)
    assert info.value.reason in ("connection", "timeout")


def test_llm_errors_join_the_one_error_hierarchy():
    from retrieval import CitebotError

    error = LLMError("timeout", "the LLM server did not answer in time")
    assert isinstance(error, CitebotError)
    assert error.code == "llm_failed" and error.reason == "timeout" and error.params == {"reason": "timeout"}
