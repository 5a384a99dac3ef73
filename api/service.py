"""What the endpoints do with the corpus, off the event loop: one corpus per server process, opened once,
and a bounded thread pool (CITEBOT_API_CONCURRENCY) for its synchronous, thread-safe calls; uploads
and URL fetches have their own pool of one, so a slow fetch never holds up questions.

Follow-ups: a question carries either a ``conversation_id`` (turns kept in this process's memory,
bounded and expiring, keyed by caller and id) or its ``history`` (the earlier questions, sent by the
client: stateless, so it works behind a load balancer with any number of servers).
"""
from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import anyio
import anyio.to_thread

from retrieval import AddResult, Answer, Conversations, Corpus, limit_threads

from .metrics import Metrics

T = TypeVar("T")
MAX_HISTORY = 8


@dataclass(frozen=True)
class AskFilters:
    """``until`` is the earlier of ``until`` and ``as_of`` (answer as the corpus stood on that date)."""

    k: int | None = None
    since: str | None = None
    until: str | None = None
    source: str | None = None


def effective_until(until: str | None, as_of: str | None) -> str | None:
    dates = [d for d in (until, as_of) if d]
    return min(dates) if dates else None  # ISO dates compare as strings; the library validates both


class Service:
    def __init__(self, corpus: Corpus, concurrency: int, metrics: Metrics) -> None:
        self.corpus = corpus
        self.threads = int(corpus.settings.threads)
        self._limited = threading.local()
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.ingest_limiter = anyio.CapacityLimiter(1)  # fetching and embedding a document never holds up questions
        self.conversations = Conversations()
        self.metrics = metrics

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function`` in the worker pool; at most CITEBOT_API_CONCURRENCY run at once."""
        return await anyio.to_thread.run_sync(self._limited_call(function, *args, **kwargs), limiter=self.limiter)

    async def run_ingest(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function`` (an upload or a URL fetch) in the ingest pool: one at a time, beside the questions."""
        return await anyio.to_thread.run_sync(self._limited_call(function, *args, **kwargs),
                                              limiter=self.ingest_limiter)

    async def run_probe(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function`` for /readyz, outside the question pool: a busy server still says it is ready."""
        return await anyio.to_thread.run_sync(self._limited_call(function, *args, **kwargs))

    def _limited_call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[], T]:
        """OpenMP's thread count is per thread: each pool thread applies CITEBOT_THREADS once, or faiss runs
        every search on all cores (at 100k passages and 16 clients, 9.8 instead of 28.5 answers/s here)."""
        def call() -> T:
            if getattr(self._limited, "threads", None) != self.threads:
                limit_threads(self.threads)
                self._limited.threads = self.threads
            return function(*args, **kwargs)

        return call

    # -- questions ------------------------------------------------------------------------------------
    def ask(self, question: str, filters: AskFilters, caller: str, conversation_id: str | None = None,
            history: Sequence[str] = (), endpoint: str = "ask") -> tuple[Answer, str | None]:
        """The answer, and the conversation id to send with a follow-up (None with ``history``)."""
        started = time.perf_counter()
        kwargs = dict(k=filters.k, since=filters.since, until=filters.until, source=filters.source)
        if history:
            conversation, key = Conversations(), "history"
            for earlier in list(history)[-MAX_HISTORY:]:
                conversation.record(key, earlier, conversation.standalone(key, earlier) or earlier, "")
            answer = conversation.ask(self.corpus, key, question, **kwargs)
            conversation_id = None
        else:
            conversation_id = conversation_id or secrets.token_urlsafe(12)
            answer = self.conversations.ask(self.corpus, (caller, conversation_id), question, **kwargs)
        self.metrics.question(endpoint, answer.answered, time.perf_counter() - started)
        return answer, conversation_id

    # -- documents ------------------------------------------------------------------------------------
    def add_upload(self, name: str, data: bytes, overrides: dict[str, str], force: bool) -> list[AddResult]:
        """An uploaded file, ingested exactly like ``citebot add FILE`` (format by its suffix, the same
        size limit and loaders); the stored path is ``upload:<name>``, never the temp file."""
        tmp = Path(tempfile.mkdtemp(prefix="citebot-api-"))
        try:
            path = tmp / name
            path.write_bytes(data)
            overrides = {"path": f"upload:{name}", **overrides}
            results = self.corpus.add_paths([path], overrides=overrides, force=force)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for result in results:
            result.message = (result.message or "").replace(str(path), name).replace(str(tmp), "")
            result.path = name if result.path.startswith(str(tmp)) else result.path
            self.metrics.ingest(result.status)
        return results

    def add_url(self, url: str, force: bool) -> list[AddResult]:
        """A URL, fetched like ``citebot add URL``: the library's address rules (no private or internal
        addresses unless CITEBOT_ALLOW_PRIVATE_URLS), timeouts and size limit."""
        results = self.corpus.add_paths([url], force=force)
        for result in results:
            self.metrics.ingest(result.status)
        return results


def safe_filename(raw: str | None) -> str:
    """An uploaded file's name reduced to its last component, without control or path characters."""
    name = (raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    return name[:120] or "upload.txt"
