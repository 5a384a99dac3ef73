"""An OpenAI-compatible chat endpoint, so Open WebUI, LibreChat or any OpenAI client can use citebot as
a "model": the last user message is the question, earlier user messages its conversation (follow-ups),
the reply is citebot's answer with its sources as numbered links. Streaming sends the finished answer as
server-sent-event chunks (an answer is verified whole before any of it is shown).
"""
from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from retrieval import Answer

from .auth import Principal
from .deps import reader
from .errors import ApiError
from .routes import answer_json
from .schemas import ChatMessage, ChatRequest
from .service import AskFilters

MODEL = "citebot"
router = APIRouter(prefix="/v1")


def message_text(message: ChatMessage) -> str:
    """A message's text: a string, or the text parts of a content list (images are ignored)."""
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _link_text(text: str) -> str:
    return re.sub(r"[\[\]\n]+", " ", text).strip()


def reply_text(answer: Answer) -> str:
    """The answer (its sentences end in [n]) and the numbered sources as Markdown links."""
    lines = [answer.answer.strip(), "", "Sources:" if answer.answered else "Nearest passages (weak matches):"]
    for c in answer.citations:
        title = _link_text(c.title or c.url or f"document {c.doc_id}")
        head = f"[{title}]({c.url})" if c.url.startswith(("http://", "https://")) else title
        meta = " — ".join(part for part in (c.date or "", c.source) if part)
        lines.append(f"{c.n}. {head}" + (f" — {meta}" if meta else ""))
    return "\n".join(lines) if answer.citations else answer.answer.strip()


def _chunks(text: str) -> list[str]:
    """The reply in word-sized pieces for streaming (joined, they are the reply exactly)."""
    return re.findall(r"\S+\s*|\s+", text)


@router.get("/models", summary="The one model this server offers (OpenAI-compatible)")
async def models(who: Principal = Depends(reader)) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "citebot"}]}


@router.post("/chat/completions", summary="OpenAI-compatible chat: the last user message is answered, with "
             "numbered sources")
async def chat(body: ChatRequest, request: Request, who: Principal = Depends(reader)) -> Any:
    users = [message_text(m) for m in body.messages if m.role == "user"]
    if not users or not users[-1].strip():
        raise ApiError(400, "question_empty", "the last user message is empty: there is no question to answer")
    service = request.app.state.service
    answer, _ = await service.run(service.ask, users[-1], AskFilters(), who.ident, history=users[:-1][-8:],
                                  endpoint="chat")
    text = reply_text(answer)
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    citebot = answer_json(answer, request.app.state.settings)
    if not body.stream:
        words = len(text.split())
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": created, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(users[-1].split()), "completion_tokens": words,
                      "total_tokens": len(users[-1].split()) + words},
            "citebot": citebot,
        })

    async def events() -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            payload = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for piece in _chunks(text):
            yield chunk({"content": piece})
        yield chunk({}, "stop", citebot=citebot)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
