"""Acceptance 1 with the real default embedder (a quality test, run by `make test`): `citebot serve`, then
the curl request of the issue returns the March 2022 sentence with its citation, and the official
`openai` client gets the same answer through /v1/chat/completions."""
from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.quality

MARCH = "The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with Tokyo"


def test_curl_ask_returns_the_march_2022_sentence_with_its_citation(served_corpus):
    # exactly what `curl -s localhost:8080/v1/ask -d '{"question":"why did talks stop?"}'` sends
    response = httpx.post(served_corpus.url + "/v1/ask", content=b'{"question":"why did talks stop?"}',
                          headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "curl/8"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["answered"] is True
    assert answer["answer"].startswith(MARCH) and answer["answer"].rstrip().endswith("[1]")
    first = answer["citations"][0]
    assert first["n"] == 1 and first["source"] == "TASS" and first["date"] == "2024-02-07"
    start, end = first["quotes"][0]
    assert first["passage"][start:end].startswith(MARCH)


def test_the_openai_client_gets_the_same_answer(served_corpus):
    direct = httpx.post(served_corpus.url + "/v1/ask", json={"question": "why did talks stop?"}).json()
    llm = openai.OpenAI(base_url=served_corpus.url + "/v1", api_key="unused-without-keys", max_retries=0)
    reply = llm.chat.completions.create(model="citebot", messages=[{"role": "user", "content": "why did talks stop?"}])
    text = reply.choices[0].message.content
    assert text.startswith(direct["answer"]) and MARCH in text
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in llm.chat.completions.create(
        model="citebot", messages=[{"role": "user", "content": "why did talks stop?"}], stream=True) if chunk.choices)
    assert streamed == text
