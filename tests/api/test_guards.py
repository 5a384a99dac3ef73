"""Keys, limits, the error shape and bad input: each refusal is a clear 4xx in one shape, nothing a client
sends makes a response show a traceback or a secret, and the process stays up and keeps its data."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import io
import json
import socket
import time

import httpx
import pytest

from retrieval import open_keys
from tests.reliability.test_bad_input import _pdf_bomb

ADMIN = "admin-key-for-tests-0001"
READER = "reader-key-for-tests-0001"
LLM_SECRET = "sk-llm-secret-never-shown-42"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["message"] and body["error"]["request_id"] == response.headers["x-request-id"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


def clean(response: httpx.Response) -> None:
    text = response.text
    for leak in ("Traceback", 'File "', LLM_SECRET, ADMIN, READER):
        assert leak not in text, f"{leak!r} in {response.request.method} {response.request.url}: {text[:300]}"


def test_with_no_key_reads_are_open_on_loopback_and_admin_is_refused(serve_api):
    api = serve_api()
    with api.client("anything-an-openai-client-sends") as http:
        assert http.post("/v1/ask", json={"question": "why did talks stop?"}).status_code == 200
        assert_error(http.post("/v1/documents", json={"url": "https://example.org/a"}), 403, "admin_key_required")
        assert_error(http.delete("/v1/documents/1"), 403, "admin_key_required")
    assert api.app.state.auth.identify("", "127.0.0.1").role == "local"
    with pytest.raises(Exception) as refused:
        api.app.state.auth.identify("", "192.0.2.7")
    assert refused.value.status == 401


def test_keys_from_settings_and_from_the_store_reader_and_admin(serve_api):
    api = serve_api(CITEBOT_API_KEYS=READER, CITEBOT_API_ADMIN_KEYS=ADMIN)
    with api.client() as anonymous:
        error = assert_error(anonymous.post("/v1/ask", json={"question": "why?"}), 401, "api_key_required")
        assert "Bearer" in error["message"]
        assert_error(anonymous.get("/v1/documents", headers={"Authorization": "Bearer nope"}), 401, "invalid_api_key")
        assert anonymous.get("/v1/documents", headers={"X-API-Key": READER}).status_code == 200
        assert anonymous.get("/healthz").status_code == 200  # probes need no key
    keys = open_keys(api.settings)
    try:
        stored = keys.create("cms", "reader")
        with api.client(stored.token) as http:
            assert http.get("/v1/documents").status_code == 200
            assert_error(http.delete("/v1/documents/1"), 403, "admin_key_required")
            keys.revoke(stored.key.key_id)
            assert_error(http.get("/v1/documents"), 401, "invalid_api_key")
    finally:
        keys.close()


def test_rate_limit_answers_429_with_retry_after(serve_api):
    api = serve_api(CITEBOT_API_KEYS=f"{READER},other-reader-key-0002", CITEBOT_API_RATE_LIMIT="3")
    with api.client(READER) as http, api.client("other-reader-key-0002") as other:
        codes = [http.get("/v1/documents").status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        limited = http.get("/v1/documents")
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert other.get("/v1/documents").status_code == 200  # per key, not global


def test_bad_input_gets_clear_4xx_and_loses_nothing(serve_api):
    api = serve_api(CITEBOT_API_ADMIN_KEYS=ADMIN, CITEBOT_LLM_API_KEY=LLM_SECRET)
    with api.client(ADMIN) as http:
        responses = [
            (assert_error(http.post("/v1/ask", content=b'{"question": "why', headers={"content-type": "application/json"}),
                          400, "invalid_json"), None),
            (assert_error(http.post("/v1/ask", json={"question": 42}), 422, "invalid_request"), "question"),
            (assert_error(http.post("/v1/ask", json={"question": "why?", "k": "3"}), 422, "invalid_request"), "k"),
            (assert_error(http.post("/v1/ask", json={"question": "why?", "k": 10_000}), 422, "invalid_request"), "k"),
            (assert_error(http.post("/v1/ask", json={"question": "why?", "colour": "red"}), 422, "invalid_request"),
             "colour"),
            (assert_error(http.post("/v1/ask", json=["why?"]), 422, "invalid_request"), None),
            (assert_error(http.post("/v1/ask", json={"question": "   "}), 400, "question_empty"), None),
            (assert_error(http.post("/v1/ask", json={"question": "why " * 25_000}), 400, "question_too_long"), None),
            (assert_error(http.post("/v1/ask", content=b"x" * 10 * 1024 * 1024,
                                    headers={"content-type": "application/json"}), 413, "too_large"), None),
            (assert_error(http.get("/v1/nothing-here"), 404, "not_found"), None),
            (assert_error(http.put("/v1/ask", json={}), 405, "method_not_allowed"), None),
            (assert_error(http.post("/v1/documents", content=b"hello", headers={"content-type": "text/plain"}),
                          415, "unsupported_media_type"), None),
        ]
        for error, field in responses:
            if field:
                assert field in error["message"]
        bomb = http.post("/v1/documents", files={"file": ("bomb.pdf", io.BytesIO(_pdf_bomb()), "application/pdf")})
        assert "decompression limit" in assert_error(bomb, 422)["message"]
        private = http.post("/v1/documents", json={"url": "http://127.0.0.1:9/secret"})
        assert private.status_code == 422 and "address" in private.json()["error"]["message"]
        metadata = http.post("/v1/documents", json={"url": "http://169.254.169.254/latest/meta-data/"})
        assert metadata.status_code == 422
        assert_error(http.post("/v1/documents", json={"url": 5}), 422, "invalid_request")
        # nothing lost, still up
        assert [d["doc_id"] for d in http.get("/v1/documents").json()["documents"]] == [1]
        assert http.post("/v1/ask", json={"question": "why did talks stop?"}).json()["citations"]
        for r in (bomb, private, metadata):
            clean(r)


def test_no_response_shows_a_traceback_or_a_secret(serve_api, monkeypatch):
    api = serve_api(CITEBOT_API_KEYS=READER, CITEBOT_API_ADMIN_KEYS=ADMIN, CITEBOT_LLM_API_KEY=LLM_SECRET)
    corpus = api.app.state.service.corpus

    def broken(*args, **kwargs):
        raise RuntimeError(f"database password is {LLM_SECRET}")

    with api.client(READER) as http:
        seen = [http.get(path) for path in ("/", "/v1/documents", "/v1/models", "/metrics", "/readyz", "/openapi.json")]
        for name in ("retrieve", "search"):  # ask goes down through retrieve, /v1/search through search
            monkeypatch.setattr(corpus, name, broken)
        failed = http.post("/v1/ask", json={"question": "why did talks stop?"})
        error = assert_error(failed, 500, "internal")
        assert error["request_id"] in error["message"]
        seen += [failed, http.get("/v1/search", params={"q": "talks"})]
        for response in seen:
            clean(response)


def test_cors_is_off_unless_configured_and_request_ids_are_returned(serve_api):
    closed = serve_api()
    with closed.client() as http:
        r = http.get("/v1/models", headers={"Origin": "https://cms.example.org", "X-Request-ID": "lb-1234"})
        assert "access-control-allow-origin" not in r.headers
        assert r.headers["x-request-id"] == "lb-1234"
        assert len(http.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["x-request-id"]) == 16
    opened = serve_api(CITEBOT_API_CORS_ORIGINS="https://cms.example.org")
    with opened.client() as http:
        r = http.options("/v1/ask", headers={"Origin": "https://cms.example.org", "Access-Control-Request-Method": "POST"})
        assert r.headers["access-control-allow-origin"] == "https://cms.example.org"
        other = http.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_a_slow_client_is_cut_off_and_others_are_served(serve_api):
    api = serve_api(CITEBOT_API_HEADER_TIMEOUT="1", CITEBOT_API_BODY_TIMEOUT="1")
    with socket.create_connection(("127.0.0.1", int(api.url.rsplit(":", 1)[1])), timeout=20) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for _ in range(40):  # one header line every 0.25 s: never a complete request
            try:
                slow.sendall(b"X-Slow: 1\r\n")
                if slow.recv(1, socket.MSG_DONTWAIT) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            time.sleep(0.25)
        assert closed, "the server kept a connection whose headers never finished"
    with socket.create_connection(("127.0.0.1", int(api.url.rsplit(":", 1)[1])), timeout=20) as trickle:
        trickle.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        reply = b""
        while chunk := trickle.recv(4096):
            reply += chunk
        assert b" 408 " in reply.split(b"\r\n")[0] and b"request_timeout" in reply
    with api.client() as http:
        assert http.get("/healthz").status_code == 200


def test_a_burst_of_concurrent_connections_gets_answers_or_clear_refusals(serve_api):
    api = serve_api(CITEBOT_API_RATE_LIMIT="100000", CITEBOT_API_MAX_REQUESTS="16")

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=300, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=api.url, timeout=60, limits=limits) as http:
            async def one(i: int) -> httpx.Response:
                if i % 2:
                    return await http.post("/v1/ask", json={"question": f"why did talks stop? {i}"})
                return await http.get("/v1/search", params={"q": "peace treaty"})

            return list(await asyncio.gather(*(one(i) for i in range(300))))

    responses = asyncio.run(burst())
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, sorted(set(codes))
    assert codes.count(200) >= 16
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["error"]["code"] == "server_busy" and refused.headers["retry-after"] == "1"
    with api.client() as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/v1/documents").json()["documents"][0]["doc_id"] == 1
        assert http.post("/v1/ask", json={"question": "why did talks stop?"}).status_code == 200


def test_requests_past_the_cap_are_refused_at_once_and_probes_still_answer(serve_api, monkeypatch):
    api = serve_api(CITEBOT_API_MAX_REQUESTS="1")
    corpus = api.app.state.service.corpus
    search, release = corpus.search, threading.Event()

    def slow(*args, **kwargs):
        release.wait(30)
        return search(*args, **kwargs)

    monkeypatch.setattr(corpus, "search", slow)
    with api.client() as http, concurrent.futures.ThreadPoolExecutor(1) as pool:
        held = pool.submit(http.get, "/v1/search", params={"q": "talks"})
        deadline = time.monotonic() + 10
        while api.app.state.service.limiter.borrowed_tokens < 1 and time.monotonic() < deadline:
            time.sleep(0.02)  # the first request is inside the corpus now
        with api.client() as other:
            assert_error(other.get("/v1/documents"), 429, "server_busy")
            # the probes answer while the question pool is taken (a timeout here means /readyz queued behind it)
            assert other.get("/healthz", timeout=5).status_code == 200
            assert other.get("/readyz", timeout=5).status_code == 200
        release.set()
        assert held.result().status_code == 200
        assert http.get("/v1/documents").status_code == 200


def test_error_bodies_are_json_objects_even_for_odd_requests(serve_api):
    api = serve_api()
    with api.client() as http:
        for response in (http.get("/v1/search"), http.get("/v1/search", params={"q": "x", "k": "many"}),
                         http.get("/v1/documents", params={"limit": -1})):
            body = assert_error(response, 422, "invalid_request")
            json.dumps(body)
