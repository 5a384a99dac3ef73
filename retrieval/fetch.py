"""Fetch a web page, PDF, DOCX or text file by URL and load it as Documents, keeping its final url.

A slow or huge response must not hang the bot or fill memory: there is a timeout on connect and on
every read, and reading stops as soon as the body passes the size limit.
"""
from __future__ import annotations

import http.client
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from retrieval.errors import UserError
from retrieval.types import Document

DEFAULT_TIMEOUT = 20.0  # seconds, for connecting and for each read
USER_AGENT = "citebot/0.1 (+document ingest)"
_CHUNK = 65536

_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_TEXT_TYPES = {"text/plain", "text/markdown", "text/x-markdown"}
_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Response:
    """What was fetched: the url after redirects, the declared content type and the body."""

    url: str
    content_type: str
    charset: str
    body: bytes


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): a page must not redirect us to ftp:// or file://."""

    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urllib.parse.urlsplit(newurl).scheme.lower() not in {"http", "https"}:
            raise UserError(f"{req.full_url}: redirect to a non-web address refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, max_bytes: int, timeout: float = DEFAULT_TIMEOUT) -> Response:
    """GET ``url``; raises UserError on HTTP errors, timeouts and bodies over ``max_bytes``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise UserError(f"{url}: not an http(s) URL")
    handlers: list[urllib.request.BaseHandler] = [_RedirectHandler()]
    if parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our own loopback
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        with opener.open(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise UserError(f"{url}: {int(length)} bytes is over the size limit of {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise UserError(f"{url}: response is over the size limit of {max_bytes} bytes")
                chunks.append(chunk)
            content_type = resp.headers.get_content_type() or ""
            charset = resp.headers.get_content_charset() or ""
            return Response(url=resp.geturl(), content_type=content_type.lower(), charset=charset, body=b"".join(chunks))
    except urllib.error.HTTPError as exc:
        raise UserError(f"{url}: HTTP error {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise UserError(f"{url}: timed out after {timeout:g} s") from None
        raise UserError(f"{url}: cannot fetch ({reason})") from None
    except (socket.timeout, TimeoutError):
        raise UserError(f"{url}: timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise UserError(f"{url}: connection failed ({type(exc).__name__}: {exc})") from None


def fetch_documents(url: str, max_bytes: int, timeout: float = DEFAULT_TIMEOUT) -> list[Document]:
    """Fetch ``url`` and load it by content type (then URL suffix, then content sniffing)."""
    from retrieval import documents, formats

    resp = fetch(url, max_bytes, timeout)
    final = resp.url
    if not resp.body.strip():
        raise UserError(f"{url}: empty response")
    kind = _kind(resp)
    if kind == "html":
        data: bytes | str = resp.body
        if resp.charset:
            try:
                data = resp.body.decode(resp.charset)
            except (LookupError, UnicodeDecodeError):
                data = resp.body  # let trafilatura detect the encoding
        return [formats.load_html(data, final, final, url=final)]
    if kind in {"pdf", "docx"}:
        return formats.load_binary(resp.body, "." + kind, final, final, url=final)
    if kind == "text":
        if resp.charset:
            try:
                text = resp.body.decode(resp.charset)
            except (LookupError, UnicodeDecodeError):
                text = documents.decode_text(resp.body, final)
        else:
            text = documents.decode_text(resp.body, final)
        suffix = ".md" if "markdown" in resp.content_type or final.lower().endswith((".md", ".markdown")) else ".txt"
        docs = documents.load_text(text, path=final, suffix=suffix)
        for doc in docs:
            doc.url = doc.url or final
        return docs
    raise UserError(f"{url}: unsupported content type {resp.content_type or 'unknown'}")


def _kind(resp: Response) -> str:
    ctype = resp.content_type
    if ctype in _HTML_TYPES:
        return "html"
    if ctype == "application/pdf":
        return "pdf"
    if ctype == _DOCX_TYPE:
        return "docx"
    if ctype in _TEXT_TYPES:
        return "text"
    path = urllib.parse.urlsplit(resp.url).path.lower()
    for suffix, kind in ((".pdf", "pdf"), (".docx", "docx"), (".html", "html"), (".htm", "html"),
                         (".txt", "text"), (".md", "text"), (".markdown", "text")):
        if path.endswith(suffix):
            return kind
    head = resp.body[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "pdf"
    if re.match(rb"(<!doctype html|<html|<head|<body|<meta|<!--)", head):
        return "html"
    return ""
