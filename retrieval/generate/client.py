"""A small client for OpenAI-compatible ``/v1/chat/completions`` servers (Ollama, vLLM, llama.cpp, hosted).

Stdlib only (urllib), so the optional LLM path adds no dependency. One deadline bounds the whole call,
retries included; 429 and 5xx are retried a bounded number of times (honouring a short Retry-After);
everything else fails at once with :class:`LLMError`. The API key goes only into the Authorization
header: it is never part of an error message, a repr or a log line.
"""
from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..errors import CitebotError

log = logging.getLogger(__name__)

RETRIES = 2  # extra attempts after a 429 / 5xx / dropped connection
MAX_BACKOFF_S = 4.0
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


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
        try:
            with urllib.request.urlopen(request, timeout=remaining) as response:
                if self.stream:
                    return _read_stream(response, deadline)
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            error = LLMError(f"http-{exc.code}", f"the LLM server answered HTTP {exc.code}")
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            try:
                error.retry_after = float(retry_after) if retry_after else None  # type: ignore[attr-defined]
            except ValueError:
                error.retry_after = None  # type: ignore[attr-defined]
            raise error from None
        except (TimeoutError, socket.timeout):
            raise LLMError("timeout", "the LLM server did not answer in time") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise LLMError("timeout", "the LLM server did not answer in time") from None
            raise LLMError("connection", f"cannot reach the LLM server at {self.url}: {exc.reason}") from None
        except (ConnectionError, OSError) as exc:
            raise LLMError("connection", f"the connection to the LLM server failed: {exc}") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise LLMError("malformed", "the LLM server's answer is too large")
        return _parse(raw)


def _parse(raw: bytes) -> tuple[str, str | None, dict[str, Any]]:
    try:
        payload = json.loads(raw.decode("utf-8"))
        choice = payload["choices"][0]
        text = choice["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LLMError("malformed", "the LLM server's answer is not a chat completion") from None
    if not isinstance(text, str):
        raise LLMError("malformed", "the LLM server's answer has no text")
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    return text, choice.get("finish_reason"), usage


def _read_stream(response: Any, deadline: float) -> tuple[str, str | None, dict[str, Any]]:
    """Server-sent events: ``data: {json chunk}`` lines until ``data: [DONE]``."""
    parts: list[str] = []
    finish: str | None = None
    done = False
    for line in response:
        if time.monotonic() > deadline:
            raise LLMError("timeout", "the LLM server did not finish its answer in time")
        line = line.decode("utf-8", "replace").strip()
        if not line or line.startswith(":") or not line.startswith("data:"):
            continue
        chunk = line[5:].strip()
        if chunk == "[DONE]":
            done = True
            break
        try:
            choice = json.loads(chunk)["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError("malformed", "the LLM server's stream holds a chunk that is not a completion") from None
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            parts.append(delta["content"])
        finish = choice.get("finish_reason") or finish
    if not done and finish is None:
        raise LLMError("malformed", "the LLM server's stream ended before the answer was complete")
    return "".join(parts), finish, {}
