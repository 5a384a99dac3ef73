"""URL ingest against a local HTTP server on 127.0.0.1 (tests never touch the network)."""
from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retrieval.ingest import load_sources
from retrieval.errors import UserError
from retrieval.ingest import IngestOptions, fetch_documents
from tests.retrieval.ingest.test_formats import ARTICLE_HTML, PAGE1, PAGE2, RUSSIAN_HTML, make_pdf

MAX = 10_000_000
LOCAL = IngestOptions(max_bytes=MAX, allow_private_urls=True)  # the test server is on 127.0.0.1

ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/article": (200, "text/html; charset=utf-8", ARTICLE_HTML.encode()),
    "/ru-cp1251": (200, "text/html; charset=windows-1251", RUSSIAN_HTML.replace('charset="utf-8"', "").encode("cp1251")),
    "/report.pdf": (200, "application/pdf", make_pdf([PAGE1, PAGE2], title="Report")),
    "/download": (200, "application/octet-stream", make_pdf([PAGE2])),
    "/note.txt": (200, "text/plain; charset=utf-8", "date 2024-02-07 MOSCOW, February 8. /TASS/. Plain text story.".encode()),
    "/big": (200, "text/plain", b"x" * 5000),
    "/image": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x01" * 100),
    "/empty": (200, "text/html", b""),
}


REDIRECTS: dict[str, str] = {}  # path -> Location, set by the redirect tests


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[self.path])
            self.end_headers()
            return
        if self.path == "/old":
            self.send_response(301)
            self.send_header("Location", "/article")
            self.end_headers()
            return
        if self.path in ("/to-file", "/to-ftp"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd" if self.path == "/to-file" else "ftp://127.0.0.1/x")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/huge-stream":  # no Content-Length: the size check must happen while reading
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"y" * 1000)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path not in ROUTES:
            self.send_error(404, "Not Found")
            return
        status, ctype, body = ROUTES[self.path]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that stops reading early is expected here
        pass


@pytest.fixture(scope="module")
def server():
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_html_page_keeps_url_and_metadata(server):
    [doc] = fetch_documents(f"{server}/article", LOCAL)
    assert doc.url == f"{server}/article" and doc.path == doc.url
    assert doc.title == "Russia rules out peace talks with Japan"
    assert (doc.date, doc.source, doc.place) == ("2024-02-08", "TASS", "MOSCOW")
    assert doc.text.startswith("The resumption of talks") and "fake news" not in doc.text


def test_redirect_keeps_final_url(server):
    [doc] = fetch_documents(f"{server}/old", LOCAL)
    assert doc.url == f"{server}/article"


def test_declared_charset_used(server):
    [doc] = fetch_documents(f"{server}/ru-cp1251", LOCAL)
    assert doc.text.startswith("Возобновление переговоров") and doc.lang == "ru"


def test_pdf_by_content_type_with_pages(server):
    [doc] = fetch_documents(f"{server}/report.pdf", LOCAL)
    assert doc.title == "Report" and len(doc.page_starts) == 2
    assert doc.page_at(doc.text.index("unprecedented")) == 2
    assert doc.url == f"{server}/report.pdf"


def test_pdf_sniffed_from_octet_stream(server):
    [doc] = fetch_documents(f"{server}/download", LOCAL)
    assert "unprecedented low level" in doc.text


def test_plain_text_with_date_line(server):
    [doc] = fetch_documents(f"{server}/note.txt", LOCAL)
    assert (doc.text, doc.date, doc.source) == ("Plain text story.", "2024-02-07", "TASS")
    assert doc.url == f"{server}/note.txt"


@pytest.mark.parametrize(
    "path, message",
    [
        ("/missing", "HTTP error 404"),
        ("/big", "over the size limit"),
        ("/huge-stream", "over the size limit"),
        ("/image", "unsupported content type image/png"),
        ("/empty", "empty response"),
        ("/to-file", "(?i)redirect.*(not allowed|refused)"),
        ("/to-ftp", "redirect to a non-web address refused"),
    ],
)
def test_fetch_errors(server, path, message):
    with pytest.raises(UserError, match=message):
        fetch_documents(f"{server}{path}", IngestOptions(max_bytes=4000, allow_private_urls=True))


