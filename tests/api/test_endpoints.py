"""The /v1 endpoints over the real server: ask (filters, as_of, follow-ups), search, documents (list, read,
add, remove), the probes and the OpenAPI document."""
from __future__ import annotations

import io

ADMIN = "admin-key-for-tests-0001"
READER = "reader-key-for-tests-0001"


def keyed(serve_api, **env):
    return serve_api(CITEBOT_API_KEYS=READER, CITEBOT_API_ADMIN_KEYS=ADMIN, **env)


def test_ask_returns_the_ask_json_shape_with_a_conversation_for_follow_ups(serve_api):
    api = serve_api()
    with api.client() as http:
        first = http.post("/v1/ask", json={"question": "why did talks stop?"})
        assert first.status_code == 200, first.text
        data = first.json()
        assert {"question", "answered", "answer", "citations", "conversation_id"} <= set(data)
        assert data["citations"] and data["citations"][0]["title"]
        quoted = [c["passage"][a:b] for c in data["citations"] for a, b in c["quotes"]]
        assert quoted and all(q.strip() in data["answer"] for q in quoted)  # the answering sentences, located
        follow = http.post("/v1/ask", json={"question": "when was that?", "conversation_id": data["conversation_id"]})
        assert follow.json()["searched_for"] == "when did talks stop?"
        stateless = http.post("/v1/ask", json={"question": "when was that?", "history": ["why did talks stop?"]})
        assert stateless.json()["searched_for"] == "when did talks stop?"
        alone = http.post("/v1/ask", json={"question": "when was that?", "conversation_id": "unknown-one"})
        assert "searched_for" not in alone.json() or alone.json()["searched_for"] is None


def test_as_of_and_filters_narrow_what_is_cited(serve_api):
    api = serve_api()
    with api.client() as http:
        before = http.post("/v1/ask", json={"question": "why did talks stop?", "as_of": "2020-01-01"}).json()
        assert before["citations"] == [] and not before["answered"]
        assert before["as_of"] == "2020-01-01"
        other = http.post("/v1/ask", json={"question": "why did talks stop?", "source": "Reuters"}).json()
        assert other["citations"] == []
        bad = http.post("/v1/ask", json={"question": "why?", "as_of": "2024-13-45"})
        assert bad.status_code == 400 and "2024-13-45" in bad.json()["error"]["message"]
        shapeless = http.post("/v1/ask", json={"question": "why?", "until": "yesterday", "as_of": "2024-01-01"})
        assert shapeless.status_code == 422 and "until" in shapeless.json()["error"]["message"]


def test_search_and_documents(serve_api):
    api = serve_api()
    with api.client() as http:
        hits = http.get("/v1/search", params={"q": "peace treaty talks", "k": 2}).json()["hits"]
        assert len(hits) == 2 and hits[0]["doc_id"] == 1 and "treaty" in hits[0]["text"].lower()
        listed = http.get("/v1/documents").json()
        assert [d["doc_id"] for d in listed["documents"]] == [1] and listed["next_offset"] is None
        doc = http.get("/v1/documents/1").json()
        assert doc["title"] and "March 2022" in doc["text"]
        for unknown in ("999", "abc", "99999999999999999999999", "1.5"):
            missing = http.get(f"/v1/documents/{unknown}")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_document"


def test_admins_add_and_remove_documents_readers_cannot(serve_api):
    api = keyed(serve_api)
    text = b"---\ntitle: Harbour closed\ndate: 2024-05-02\n---\nThe port of Kholmsk was closed on May 2 after a storm broke its pier."
    with api.client(ADMIN) as admin, api.client(READER) as reader:
        refused = reader.post("/v1/documents", files={"file": ("harbour.txt", io.BytesIO(text), "text/plain")})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_key_required"
        added = admin.post("/v1/documents", files={"file": ("harbour.txt", io.BytesIO(text), "text/plain")},
                           data={"source": "Sakhalin Daily"})
        assert added.status_code == 201, added.text
        result = added.json()["results"][0]
        assert result["status"] == "added" and result["path"] == "upload:harbour.txt"
        doc_id = result["doc_id"]
        stored = reader.get(f"/v1/documents/{doc_id}").json()
        assert (stored["source"], stored["title"], stored["date"]) == ("Sakhalin Daily", "Harbour closed", "2024-05-02")
        again = admin.post("/v1/documents", files={"file": ("copy.txt", io.BytesIO(text), "text/plain")})
        assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"
        answer = reader.post("/v1/ask", json={"question": "why was the port of Kholmsk closed?"}).json()
        assert any(c["doc_id"] == doc_id for c in answer["citations"])
        assert reader.delete(f"/v1/documents/{doc_id}").status_code == 403
        removed = admin.delete(f"/v1/documents/{doc_id}")
        assert removed.status_code == 200 and removed.json()["removed"]["doc_id"] == doc_id
        assert admin.delete(f"/v1/documents/{doc_id}").status_code == 404
        assert [d["doc_id"] for d in reader.get("/v1/documents").json()["documents"]] == [1]


def test_probes_metrics_and_openapi(serve_api):
    api = serve_api()
    with api.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["generation"] >= 1 and ready["documents"] == 1
        http.post("/v1/ask", json={"question": "why did talks stop?"})
        http.post("/v1/ask", json={"question": 5})
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert 'citebot_questions_total{endpoint="ask"' in text
        assert "citebot_answer_seconds_bucket" in text and "citebot_answered_share" in text
        assert 'citebot_errors_total{code="invalid_request"' in text
        spec = http.get("/openapi.json").json()
        for path in ("/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}", "/v1/chat/completions",
                     "/v1/models", "/healthz", "/readyz", "/metrics"):
            assert path in spec["paths"], path
        assert "swagger" in http.get("/docs").text.lower()
