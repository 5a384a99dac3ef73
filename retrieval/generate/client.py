"""A small client for OpenAI-compatible ``/v1/chat/completions`` servers (Ollama, vLLM, llama.cpp, hosted).

Stdlib only (urllib), so the optional LLM path adds no dependency. The server is not trusted:

- **One deadline bounds the whole call**, retries and bytes read included: a timer shuts the socket down
  when it passes, so a server that drips its answer (one byte a second, a stream without newlines) is cut
  off at ``timeout``, not after each read's timeout.
- **Sizes are capped**: a body at :data:`MAX_RESPONSE_BYTES`, a stream line at :data:`MAX_LINE_BYTES`, the
  answer text at :data:`MAX_ANSWER_CHARS`; past them the call fails (and the extractive answer is given).
- **Parsing never raises anything but LLMError**: JSON nested deeper than :data:`MAX_JSON_DEPTH`, a null
  ``choices`` entry, a ``delta`` that is a string, a negative or absurd ``Retry-After``.
- **Redirects are not followed**, so the Authorization header never leaves for another origin; a 3xx is an
  error saying to set CITEBOT_LLM_URL to the final address.
- The API key goes only into the Authorization header: it is never part of an error message, a repr or a
  log line (and :mod:`retrieval.generate` removes it from the model's output).

429 and 5xx are retried a bounded number of times (honouring a short Retry-After); everything else fails
at once with :class:`LLMError`.
"""
from __future__ import annotations

import http.client
import json
import logging
import math
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..deadline import SocketDeadline
from ..errors import CitebotError

log = logging.getLogger(__name__)

RETRIES = 2  # extra attempts after a 429 / 5xx / dropped connection
MAX_BACKOFF_S = 4.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # a whole non-streamed body, or all the bytes of a stream
MAX_LINE_BYTES = 256 * 1024  # one server-sent-events line
MAX_ANSWER_CHARS = 64 * 1024  # the answer text (4096 tokens are about 20,000 characters)
MAX_JSON_DEPTH = 64
_CHUNK = 65536
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class LLMError(CitebotError):
    """The LLM server could not give an answer (code ``llm_failed``); ``reason`` is a short machine-readable
    word, also in ``params``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code="llm_failed", reason=reason)
        self.reason = reason  # "timeout", "http-429", "http-500", "connection", "malformed", ...


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    seconds: float
    attempts: int = 1
    usage: dict[str, Any] = field(default_factory=dict)


def endpoint(url: str) -> str:
    """The chat completions URL from what a user typed: a base (``http://host:11434``), ``.../v1``, or the
    full endpoint."""
    url = url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


class ChatClient:
    """Calls one OpenAI-compatible server. Thread-safe (no shared connection state)."""

    def __init__(self, url: str, model: str = "", api_key: str = "", timeout: float = 30.0,
                 stream: bool = False, retries: int = RETRIES) -> None:
        self.url = endpoint(url)
        self.model = model or "default"
        self._api_key = api_key
        self.timeout = timeout
        self.stream = stream
        self.retries = retries

    def __repr__(self) -> str:  # the key stays out of reprs and tracebacks' locals printing
        return f"ChatClient(url={self.url!r}, model={self.model!r}, stream={self.stream})"

    def complete(self, messages: list[dict[str, str]], max_tokens: int = 256, temperature: float = 0.0,
                 stop: list[str] | None = None, timeout: float | None = None) -> Completion:
        """The assistant's reply to ``messages``; raises LLMError on timeout, HTTP error or bad output."""
        started = time.monotonic()
        deadline = started + (timeout or self.timeout)
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                "temperature": temperature, "stream": self.stream}
        if stop:
            body["stop"] = stop
        data = json.dumps(body).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            try:
                text, finish, usage = self._once(data, deadline)
                return Completion(text, finish, time.monotonic() - started, attempt, usage)
            except LLMError as exc:
                retryable = exc.reason in ("http-429", "connection") or exc.reason.startswith("http-5")
                wait = min(MAX_BACKOFF_S, getattr(exc, "retry_after", None) or 0.25 * 2 ** (attempt - 1))
                if not retryable or attempt > self.retries or time.monotonic() + wait >= deadline:
                    raise
                log.info("LLM server said %s; retrying in %.2fs (attempt %d)", exc.reason, wait, attempt + 1)
                time.sleep(wait)

    def _once(self, data: bytes, deadline: float) -> tuple[str, str | None, dict[str, Any]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LLMError("timeout", "the LLM server did not answer in time")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        with _Deadline(remaining) as clock:
            opener = urllib.request.build_opener(*_handlers(clock))
            try:
                with opener.open(request, timeout=remaining) as response:
                    if self.stream:
                        return _read_stream(response, clock)
                    return _parse(_read_body(response, clock))
            except LLMError:
                if clock.expired:
                    raise LLMError("timeout", "the LLM server did not finish its answer in time") from None
                raise
            except urllib.error.HTTPError as exc:
                if 300 <= exc.code < 400:
                    raise LLMError("redirect", f"the LLM server answered a redirect (HTTP {exc.code}); citebot "
                                   "does not follow redirects for the model API (the key must not go to another "
                                   "address): set CITEBOT_LLM_URL to the final address") from None
                error = LLMError(f"http-{exc.code}", f"the LLM server answered HTTP {exc.code}")
                error.retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)  # type: ignore[attr-defined]
                raise error from None
            except (TimeoutError, socket.timeout):
                raise LLMError("timeout", "the LLM server did not answer in time") from None
            except urllib.error.URLError as exc:
                if clock.expired or isinstance(exc.reason, (TimeoutError, socket.timeout)):
                    raise LLMError("timeout", "the LLM server did not answer in time") from None
                raise LLMError("connection", f"cannot reach the LLM server at {self.url}: {exc.reason}") from None
            except (ConnectionError, OSError, http.client.HTTPException, ValueError) as exc:
                if clock.expired:
                    raise LLMError("timeout", "the LLM server did not finish its answer in time") from None
                raise LLMError("connection", f"the connection to the LLM server failed: "
                               f"{type(exc).__name__}") from None