def test_timeout(server):
    with pytest.raises(UserError, match="timed out"):
        fetch_documents(f"{server}/slow", IngestOptions(max_bytes=MAX, allow_private_urls=True, fetch_timeout=0.3))


def test_connection_refused():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    with pytest.raises(UserError, match="cannot fetch|connection failed"):
        fetch_documents(f"http://127.0.0.1:{port}/x", IngestOptions(allow_private_urls=True, fetch_timeout=2))


def test_urls_through_load_sources(server):
    results = list(load_sources([f"{server}/article", f"{server}/missing"], options=LOCAL))
    assert results[0][0] == f"{server}/article" and results[0][1][0].source == "TASS"
    assert isinstance(results[1][1], UserError)


def test_url_added_to_corpus_is_cited_with_its_url(server, make_corpus):
    corpus = make_corpus(allow_private_urls=True)
    [result] = corpus.add_paths([f"{server}/article"])
    assert result.status == "added"
    answer = corpus.ask("Why are peace treaty talks with Tokyo impossible?")
    assert answer.answered
    assert answer.citations[0].url == f"{server}/article"
    assert answer.citations[0].source == "TASS"


# -- internal addresses are refused unless allowed ------------------------------------------------------
from retrieval.ingest import addresses  # noqa: E402


@pytest.mark.parametrize("ip, reason", [
    ("127.0.0.1", "a loopback address"), ("127.8.9.10", "a loopback address"), ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"), ("172.16.0.1", "a private address"), ("192.168.1.1", "a private address"),
    ("fd00::1", "a private address"), ("169.254.169.254", "the cloud metadata address"),
    ("169.254.1.1", "a link-local address"), ("fe80::1", "a link-local address"),
    ("::ffff:127.0.0.1", "a loopback address"), ("0.0.0.0", "an unspecified address"),
    ("100.64.0.1", "not a public address"),
])
def test_internal_addresses_are_named(ip, reason):
    import ipaddress

    assert addresses.refusal(ipaddress.ip_address(ip)) == reason


@pytest.mark.parametrize("ip", ["8.8.8.8", "2a00:1450:4001:82a::200e", "93.184.216.34"])
def test_public_addresses_pass(ip):
    import ipaddress

    assert addresses.refusal(ipaddress.ip_address(ip)) is None


def test_loopback_url_is_refused_by_default(server):
    with pytest.raises(UserError, match=r"refused: 127.0.0.1 is a loopback address; set CITEBOT_ALLOW_PRIVATE_URLS"):
        fetch_documents(f"{server}/article", IngestOptions(max_bytes=MAX))


def test_host_name_resolving_to_loopback_is_refused(server):
    port = server.rsplit(":", 1)[1]
    with pytest.raises(UserError, match=r"refused: localhost \((127.0.0.1|::1)\) is a loopback address"):
        fetch_documents(f"http://localhost:{port}/article", IngestOptions(max_bytes=MAX))


@pytest.mark.parametrize("target, reason", [
    ("http://127.0.0.2:{port}/article", "127.0.0.2 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is the cloud metadata address"),
    ("http://[::1]:{port}/article", "::1 is a loopback address"),
])
def test_redirect_to_an_internal_address_is_refused(server, target, reason):
    """The first hop is allowed (its network is listed), the redirect target is not."""
    port = server.rsplit(":", 1)[1]
    only_first_hop = IngestOptions(max_bytes=MAX, allowed_networks=("127.0.0.1/32",))
    [doc] = fetch_documents(f"{server}/article", only_first_hop)  # the listed network itself is fetched
    REDIRECTS["/to-internal"] = target.format(port=port)
    with pytest.raises(UserError, match=f"redirect to .* refused: {re.escape(reason)}"):
        fetch_documents(f"{server}/to-internal", only_first_hop)


def test_corpus_refuses_internal_urls_unless_the_setting_allows_them(server, make_corpus, tmp_path):
    refusing = make_corpus(home=tmp_path / "refusing")
    [result] = refusing.add_paths([f"{server}/article"])
    assert result.status == "error" and "CITEBOT_ALLOW_PRIVATE_URLS" in result.message
    allowing = make_corpus(home=tmp_path / "allowing", allow_private_urls=True)
    [result] = allowing.add_paths([f"{server}/article"])
    assert result.status == "added"
