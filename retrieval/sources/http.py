"""Polite HTTP for followed sources: one request at a time per host with a delay between them,
conditional GETs, Retry-After honoured, a User-Agent naming citebot, a cap on feed size.

Every request goes through the URL loader's guarded ``fetch`` (``retrieval.ingest.fetch``: the SSRF
guard on every connection and redirect, read timeouts, a whole-fetch deadline, a size limit), so a feed
cannot reach what `citebot add URL` could not.
"""
from __future__ import annotations

import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator

from ..errors import UserError
from ..ingest import IngestOptions
from ..ingest.fetch import fetch_url, load_url
from ..types import Document

USER_AGENT = "citebot/0.1 (+feed sync; https://github.com/citebot)"
FEED_MAX_BYTES = 20 * 1024 * 1024  # a feed or sitemap larger than this is refused (from Content-Length: early)
HOST_DELAY = 1.0  # seconds between the end of one request to a host and the start of the next
MAX_HOST_WAIT = 120.0  # a host asking for a longer pause (Retry-After) is skipped this sync instead


@dataclass
class FeedResponse:
    """A feed or sitemap fetched conditionally: ``status`` 304 means unchanged (empty ``body``)."""

    url: str
    status: int
    body: bytes
    content_type: str
    etag: str = ""
    last_modified: str = ""


class HostGate:
    """One request at a time per host, ``delay`` seconds apart, and no request before a host's
    Retry-After has passed. Shared by every source synced by one process."""

    def __init__(self, delay: float = HOST_DELAY, max_wait: float = MAX_HOST_WAIT) -> None:
        self.delay = delay
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._next: dict[str, float] = {}

    def _host_lock(self, host: str) -> threading.Lock:
        with self._lock:
            return self._hosts.setdefault(host, threading.Lock())

    def back_off(self, url: str, seconds: float) -> None:
        """The host asked for a pause (Retry-After): no request to it before then."""
        host = _host(url)
        with self._lock:
            self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + seconds)

    @contextmanager
    def turn(self, url: str) -> Iterator[None]:
        host = _host(url)
        with self._host_lock(host):
            wait = self._next.get(host, 0.0) - time.monotonic()
            if wait > self.max_wait:
                raise UserError(f"{url}: the server asked to wait {wait:.0f} s (Retry-After); skipped this time",
                                code="retry_after", retry_after=wait)
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                with self._lock:
                    self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + self.delay)


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or ''}"


class Fetcher:
    """What a sync fetches: feeds (conditionally, size-capped) and the articles their entries link to."""

    def __init__(self, options: IngestOptions, gate: HostGate | None = None,
                 feed_max_bytes: int = FEED_MAX_BYTES) -> None:
        self.options = options
        self.feed_options = replace(options, max_bytes=min(options.max_bytes, feed_max_bytes))
        self.gate = gate or HostGate()

    def _guarded(self, url: str, call):  # type: ignore[no-untyped-def]
        with self.gate.turn(url):
            try:
                return call()
            except UserError as exc:
                retry = exc.params.get("retry_after") if hasattr(exc, "params") else None
                if retry:
                    self.gate.back_off(url, float(retry))
                raise

    def feed(self, url: str, etag: str = "", last_modified: str = "") -> FeedResponse:
        """GET a feed or sitemap with If-None-Match / If-Modified-Since from the last full response."""
        headers = {"User-Agent": USER_AGENT,
                   "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                             "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        resp = self._guarded(url, lambda: fetch_url(url, self.feed_options, headers=headers))
        return FeedResponse(url=resp.url, status=resp.status, body=resp.body, content_type=resp.content_type,
                            etag=resp.headers.get("etag", ""), last_modified=resp.headers.get("last-modified", ""))

    def article(self, url: str) -> list[Document]:
        """The documents of an entry's page (the URL loader: trafilatura for HTML, PDF, text, ...)."""
        loaded = self._guarded(url, lambda: load_url(url, self.options))
        if not loaded.documents:
            if loaded.errors:
                raise loaded.errors[0].error
            raise UserError(f"{url}: no text found")
        return loaded.documents