class _Deadline(SocketDeadline):
    """The whole LLM call's deadline: its sockets are shut when the time is up (retrieval/deadline.py),
    and the readers check it between reads."""

    def register(self, sock: socket.socket) -> None:
        self.track(sock)

    def check(self) -> None:
        if self.expired or time.monotonic() > self.ends:
            self.expired = True
            raise LLMError("timeout", "the LLM server did not finish its answer in time")


def _handlers(clock: _Deadline) -> list[urllib.request.BaseHandler]:
    """HTTP(S) handlers whose sockets the deadline can shut, and no redirect following."""
    def tracked(connection_class: type[http.client.HTTPConnection]):  # type: ignore[no-untyped-def]
        def factory(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            conn = connection_class(host, **kwargs)
            original = conn._create_connection  # type: ignore[attr-defined]

            def create(*args: Any, **kw: Any) -> socket.socket:
                sock = original(*args, **kw)
                clock.register(sock)
                return sock

            conn._create_connection = create  # type: ignore[attr-defined]
            return conn
        return factory

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(tracked(http.client.HTTPConnection), req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(tracked(http.client.HTTPSConnection), req, context=self._context)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
            return None  # the 3xx surfaces as an HTTPError: see _once

    return [HTTPHandler(), HTTPSHandler(), NoRedirect()]


def _retry_after(raw: str | None) -> float | None:
    """Seconds to wait from a Retry-After header; None for a negative, absurd or unparsable value (an
    HTTP date is not worth waiting for: the backoff is used)."""
    try:
        value = float(raw) if raw and len(raw) < 20 else None
    except ValueError:
        return None
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return min(value, MAX_BACKOFF_S)


def _read_body(response: Any, clock: _Deadline) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        clock.check()
        chunk = response.read1(_CHUNK)
        if not chunk:
            clock.check()  # a socket shut by the deadline reads as the end
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise LLMError("too-large", f"the LLM server's answer is over {MAX_RESPONSE_BYTES:,} bytes")
        chunks.append(chunk)


def _loads(raw: bytes | str) -> Any:
    """json.loads that refuses deep nesting before parsing and raises only LLMError."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    depth = 0
    deep = text.count("[") + text.count("{") > MAX_JSON_DEPTH
    for ch in _STRING.sub('""', text) if deep else "":  # brackets inside strings do not count
        if ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise LLMError("malformed", f"the LLM server's answer is JSON nested over {MAX_JSON_DEPTH} deep")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise LLMError("malformed", "the LLM server's answer is not valid JSON") from None


def _choice(payload: Any) -> dict[str, Any]:
    """The first choice of a completion or chunk, checked to be an object."""
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMError("malformed", "the LLM server's answer is not a chat completion")
    return choices[0]


def _finish(choice: dict[str, Any]) -> str | None:
    finish = choice.get("finish_reason")
    return finish[:40] if isinstance(finish, str) else None


def _parse(raw: bytes) -> tuple[str, str | None, dict[str, Any]]:
    payload = _loads(raw)
    choice = _choice(payload)
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise LLMError("malformed", "the LLM server's answer has no text")
    if len(text) > MAX_ANSWER_CHARS:
        raise LLMError("too-large", f"the LLM server's answer is over {MAX_ANSWER_CHARS:,} characters")
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    return text, _finish(choice), usage


def _lines(response: Any, clock: _Deadline):  # type: ignore[no-untyped-def]
    """The stream's lines, read in chunks (never ``for line in response``: a server that sends no newline
    would grow one line without end); each at most MAX_LINE_BYTES, all at most MAX_RESPONSE_BYTES."""
    buffer = b""
    total = 0
    while True:
        clock.check()
        chunk = response.read1(_CHUNK)
        if not chunk:
            clock.check()
            if buffer:
                yield buffer
            return
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise LLMError("too-large", f"the LLM server's stream is over {MAX_RESPONSE_BYTES:,} bytes")
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        yield from complete
        if len(buffer) > MAX_LINE_BYTES:
            raise LLMError("malformed", f"the LLM server's stream has a line over {MAX_LINE_BYTES:,} bytes")


def _read_stream(response: Any, clock: _Deadline) -> tuple[str, str | None, dict[str, Any]]:
    """Server-sent events: ``data: {json chunk}`` lines until ``data: [DONE]``."""
    parts: list[str] = []
    size = 0
    finish: str | None = None
    done = False
    for raw in _lines(response, clock):
        line = raw.decode("utf-8", "replace").strip()
        if not line or line.startswith(":") or not line.startswith("data:"):
            continue
        chunk = line[5:].strip()
        if chunk == "[DONE]":
            done = True
            break
        choice = _choice(_loads(chunk))
        delta = choice.get("delta")
        if delta is not None and not isinstance(delta, dict):
            raise LLMError("malformed", "the LLM server's stream holds a chunk that is not a completion")
        content = (delta or {}).get("content")
        if isinstance(content, str):
            parts.append(content)
            size += len(content)
            if size > MAX_ANSWER_CHARS:
                raise LLMError("too-large", f"the LLM server's answer is over {MAX_ANSWER_CHARS:,} characters")
        finish = _finish(choice) or finish
    if not done and finish is None:
        raise LLMError("malformed", "the LLM server's stream ended before the answer was complete")
    return "".join(parts), finish, {}
