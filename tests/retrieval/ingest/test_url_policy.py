"""The URL guard's policy (issue 25): link-local and cloud metadata addresses stay refused whatever
CITEBOT_ALLOW_PRIVATE_URLS says, in every spelling, at the first request, at every redirect and at connect
time; CITEBOT_ALLOW_PRIVATE_URLS may be a list of CIDRs and hosts; only CITEBOT_ALLOW_METADATA_URLS opens
metadata addresses.

Nothing here reaches a non-loopback address: the intranet page is a server on 127.0.0.1, other host names
resolve through a fake resolver, and the one function that connects (``fetch._connect``) is replaced by
one that refuses (and records) any non-loopback address, so a guard that failed open would show up as a
recorded connection instead of a real one.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import retrieval
from retrieval.errors import UserError
from retrieval.ingest import IngestOptions, addresses, fetch, fetch_documents
from retrieval.settings import SettingsError, load_settings

PAGE = (b"<html><head><title>Canteen menu</title></head><body><p>The canteen serves soup on Mondays and "
        b"fish on Fridays, the facilities team said on 3 March 2024.</p></body></html>")
REDIRECTS: dict[str, str] = {}

# Every spelling of a link-local or metadata endpoint a redirect can carry (ASCII: a Location header).
METADATA_SPELLINGS = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://2852039166/latest/meta-data/",
    "http://0xa9fea9fe/latest/meta-data/",
    "http://0xA9.0xFE.0xA9.0xFE/latest/meta-data/",
    "http://0251.0376.0251.0376/latest/meta-data/",
    "http://169.254.43518/latest/meta-data/",
    "http://169.254.169.254./latest/meta-data/",
    "//169.254.169.254/latest/meta-data/",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[2002:a9fe:a9fe::]/latest/meta-data/",
    "http://[::a9fe:a9fe]/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fd20:ce::254]/computeMetadata/v1/",
    "http://100.100.100.200/latest/meta-data/",
    "http://192.0.0.192/opc/v1/instance/",
    "http://169.254.170.2/v2/credentials/",
    "http://[fe80::1]/",
    "http://169.254.1.1/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "HTTP://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path == "/feed" and self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
            return
        if self.path in REDIRECTS:
            self.send_response(302)
            self.send_header("Location", REDIRECTS[self.path])
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def connections(monkeypatch):
    """Every address a fetch connects to; a non-loopback one is recorded and refused, never reached."""
    made: list[str] = []
    real = fetch._connect

    def connect(sock, sockaddr):
        made.append(sockaddr[0])
        if not ipaddress.ip_address(sockaddr[0]).is_loopback:
            raise ConnectionRefusedError(f"test: no connection to {sockaddr[0]}")
        real(sock, sockaddr)

    monkeypatch.setattr(fetch, "_connect", connect)
    return made


@pytest.fixture
def fake_dns(monkeypatch):
    """``fake_dns({"name": ["addr", "addr1,addr2", ...]})``: names answered by the fake resolver, one answer
    per lookup (the last one repeats); other names go to the real resolver."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            queue = answers[host]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0)) if ":" in ip
                    else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answer.split(",")]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers.update


def _redirect_to(server: str, target: str) -> str:
    path = f"/r{len(REDIRECTS)}"
    REDIRECTS[path] = target
    return f"{server}{path}"


@pytest.mark.parametrize("target", METADATA_SPELLINGS)
def test_intranet_redirect_to_metadata_is_refused_with_the_flag_on(server, make_corpus, tmp_path, connections, target):
    """The attack of issue 25: with CITEBOT_ALLOW_PRIVATE_URLS=true an intranet page answers 302 to the
    credentials page; the add fails in one line and nothing is stored."""
    corpus = make_corpus(home=tmp_path / "index", allow_private_urls=True)
    url = _redirect_to(server, target)
    [result] = corpus.add_paths([url])
    assert result.status == "error", result
    assert "\n" not in result.message
    assert "redirect to" in result.message and "refused" in result.message, result.message
    assert any(reason in result.message for reason in ("metadata address", "link-local address",
                                                       "metadata host name")), result.message
    assert "CITEBOT_ALLOW_METADATA_URLS" in result.message
    assert corpus.documents() == []
    assert all(ipaddress.ip_address(ip).is_loopback for ip in connections), connections


@pytest.mark.parametrize("url", [s for s in METADATA_SPELLINGS if s.startswith("http")] + [
    "http://１６９．２５４．１６９．２５４/latest/meta-data/",  # fullwidth digits and dots (IDNA)
])
def test_metadata_is_refused_at_the_first_request_with_the_flag_on(connections, url):
    with pytest.raises(UserError, match=r"refused: .*(metadata|link-local).*CITEBOT_ALLOW_METADATA_URLS"):
        fetch_documents(url, IngestOptions(allow_private_urls=True))
    assert connections == []


