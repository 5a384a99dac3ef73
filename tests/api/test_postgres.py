"""Two API servers on one PostgreSQL database, as behind a load balancer: a key made once works on both,
a document added through one is answered by the other, a revocation reaches both."""
from __future__ import annotations

import io

from retrieval import Corpus, open_keys
from tests.api.conftest import api_settings, start
from tests.fakes.hash_embedder import HashEmbedder


def test_two_servers_share_documents_and_keys_through_postgresql(tmp_path, pg_url):
    settings_a = api_settings(tmp_path / "a", CITEBOT_DATABASE_URL=pg_url)
    settings_b = api_settings(tmp_path / "b", CITEBOT_DATABASE_URL=pg_url)
    keys = open_keys(settings_a)
    admin = keys.create("ingest", "admin")
    reader = keys.create("intranet", "reader")
    corpus_a, corpus_b = Corpus.open(settings_a, embedder=HashEmbedder()), Corpus.open(settings_b, embedder=HashEmbedder())
    a, b = start(settings_a, corpus_a), start(settings_b, corpus_b)
    try:
        text = b"---\ntitle: Ferry resumes\ndate: 2024-06-01\n---\nThe Korsakov ferry to Wakkanai resumed on June 1 after four years."
        with a.client(admin.token) as on_a, b.client(reader.token) as on_b:
            added = on_a.post("/v1/documents", files={"file": ("ferry.txt", io.BytesIO(text), "text/plain")})
            assert added.status_code == 201, added.text
            doc_id = added.json()["results"][0]["doc_id"]
            assert on_b.get(f"/v1/documents/{doc_id}").json()["title"] == "Ferry resumes"
            answer = on_b.post("/v1/ask", json={"question": "when did the Korsakov ferry to Wakkanai resume?"}).json()
            assert answer["citations"][0]["doc_id"] == doc_id
            assert on_b.get("/readyz").json()["engine"] == "postgresql"
            keys.revoke(reader.key.key_id)
            assert on_b.get("/v1/documents").status_code == 401
            assert on_a.get("/v1/documents", headers={"Authorization": f"Bearer {reader.token}"}).status_code == 401
    finally:
        a.stop()
        b.stop()
        corpus_a.close()
        corpus_b.close()
        keys.close()
