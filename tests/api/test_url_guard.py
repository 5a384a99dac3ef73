"""POST /documents follows the URL guard of issue 25: with CITEBOT_ALLOW_PRIVATE_URLS=true an intranet page
is added, but its redirect to the cloud metadata address is refused and nothing is stored."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from retrieval import open_keys

PAGE = (b"<html><head><title>Canteen menu</title></head><body><p>The canteen serves soup on Mondays and fish on "
        b"Fridays, the facilities team said on 3 March 2024.</p></body></html>")


class Intranet(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://0xa9fea9fe/latest/meta-data/iam/security-credentials/")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


def test_post_documents_refuses_the_metadata_redirect_with_the_flag_on(serve_api):
    intranet = ThreadingHTTPServer(("127.0.0.1", 0), Intranet)
    threading.Thread(target=intranet.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{intranet.server_address[1]}"
    api = serve_api(CITEBOT_ALLOW_PRIVATE_URLS="true")
    keys = open_keys(api.settings)
    try:
        admin = keys.create("ops", "admin")
        with api.client(admin.token) as http:
            before = [d["doc_id"] for d in http.get("/v1/documents").json()["documents"]]
            refused = http.post("/v1/documents", json={"url": f"{base}/to-metadata"})
            assert refused.status_code == 422, refused.text
            message = refused.json()["error"]["message"]
            assert "is the cloud metadata address" in message and "\n" not in message
            assert [d["doc_id"] for d in http.get("/v1/documents").json()["documents"]] == before
            added = http.post("/v1/documents", json={"url": f"{base}/menu"})
            assert added.status_code < 300, added.text
    finally:
        keys.close()
        intranet.shutdown()
        intranet.server_close()