def test_a_name_resolving_to_metadata_is_refused(fake_dns, connections):
    fake_dns({"imds.intranet.test": ["10.0.0.5,169.254.169.254"]})  # one private, one metadata address
    with pytest.raises(UserError, match=r"refused: imds.intranet.test \(169.254.169.254\) is the cloud metadata"):
        fetch_documents("http://imds.intranet.test/latest/meta-data/", IngestOptions(allow_private_urls=True))
    assert connections == []


def test_metadata_is_refused_at_connect_time_when_dns_changes_its_answer(server, fake_dns, connections, make_corpus,
                                                                          tmp_path):
    """DNS rebinding: the redirect target resolves to 127.0.0.1 when checked and to the metadata address
    when connected; the connection is refused."""
    port = server.rsplit(":", 1)[1]
    fake_dns({"rebind.test": ["127.0.0.1", "169.254.169.254"]})
    url = _redirect_to(server, f"http://rebind.test:{port}/latest/meta-data/")
    corpus = make_corpus(home=tmp_path / "index", allow_private_urls=True)
    [result] = corpus.add_paths([url])
    assert result.status == "error"
    assert "refused: rebind.test (169.254.169.254) is the cloud metadata address" in result.message
    assert corpus.documents() == []
    assert connections == ["127.0.0.1"]  # the intranet page only


def test_a_cidr_allow_list_admits_loopback_and_refuses_10_1_2_3(server, fake_dns, connections, make_corpus, tmp_path):
    settings = load_settings(env={"CITEBOT_ALLOW_PRIVATE_URLS": "127.0.0.0/8, intranet.local"})
    assert settings.allow_private_urls == ("127.0.0.0/8", "intranet.local")
    options = IngestOptions.from_settings(settings)
    [doc] = fetch_documents(f"{server}/article", options)
    assert doc.title == "Canteen menu"
    for url in ("http://10.1.2.3/", "http://[::ffff:10.1.2.3]/", "http://167838211/", _redirect_to(server, "http://10.1.2.3/")):
        with pytest.raises(UserError, match=r"refused: (10.1.2.3|\S+ \(10.1.2.3\)) is a private address; set CITEBOT_ALLOW"):
            fetch_documents(url, options)
    fake_dns({"files.intranet.test": ["10.1.2.3"], "intranet.local": ["10.1.2.3"]})
    with pytest.raises(UserError, match=r"refused: files.intranet.test \(10.1.2.3\) is a private address"):
        fetch_documents("http://files.intranet.test/", options)
    assert all(ip == "127.0.0.1" for ip in connections), connections
    # a listed host name is admitted (the fake connect refuses it: the guard let it through)
    with pytest.raises(UserError, match=r"cannot fetch .*test: no connection to 10.1.2.3"):
        fetch_documents("http://intranet.local/", options)
    corpus = make_corpus(home=tmp_path / "index", allow_private_urls=("127.0.0.0/8",))
    results = {r.path: r.status for r in corpus.add_paths([f"{server}/article", "http://10.1.2.3/"])}
    assert results == {f"{server}/article": "added", "http://10.1.2.3/": "error"}


def test_the_metadata_allow_list_is_explicit(fake_dns, connections):
    with pytest.raises(SettingsError, match=r"CITEBOT_ALLOW_METADATA_URLS='true' is not valid: list the CIDRs"):
        load_settings(env={"CITEBOT_ALLOW_METADATA_URLS": "true"})
    options = IngestOptions.from_settings(load_settings(env={"CITEBOT_ALLOW_METADATA_URLS": "169.254.169.254/32"}))
    with pytest.raises(UserError, match=r"test: no connection to 169.254.169.254"):  # admitted, fake-refused
        fetch_documents("http://169.254.169.254/latest/meta-data/", options)
    with pytest.raises(UserError, match=r"refused: 169.254.170.2 is a cloud metadata address"):
        fetch_documents("http://169.254.170.2/", options)  # only what is listed
    with pytest.raises(UserError, match=r"refused: 127.0.0.1 is a loopback address"):
        fetch_documents("http://127.0.0.1:9/", options)  # and it does not open private space


@pytest.mark.parametrize("raw, message", [
    ("10.0.0.0/33", "is neither a CIDR nor a host name"),
    ("10.0.0.0/8,bad host", "'bad host' is neither a CIDR nor a host name"),
    ("maybe!", "is neither a CIDR nor a host name"),
])
def test_a_malformed_private_allow_list_is_refused_when_loaded(raw, message):
    with pytest.raises(SettingsError, match=f"CITEBOT_ALLOW_PRIVATE_URLS={raw!r} is not valid: .*{message}"):
        load_settings(env={"CITEBOT_ALLOW_PRIVATE_URLS": raw})


def test_true_keeps_private_space_open_but_not_metadata():
    settings = load_settings(env={"CITEBOT_ALLOW_PRIVATE_URLS": "true"})
    policy = IngestOptions.from_settings(settings).policy
    for ip in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "fd12::1", "::1"):
        policy.check(ipaddress.ip_address(ip), ip)
    for ip in ("169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200"):
        with pytest.raises(UserError, match="CITEBOT_ALLOW_METADATA_URLS"):
            policy.check(ipaddress.ip_address(ip), ip)


