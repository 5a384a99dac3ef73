"""/v1/watches: standing questions (``retrieval.watch``) over HTTP, for admin keys only.

A watch belongs to a Telegram chat: the API takes its ``chat_id`` explicitly (the bot pushes each new
answer to that chat from the shared outbox), so whoever may create one may make the bot write to any
chat it is in, and listing them shows chats' questions. Hence every method here needs an admin key.
Store calls run in the service's pool. After a sync asked through /v1/sources/{id}/sync, the watches
are checked over the new and replaced documents, as `citebot sync` does.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from retrieval import Watch

from .auth import Principal
from .deps import admin
from .schemas import CHAT_ID, WatchList, WatchOut, WatchRemoved, WatchRequest

router = APIRouter(prefix="/v1", tags=["watches"])


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def watch_json(watch: Watch) -> dict[str, Any]:
    return {"id": watch.id, "chat_id": watch.chat_id, "user_id": watch.user_id, "question": watch.question,
            "created": _iso(watch.created), "last_push": _iso(watch.last_push)}


@router.get("/watches", response_model=WatchList, summary="Standing questions (of one chat); admin keys only")
async def list_watches(request: Request, chat_id: int | None = Query(None, ge=-CHAT_ID, le=CHAT_ID),
                       who: Principal = Depends(admin)) -> dict[str, Any]:
    rows = await request.app.state.service.run(request.app.state.watches.list, chat_id)
    return {"watches": [watch_json(w) for w in rows]}


@router.post("/watches", status_code=201, response_model=WatchOut,
             summary="Watch a question for a chat: each new answering passage is pushed to it once; admin keys only")
async def add_watch(body: WatchRequest, request: Request, who: Principal = Depends(admin)) -> dict[str, Any]:
    watch = await request.app.state.service.run(request.app.state.watches.add, body.chat_id, body.question,
                                                body.user_id)
    return watch_json(watch)


@router.delete("/watches/{watch_id}", response_model=WatchRemoved,
               summary="Remove a standing question (of ``chat_id`` only, when given); admin keys only")
async def remove_watch(watch_id: str, request: Request, chat_id: int | None = Query(None, ge=-CHAT_ID, le=CHAT_ID),
                       who: Principal = Depends(admin)) -> dict[str, Any]:
    watch = await request.app.state.service.run(request.app.state.watches.remove, watch_id[:40], chat_id)
    return {"removed": watch_json(watch)}
