"""The OpenAI-compatible endpoint driven by the official `openai` client: plain and streamed replies carry
citebot's answer with numbered source links, earlier user messages make follow-ups, keys apply."""
from __future__ import annotations

import openai
import pytest

READER = "reader-key-for-tests-0001"


def client(api, key: str = READER) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_the_openai_client_gets_the_answer_with_numbered_sources(serve_api):
    api = serve_api(CITEBOT_API_KEYS=READER)
    llm = client(api)
    assert [m.id for m in llm.models.list()] == ["citebot"]
    reply = llm.chat.completions.create(model="citebot", messages=[
        {"role": "system", "content": "You are helpful."}, {"role": "user", "content": "why did talks stop?"}])
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    direct = api.client(READER).post("/v1/ask", json={"question": "why did talks stop?"}).json()
    assert text.startswith(direct["answer"])
    first = direct["citations"][0]
    assert f"\n\nSources:\n1. {first['title']} — {first['date']} — {first['source']}" in text  # no url: plain title


def test_streaming_sends_the_same_reply_in_chunks(serve_api):
    api = serve_api(CITEBOT_API_KEYS=READER)
    llm = client(api)
    messages = [{"role": "user", "content": "why did talks stop?"}]
    whole = llm.chat.completions.create(model="citebot", messages=messages).choices[0].message.content
    stream = llm.chat.completions.create(model="citebot", messages=messages, stream=True)
    pieces, finish = [], None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert len(pieces) > 5 and "".join(pieces) == whole and finish == "stop"


def test_earlier_user_messages_make_a_follow_up(serve_api):
    api = serve_api(CITEBOT_API_KEYS=READER)
    reply = api.client(READER).post("/v1/chat/completions", json={"model": "citebot", "messages": [
        {"role": "user", "content": "why did talks stop?"}, {"role": "assistant", "content": "Because ..."},
        {"role": "user", "content": [{"type": "text", "text": "when was that?"}]}]}).json()
    assert reply["citebot"]["searched_for"] == "when did talks stop?"


def test_keys_and_errors_reach_the_openai_client_as_its_own_errors(serve_api):
    api = serve_api(CITEBOT_API_KEYS=READER)
    with pytest.raises(openai.AuthenticationError):
        client(api, "wrong-key").chat.completions.create(model="citebot", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as caught:
        client(api).chat.completions.create(model="citebot", messages=[{"role": "user", "content": "  "}])
    assert caught.value.status_code == 400 and "question_empty" in str(caught.value.body)
    with pytest.raises(openai.UnprocessableEntityError):
        client(api).chat.completions.create(model="citebot", messages=[])