def test_check_url_is_the_public_guard_for_urls_fetched_later():
    """What feeds, sitemaps and POST /documents call before queuing a URL: exported from ``retrieval``."""
    assert retrieval.check_url is fetch.check_url and retrieval.fetch_url is fetch.fetch_url
    options = IngestOptions(allow_private_urls=True)
    assert retrieval.check_url("http://EXAMPLE.org:8080/a?b#c", options, resolve=False) == "http://example.org:8080/a?b#c"
    with pytest.raises(UserError, match="metadata"):
        retrieval.check_url("http://0xa9fea9fe/", options)
    with pytest.raises(UserError, match="loopback"):
        retrieval.check_url("http://2130706433/")


def test_the_address_spellings_reduce_to_one_address():
    assert {str(addresses.literal(s)) for s in ("2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518",
                                                  "[::ffff:169.254.169.254]")} == {"169.254.169.254", "::ffff:a9fe:a9fe"}
    assert addresses.literal("news.example") is None and addresses.literal("1.example") is None
    assert str(addresses.unwrap(ipaddress.ip_address("64:ff9b::a9fe:a9fe"))) == "169.254.169.254"


# -- issue 23: URL parsing (credentials, fullwidth digits) ---------------------------------------------
@pytest.mark.parametrize("userinfo", ["user:s3cr3t-pw", "user:s3cr3t-pw@evil.example:80", "s3cr3t-pw"])
def test_credentials_in_a_url_are_refused_and_never_echoed(server, make_corpus, tmp_path, connections, userinfo):
    """``user:pass@host`` was taken whole as the host name and the password echoed in the error."""
    host = server.removeprefix("http://")
    corpus = make_corpus(home=tmp_path / "index", allow_private_urls=True)
    url = f"http://{userinfo}@{host}/article"
    redirect = _redirect_to(server, url)
    results = corpus.add_paths([url, redirect])
    assert [r.status for r in results] == ["error", "error"]
    for result in results:
        assert "s3cr3t-pw" not in result.message and "s3cr3t-pw" not in result.path, result
        assert "a URL with credentials (user:password@) is refused" in result.message, result.message
    assert results[0].path == f"http://***@{host}/article"
    assert corpus.documents() == [] and connections == ["127.0.0.1"]  # only the redirecting page


def test_redact_url_hides_userinfo_only():
    assert retrieval.redact_url("https://a:b@host:8080/p?q=a@b#f") == "https://***@host:8080/p?q=a@b#f"
    assert retrieval.redact_url("//a:b@host/") == "//***@host/"
    assert retrieval.redact_url("http://host/p?email=a@b") == "http://host/p?email=a@b"


@pytest.mark.parametrize("url, shown", [
    ("http://１２７．０．０．１/", "refused: 127.0.0.1 is a loopback address"),
    ("http://１０．１．２．３:8080/x", "refused: 10.1.2.3 is a private address"),
    ("http://ｌｏｃａｌｈｏｓｔ/", "refused: localhost (127.0.0.1) is a loopback address"),
])
def test_fullwidth_hosts_are_idna_normalised_and_cleanly_refused(connections, url, shown):
    with pytest.raises(UserError) as caught:
        fetch_documents(url, IngestOptions())
    assert shown in str(caught.value), caught.value
    assert "Unicode" not in str(caught.value) and connections == []


def test_a_host_idna_cannot_encode_is_one_line():
    with pytest.raises(UserError, match=r"not a valid host name \(it cannot be IDNA-encoded\)"):
        fetch_documents("http://a\u200f\u0627b.example/", IngestOptions())


def test_fetch_url_sends_headers_and_returns_a_304(server):
    """What a feed sync needs from the one guarded fetch: conditional requests."""
    options = IngestOptions(allow_private_urls=("127.0.0.1",))
    first = retrieval.fetch_url(f"{server}/feed", options)
    assert (first.status, first.etag, first.headers["etag"]) == (200, '"v1"', '"v1"') and first.body == PAGE
    again = retrieval.fetch_url(f"{server}/feed", options, headers={"If-None-Match": first.etag})
    assert (again.status, again.body, again.etag) == (304, b"", '"v1"')


def test_citebot_add_with_the_flag_on_refuses_the_metadata_redirect_in_one_line(server, tmp_path):
    """The issue's attack as a user runs it: one error line, exit 1, nothing stored."""
    from tests.reliability.conftest import citebot

    url = _redirect_to(server, "http://[::ffff:169.254.169.254]/latest/meta-data/iam/security-credentials/")
    result = citebot(tmp_path / "home", "add", url, CITEBOT_ALLOW_PRIVATE_URLS="true", timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert errors == [f"error: {url}: redirect to http://[::ffff:169.254.169.254]/latest/meta-data/iam/security-"
                      "credentials/ refused: ::ffff:169.254.169.254 (169.254.169.254) is the cloud metadata address; "
                      "refused even with CITEBOT_ALLOW_PRIVATE_URLS; list it in CITEBOT_ALLOW_METADATA_URLS to fetch it"]
    assert "corpus has 0 documents" in result.stderr
