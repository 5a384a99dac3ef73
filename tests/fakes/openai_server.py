"""A fake OpenAI-compatible server on 127.0.0.1, scriptable per test (and reusable by the bot's tests).

It speaks the parts of ``/v1/chat/completions`` citebot uses, like llama.cpp's server, Ollama and vLLM
do: JSON bodies or server-sent-event streams (``"stream": true``), ``finish_reason``, HTTP errors with
``Retry-After``, plus the failures a real server shows: slowness past a timeout, 429, 5xx, malformed
JSON, streams cut short. Replies are queued with :meth:`FakeOpenAI.script` (one per request, in order)
or computed by a ``responder(request) -> Reply`` function; every request is recorded.

    with FakeOpenAI() as llm:
        llm.script(Reply("Talks stopped in March 2022 [1]."))
        env = llm.env()            # CITEBOT_LLM_URL etc. for a subprocess
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Reply:
    """One scripted response. ``text`` is the assistant message; the other fields make it misbehave."""

    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before anything is sent (a slow model / a hung server)
    stream: bool | None = None  # None: stream when the request asks to
    chunk_delay: float = 0.0  # seconds between streamed chunks
    raw: bytes | None = None  # send exactly these bytes as the body (malformed output)
    cut_stream: bool = False  # stop the stream half-way, without [DONE] or finish_reason
    headers: dict[str, str] = field(default_factory=dict)
    finish_reason: str = "stop"
    drip: float = 0.0  # send the response one byte every ``drip`` seconds (headers included)
    newlines: bool = True  # False: stream events without any newline (one endless line)
    chunks: list[bytes] | None = None  # stream exactly these ``data:`` payloads (hostile chunks)
    echo_authorization: bool = False  # put the request's Authorization header into the answer text


def error(status: int, retry_after: float | None = None) -> Reply:
    """An HTTP error reply, e.g. ``error(429, retry_after=0.1)`` or ``error(503)``."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    body = json.dumps({"error": {"message": f"fake error {status}", "type": "server_error"}}).encode()
    return Reply(status=status, raw=body, headers=headers)


def hang(seconds: float) -> Reply:
    """A reply that arrives only after ``seconds`` (longer than the client's timeout in tests)."""
    return Reply(text="Too late [1].", delay=seconds)


def malformed(body: bytes = b'{"choices": [{"mess') -> Reply:
    return Reply(raw=body)


def redirect(location: str, status: int = 302) -> Reply:
    """A redirect to ``location`` (another origin, to see whether the API key follows)."""
    return Reply(status=status, raw=b"", headers={"Location": location})


def drip(text: str, every: float = 0.2, stream: bool | None = None) -> Reply:
    """A reply sent one byte every ``every`` seconds: each read is quick, the whole never arrives in time."""
    return Reply(text=text, drip=every, stream=stream)


