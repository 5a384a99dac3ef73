"""Fetch a URL (web page, PDF, DOCX, text, bulk file) and load it as Documents, keeping its final url.

A URL given to the bot or the CLI must not hang it, fill memory, reach internal services or be stored
half-read: each read has a timeout and the whole fetch a deadline (a server sending one byte per second
is cut off); the body stops at the size limit; every connection (redirects included) goes only to
addresses the policy allows (:class:`~retrieval.ingest.addresses.UrlPolicy`), checked on the address
actually connected to; a body shorter than its Content-Length is refused as incomplete.

:func:`fetch_url` is the one guarded HTTP GET of the project: anything that fetches a URL a user or a
source named (feeds, sitemaps, the HTTP API's ``POST /documents``) calls it, or :func:`check_url` to
refuse a URL before queuing it, so the address rules hold everywhere.
"""
from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Mapping

from retrieval.deadline import SocketDeadline
from retrieval.errors import UserError
from retrieval.types import Document

from . import addresses, formats
from .options import IngestOptions
from .origin import Loaded, Origin

USER_AGENT = "citebot/0.1 (+document ingest)"
_CHUNK = 65536


@dataclass
class Response:
    """What was fetched: the url after redirects, the declared content type and the body; ``status`` is
    200-299, or 304 when a conditional request (``If-None-Match``/``If-Modified-Since``) was not modified
    (then ``body`` is empty); ``etag`` and ``last_modified`` are the validators for the next request."""

    url: str
    content_type: str
    charset: str
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    etag: str = ""
    last_modified: str = ""


class _Guard(SocketDeadline):
    """Opens every socket of one fetch: checks each address against the policy, and at the deadline
    shuts every socket down so a read blocked on a trickling server returns at once (retrieval/deadline.py)."""

    def __init__(self, options: IngestOptions) -> None:
        super().__init__(options.fetch_deadline)
        self.options = options
        self.policy = options.policy

    def check(self, host: str, port: int) -> None:
        """Refuse ``host`` before connecting (a redirect's target, or the URL's host behind a proxy)."""
        self.policy.check_host(host, port)

    def connect(self, address: tuple[str, int], timeout: float | None = None,
                source_address: tuple[str, int] | None = None) -> socket.socket:
        """socket.create_connection, connecting only to the addresses just resolved and checked (so a
        name cannot resolve to a public address for the check and a private one for the connection)."""
        host, port = address
        last: OSError | None = None
        self.policy.check_name(host)
        found = addresses.resolve(host, port)
        for _, ip, _ in found:  # all of them first: one refused address refuses the name
            self.policy.check(ip, host)
        for family, ip, sockaddr in found:
            sock = socket.socket(family, socket.SOCK_STREAM)
            self.track(sock)
            try:
                sock.settimeout(min(timeout or self.options.fetch_timeout, max(0.1, self.remaining())))
                if source_address:
                    sock.bind(source_address)
                _connect(sock, sockaddr)
                return sock
            except OSError as exc:
                last = exc
                sock.close()
        raise last or OSError(f"cannot connect to {host}")


def _connect(sock: socket.socket, sockaddr: tuple) -> None:
    """The one place a fetch connects (after the address check; tests replace it to prove that a refused
    address is never connected to)."""
    sock.connect(sockaddr)


