"""PTB-style test plumbing: a recording BaseRequest with canned Bot API answers, update builders,
and a harness that feeds updates through ``Application.process_update``."""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any, Callable

from telegram import Update
from telegram.request import BaseRequest, RequestData

from tests.fakes.bot_api import _entities

BOT = {"id": 7000000001, "is_bot": True, "first_name": "Citebot", "username": "citebot_test_bot"}


class RecordingRequest(BaseRequest):
    """Records (method, params) and returns canned Bot API results; ``responses`` can override."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.responses: dict[str, Callable[[dict], Any]] = {}
        self.files: dict[str, bytes] = {}  # file_id -> content, served by getFile + download
        self._ids = itertools.count(5000)

    @property
    def read_timeout(self) -> float:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if "/file/bot" in url:  # a file download
            self.calls.append(("download", {"path": endpoint}))
            return 200, self.files[endpoint]
        self.calls.append((endpoint, params))
        if endpoint in self.responses:
            result = self.responses[endpoint](params)
        elif endpoint == "getMe":
            result = BOT
        elif endpoint == "getFile":
            name = params["file_id"]
            result = {"file_id": name, "file_unique_id": "u" + name, "file_size": len(self.files[name]),
                      "file_path": f"documents/{name}"}
        elif endpoint in {"sendMessage", "editMessageText", "editMessageReplyMarkup"}:
            result = {"message_id": params.get("message_id") or next(self._ids), "date": int(time.time()),
                      "chat": {"id": params.get("chat_id", 1), "type": "private"}, "from": BOT,
                      "text": params.get("text", "x")}
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [p for m, p in self.calls if m == method]

    def texts(self) -> list[str]:
        return [p["text"] for p in self.sent()]


_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def message(user: int, text: str | None = None, chat: int | None = None, lang: str = "en",
            reply_to_bot: bool = False, **extra: Any) -> dict:
    chat = user if chat is None else chat
    msg: dict[str, Any] = {
        "message_id": next(_message_ids), "date": int(time.time()),
        "chat": {"id": chat, "type": "private"} if chat > 0 else {"id": chat, "type": "supergroup", "title": "G"},
        "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": lang},
    }
    if text is not None:
        msg["text"] = text
        if _entities(text):
            msg["entities"] = _entities(text)
    if reply_to_bot:
        msg["reply_to_message"] = {"message_id": 1, "date": 0, "chat": msg["chat"], "from": BOT, "text": "earlier"}
    msg.update(extra)
    return {"update_id": next(_update_ids), "message": msg}


class Harness:
    def __init__(self, app, request: RecordingRequest) -> None:
        self.app, self.request = app, request

    def feed(self, *updates: dict) -> RecordingRequest:
        """Process updates concurrently, as the running bot does with concurrent_updates."""
        async def go() -> None:
            await self.app.initialize()
            try:
                await asyncio.gather(*(self.app.process_update(Update.de_json(u, self.app.bot)) for u in updates))
            finally:
                await self.app.shutdown()
        asyncio.run(go())
        return self.request