def hostile_stream(*payloads: bytes | str) -> Reply:
    """A stream of exactly these ``data:`` payloads (then [DONE]), e.g. ``'{"choices": [null]}'``."""
    return Reply(stream=True, chunks=[p.encode() if isinstance(p, str) else p for p in payloads])


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        """The concatenated message contents (what the model was shown)."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))

    @property
    def passage_numbers(self) -> list[int]:
        """The [n] numbers of the passages shown for the question (lines starting with "[n] " after the
        prompt's worked example)."""
        shown = self.prompt.split("Answer the question using only")[-1]
        return [int(n) for n in re.findall(r"^\[(\d+)\] ", shown, re.M)]

    @property
    def is_rewrite(self) -> bool:
        return "Standalone question:" in self.prompt


class FakeOpenAI:
    """The server; use as a context manager. ``url`` is the ``.../v1`` base to give citebot."""

    def __init__(self, responder: Callable[[Request], Reply] | None = None, default: Reply | None = None) -> None:
        self.responder = responder
        self.default = default or Reply("NO ANSWER")
        self.requests: list[Request] = []
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -- control ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply | str) -> "FakeOpenAI":
        """Queue replies, served one per request in order (then ``responder`` or ``default``)."""
        with self._lock:
            self._queue.extend(Reply(r) if isinstance(r, str) else r for r in replies)
        return self

    def env(self, timeout: float = 5.0, **extra: str) -> dict[str, str]:
        """Environment variables that point citebot at this server."""
        return {"CITEBOT_LLM_URL": self.url, "CITEBOT_LLM_MODEL": "fake-model",
                "CITEBOT_LLM_TIMEOUT": str(timeout), **extra}

    @property
    def answer_requests(self) -> list[Request]:
        return [r for r in self.requests if not r.is_rewrite]

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _next(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.pop(0)
        return self.responder(request) if self.responder else self.default

    # -- HTTP ---------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "fake-model"}]}).encode())
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, b'{"error": "bad json"}')
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": "not found"}')
                    return
                request = Request(self.path, body, {k.lower(): v for k, v in self.headers.items()})
                reply = fake._next(request)
                if reply.echo_authorization:
                    reply = Reply(**{**reply.__dict__, "echo_authorization": False,
                                     "text": reply.text + " " + request.headers.get("authorization", "")})
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drip:
                    self._drip(reply, body)
                    return
                if reply.raw is not None or reply.status != 200:
                    self._send(reply.status, reply.raw or b"", reply.headers)
                    return
                stream = body.get("stream", False) if reply.stream is None else reply.stream
                if stream:
                    self._stream(reply, body)
                else:
                    self._send(200, json.dumps(_completion(reply, body)).encode(), reply.headers)

            def _drip(self, reply: Reply, body: dict[str, Any]) -> None:
                stream = body.get("stream", False) if reply.stream is None else reply.stream
                if stream:
                    events = [_chunk(body, {"content": w}, None) for w in re.findall(r"\S+\s*", reply.text)]
                    events.append(_chunk(body, {}, "stop"))
                    payload = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
                    payload += b"data: [DONE]\n\n"
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                else:
                    payload = json.dumps(_completion(reply, body)).encode()
                    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                            + str(len(payload)).encode() + b"\r\n\r\n")
                try:
                    for byte in head + payload:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.drip)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass
                self.close_connection = True

            def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
                    pass

            def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
                if reply.chunks is not None:
                    self._raw_events(reply.chunks)
                    return
                pieces = re.findall(r"\S+\s*", reply.text) or [""]
                if reply.cut_stream:
                    pieces = pieces[: max(1, len(pieces) // 2)]
                self._newlines = reply.newlines
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    first = {"role": "assistant", "content": ""}
                    self._event(_chunk(body, first, None))
                    for piece in pieces:
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                        self._event(_chunk(body, {"content": piece}, None))
                    if not reply.cut_stream:
                        self._event(_chunk(body, {}, reply.finish_reason))
                        self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _raw_events(self, chunks: list[bytes]) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for data in chunks:
                        self.wfile.write(b"data: " + data + b"\n\n")
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            def _event(self, payload: dict[str, Any]) -> None:
                end = b"\n\n" if getattr(self, "_newlines", True) else b" "
                self.wfile.write(b"data: " + json.dumps(payload).encode() + end)
                self.wfile.flush()

        return Handler


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "finish_reason": reply.finish_reason}],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(reply.text.split()), "total_tokens": 0},
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# -- scripted answers about the bundled TASS article (corpus/tass-2024-02-08-...), shared with bot tests --
# The passage holding the March 2022 sentence is [1] for "why did talks stop?" (extractive ranking).
SUPPORTED = ("The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with "
             "Tokyo after Tokyo imposed sanctions on Russia [1].")
# Each unsupported sentence with the fragment that must never reach a user.
UNSUPPORTED = {
    "number": ("Moscow stopped the peace treaty talks after Tokyo adopted 45 sanctions packages [1].", "45 sanctions"),
    "date": ("Moscow stopped the peace treaty talks with Tokyo in April 2021 [1].", "April 2021"),
    "name": ("Moscow stopped the peace treaty talks with Seoul over sanctions [1].", "Seoul"),
    "unshown citation": ("The Russian foreign ministry said Moscow was stopping peace treaty talks with Tokyo [9].",
                         "said Moscow was stopping"),
}


def poisoned_answer() -> str:
    """The supported sentence followed by every unsupported one: what a careless model might write."""
    return " ".join([SUPPORTED] + [sentence for sentence, _ in UNSUPPORTED.values()])


def unsupported_shown(text: str) -> list[str]:
    """The kinds of unsupported sentence whose fragment appears in ``text`` (a user-visible answer)."""
    return [kind for kind, (_, fragment) in UNSUPPORTED.items() if fragment in text]


def answering(answer: str, rewrite: str | None = None) -> Callable[[Request], Reply]:
    """A responder: ``answer`` to answer prompts, ``rewrite`` (or NO ANSWER) to follow-up rewrites."""
    def respond(request: Request) -> Reply:
        if request.is_rewrite:
            return Reply(rewrite or "NO ANSWER")
        return Reply(answer)
    return respond