def _handlers(guard: _Guard) -> list[urllib.request.BaseHandler]:
    def guarded(connection_class: type[http.client.HTTPConnection]):  # type: ignore[no-untyped-def]
        def factory(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            conn = connection_class(host, **kwargs)
            conn._create_connection = guard.connect  # type: ignore[attr-defined]
            return conn
        return factory

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):  # type: ignore[no-untyped-def]
            if req.has_proxy():  # the socket goes to the proxy: check the target's own address instead
                parts = urllib.parse.urlsplit(req.full_url)
                guard.check(parts.hostname or "", parts.port or 80)
                return self.do_open(http.client.HTTPConnection, req)
            return self.do_open(guarded(http.client.HTTPConnection), req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):  # type: ignore[no-untyped-def]
            if getattr(req, "_tunnel_host", None):
                parts = urllib.parse.urlsplit(req.full_url)
                guard.check(parts.hostname or "", parts.port or 443)
                return self.do_open(http.client.HTTPSConnection, req, context=self._context)
            return self.do_open(guarded(http.client.HTTPSConnection), req, context=self._context)

    class RedirectHandler(urllib.request.HTTPRedirectHandler):
        """Follow redirects only to http(s) addresses the policy allows."""

        max_redirections = 5

        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            shown = redact_url(newurl)
            if newurl.partition(":")[0].lower() not in {"http", "https"}:
                raise UserError(f"redirect to a non-web address refused ({shown})")
            try:
                parts, newurl = _checked(newurl)
            except UserError as exc:
                raise UserError(f"redirect to {shown} refused: {str(exc).removeprefix(shown + ': ')}") from None
            try:
                guard.check(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            except UserError as exc:
                raise UserError(f"redirect to {shown} {exc}") from None
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return [HTTPHandler(), HTTPSHandler(), RedirectHandler()]


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, for every message and log line (a URL
    pasted with credentials must not echo them back)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, sep, rest = "", "", url
        if rest.startswith("//"):
            sep, rest = "//", rest[2:]
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:authority_end]
    if "@" not in authority:
        return url
    return f"{scheme}{sep}***@{authority.rsplit('@', 1)[1]}{rest[authority_end:]}"


def _checked(url: str) -> tuple[urllib.parse.SplitResult, str]:
    """Parse ``url`` with the standard library's split and check what can be checked without the
    network: http(s) only, no credentials, a valid port and host name. Returns the parts and the URL
    with its host IDNA-normalised (fullwidth digits become ASCII ones, so the address check and the
    request see the same host). Raises UserError (with credentials redacted)."""
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for "http://host:99999"
    except ValueError as exc:
        raise UserError(f"{shown}: not a valid URL ({exc})") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise UserError(f"{shown}: not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise UserError(f"{shown}: a URL with credentials (user:password@) is refused; "
                        "citebot never sends them, remove them from the URL")
    host = parts.hostname or ""
    if not host:
        raise UserError(f"{shown}: not an http(s) URL")
    if addresses.literal(host) is None:
        try:
            host = addresses.normalise_host(host)
        except UserError as exc:
            raise UserError(f"{shown}: {exc}") from None
        if len(host) > 253 or any(not 0 < len(label) <= 63 for label in host.split(".")):
            raise UserError(f"{shown}: not a valid host name (too long)") from None
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    parts = parts._replace(scheme=parts.scheme.lower(), netloc=netloc)
    return parts, urllib.parse.urlunsplit(parts)


def check_url(url: str, options: IngestOptions | None = None, resolve: bool = True) -> str:
    """Refuse ``url`` as :func:`fetch_url` would before its first connection (not http(s), malformed,
    credentials, an address the policy refuses, also through DNS when ``resolve``), and return it with its
    host normalised. For callers that queue a URL to fetch later (the HTTP API, feed subscriptions);
    :func:`fetch_url` checks again at every redirect and at connect time."""
    options = options or IngestOptions()
    parts, normal = _checked(url)
    try:
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if resolve:
            options.policy.check_host(host, port)
        else:
            options.policy.check_name(host)
    except UserError as exc:
        raise UserError(f"{redact_url(url)}: {exc}") from None
    return normal


