"""Per-caller rate limits (a token bucket per key) and the request guard every HTTP request passes.

The guard is plain ASGI, outermost: it gives each request its id (logged, returned as X-Request-ID),
refuses requests past the number one process holds at once (429, before reading anything), reads the body before the app sees it — refusing more than the size limit (413, decided from
Content-Length, the rest read and dropped so the client gets it) and a body that trickles in past the deadline (408) — and logs one access line.
Reading the body up front keeps memory bounded by the limits and lets handlers trust what they get. The
JSON-only endpoints read a body labelled as a form (what `curl -d` sends) as JSON.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .context import new_request_id, reset_request_id, set_request_id
from .errors import SECRETS, internal_message

log = logging.getLogger("citebot.api.access")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0


class RateLimiter:
    """``per_minute`` requests per caller per minute, in bursts of up to ``per_minute``; 0 disables."""

    def __init__(self, per_minute: int, max_callers: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, caller: str) -> Verdict:
        if self.per_minute <= 0:
            return Verdict(True)
        rate = self.per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(caller, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[caller] = (tokens, now)
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        if allowed:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil((1.0 - tokens) / rate)))


UNCOUNTED = ("/healthz", "/readyz")  # a load balancer's probes are answered even when the server is busy


class RequestGuard:
    """ASGI middleware: request ids, requests held at once, body size and time limits, access log.
    ``upload_paths`` may send up to ``upload_bytes``; every other request ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int, upload_bytes: int, body_timeout: float, max_requests: int = 256,
                 upload_paths: tuple[str, ...] = ("/v1/documents",),
                 json_paths: tuple[str, ...] = ("/v1/ask", "/v1/chat/completions")) -> None:
        self.app = app
        self.json_paths = json_paths
        self.max_requests = max_requests
        self.in_flight = 0  # touched only on the event loop
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.body_timeout = body_timeout
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = new_request_id(headers.get("x-request-id"))
        token = set_request_id(rid)
        started = time.perf_counter()
        status = {"code": 0}
        app_state = getattr(scope.get("app"), "state", None)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        async def refuse(code_status: int, code: str, message: str, retry_after: int = 0) -> None:
            metrics = getattr(app_state, "metrics", None)
            if metrics is not None:
                metrics.error(code)
            await _refuse(send_with_id, code_status, code, message, rid, retry_after)

        counted = scope["path"] not in UNCOUNTED
        if counted:
            self.in_flight += 1
        try:
            if counted and self.in_flight > self.max_requests:
                await refuse(429, "server_busy", f"the server is answering {self.max_requests} requests already; "
                             f"try again in a second", retry_after=1)
                return
            limit = self.upload_bytes if scope["path"] in self.upload_paths else self.max_bytes
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                await self._drain(receive)
                await refuse(413, "too_large", f"the request body is over {limit} bytes")
                return
            try:
                body = await asyncio.wait_for(_read_body(receive, limit), self.body_timeout)
            except _TooLarge:
                await self._drain(receive)
                await refuse(413, "too_large", f"the request body is over {limit} bytes")
                return
            except asyncio.TimeoutError:
                await refuse(408, "request_timeout", f"the request body took longer than {self.body_timeout:g} s to arrive")
                return
            except _Disconnected:
                return
            if scope["path"] in self.json_paths and headers.get("content-type", "").split(";")[0].strip() in (
                    "", "application/x-www-form-urlencoded"):
                # these endpoints take only JSON: `curl -d '{...}'` labels it a form, and is read as JSON
                scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                             + [(b"content-type", b"application/json")])
            try:
                await self.app(scope, _replay(body, receive), send_with_id)
            except Exception:  # a bug: logged with its traceback (secrets scrubbed), never shown to the client
                log.error("%s failed:\n%s", rid, SECRETS.scrub(traceback.format_exc()))
                if not status["code"]:
                    await refuse(500, "internal", internal_message())
        finally:
            if counted:
                self.in_flight -= 1
            client = scope.get("client") or ("-", 0)
            log.info("%s %s %s %d %.1fms", client[0], scope.get("method"), SECRETS.scrub(scope["path"]),
                     status["code"], (time.perf_counter() - started) * 1000)
            reset_request_id(token)


    async def _drain(self, receive: Receive) -> None:
        """Read and drop the rest of a refused body before answering (up to DRAIN_BYTES, within the body
        deadline): closing with unread bytes makes the kernel reset the connection, and the client would
        lose the 413 (uvicorn hands out no more body once the response is sent)."""
        async def drain() -> None:
            dropped = 0
            while dropped <= DRAIN_BYTES:
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body", False):
                    return
                dropped += len(message.get("body", b""))

        try:
            await asyncio.wait_for(drain(), self.body_timeout)
        except asyncio.TimeoutError:
            pass


DRAIN_BYTES = 64 * 1024 * 1024


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = {"done": False}

    async def replay() -> dict[str, Any]:
        if not sent["done"]:
            sent["done"] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as a real receive would

    return replay


async def _refuse(send: Send, status: int, code: str, message: str, rid: str, retry_after: int = 0) -> None:
    payload = json.dumps({"error": {"code": code, "message": message, "request_id": rid}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
               (b"connection", b"close")]
    if retry_after:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