def fetch_url(url: str, options: IngestOptions | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """GET ``url`` under the URL guard (see the module docstring and docs/reliability.md): raises
    UserError on refused addresses (also at every redirect and at connect time), credentials in the URL,
    HTTP errors, the deadline, incomplete bodies and bodies over the size limit. ``headers`` are sent as
    well (e.g. ``If-None-Match`` for a feed); a 304 answer is returned with ``status=304``; an HTTP error's
    UserError carries ``status`` and the server's ``retry_after`` seconds (None when it gave none)."""
    options = options or IngestOptions()
    shown = redact_url(url)
    parts, url = _checked(url)
    with _Guard(options) as guard:
        handlers = _handlers(guard)
        if parts.hostname in {"127.0.0.1", "localhost", "::1"}:
            handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our own loopback
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*", **(headers or {})})
        try:
            return _read(opener, request, shown, options, guard)
        except UserError as exc:
            if guard.expired:
                raise _deadline(shown, options) from None
            message = str(exc)
            raise UserError(message if message.startswith(shown) else f"{shown}: {message}",  # named once
                            code=exc.code, **exc.params) from None
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and headers:
                got = {k.lower(): v for k, v in exc.headers.items()} if exc.headers else {}
                return Response(url=url, content_type="", charset="", body=b"", status=304, headers=got,
                                etag=got.get("etag", ""), last_modified=got.get("last-modified", ""))
            raise UserError(f"{shown}: HTTP error {exc.code} {exc.reason}", code="http_error", status=exc.code,
                            retry_after=_retry_after(exc.headers.get("Retry-After") if exc.headers else None)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            if guard.expired:
                raise _deadline(shown, options) from None
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, UserError):
                raise UserError(f"{shown}: {reason}") from None
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise UserError(f"{shown}: timed out after {options.fetch_timeout:g} s without data") from None
            if isinstance(exc, http.client.IncompleteRead):
                raise UserError(f"{shown}: incomplete response (the connection closed mid-body)") from None
            if isinstance(exc, urllib.error.URLError):
                raise UserError(f"{shown}: cannot fetch ({reason})") from None
            raise UserError(f"{shown}: connection failed ({type(exc).__name__}: {exc})") from None


fetch = fetch_url  # the name load_url has always used


def _retry_after(raw: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date; None when absent or bad."""
    if not raw:
        return None
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) < 10:
        return float(text)
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _deadline(url: str, options: IngestOptions) -> UserError:
    return UserError(f"{url}: timed out: no complete response within {options.fetch_deadline:g} s")


def _read(opener: urllib.request.OpenerDirector, request: urllib.request.Request, url: str,
          options: IngestOptions, guard: _Guard) -> Response:
    max_bytes = options.max_bytes
    with opener.open(request, timeout=options.fetch_timeout) as resp:
        raw = resp.headers.get("Content-Length")
        length = int(raw) if raw and raw.strip().isdigit() and raw.strip().isascii() and len(raw) < 20 else None
        if length is not None and length > max_bytes:
            raise UserError(f"{url}: {length} bytes is over the size limit of {max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = resp.read(_CHUNK)
            if guard.expired:
                raise _deadline(url, options)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise UserError(f"{url}: response is over the size limit of {max_bytes} bytes")
            chunks.append(chunk)
        if length is not None and size < length:
            raise UserError(f"{url}: incomplete response: the connection closed after {size} of {length} bytes")
        content_type = resp.headers.get_content_type() or ""
        charset = resp.headers.get_content_charset() or ""
        got = {k.lower(): v for k, v in resp.headers.items()}
        return Response(url=resp.geturl(), content_type=content_type.lower(), charset=charset,
                        body=b"".join(chunks), status=resp.status, headers=got,
                        etag=got.get("etag", ""), last_modified=got.get("last-modified", ""))


def load_url(url: str, options: IngestOptions | None = None) -> Loaded:
    """Fetch ``url`` and load it by content type (then URL suffix, then content sniffing)."""
    options = options or IngestOptions()
    resp = fetch(url, options)
    final = resp.url
    if not resp.body.strip():
        raise UserError(f"{url}: empty response")
    fmt = formats.by_content_type(resp.content_type) or _by_url_suffix(final) or formats.sniff(resp.body)
    if fmt is None:
        raise UserError(f"{url}: unsupported content type {resp.content_type or 'unknown'}")
    if fmt.name == "text" and final.lower().endswith((".md", ".markdown")):
        fmt = formats.by_suffix(".md") or fmt
    loaded = fmt.load(resp.body, Origin(path=final, label=final, url=final, charset=resp.charset))
    for doc in loaded.documents:
        doc.url = doc.url or final
    return loaded


def fetch_documents(url: str, options: IngestOptions | None = None) -> list[Document]:
    """The documents at ``url``; a bulk file's first bad record is raised only when none is good."""
    loaded = load_url(url, options)
    if not loaded.documents and loaded.errors:
        raise loaded.errors[0].error
    return loaded.documents


def _by_url_suffix(url: str) -> formats.Format | None:
    path = urllib.parse.urlsplit(url).path
    dot = path.rfind(".")
    return formats.by_suffix(path[dot:]) if dot > path.rfind("/") else None
