"""At-least-once answering: every update is journaled when it arrives and marked when it is answered.

PTB confirms updates to Telegram at the next ``getUpdates``, which it sends while earlier updates are
still being handled, so a crash between receiving a question and sending its answer used to lose the
question. Now:

- :class:`JournalingRequest` wraps the ``getUpdates`` request and records each update (raw JSON) in
  the bot's storage *before* PTB sees it, hence before it can be confirmed;
- :class:`JournalingApplication` records updates arriving by webhook the same way, skips redeliveries
  of answered updates (dedupe by update id) and marks each update finished once its handlers have
  sent their replies;
- :func:`replay_unfinished`, at start-up, answers what was received but never finished if it is at
  most ``telegram_replay_max_age`` old, sends a short "sorry, I was restarting" for older messages up
  to ``telegram_apology_max_age``, and drops the rest; posts of channels are replayed whatever their
  age (they are content to index, not questions waiting for a reply).

A reply can still be sent twice if the process dies after sending it and before marking it finished
(a few milliseconds); it is never lost.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.i18n import lang_of, t
from bot.storage.base import DONE, BotStorage

log = logging.getLogger(__name__)

KEEP_FINISHED_S = 2 * 86400  # journal rows are pruned two days after they arrived
PRUNE_EVERY = 1000  # finished updates between two prunes of a long-running bot


def bot_id_of(token: str) -> int:
    """The bot's numeric id, the part of the token before the colon (known before getMe)."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


def _chat_id(payload: dict[str, Any]) -> int | None:
    for key in ("message", "edited_message", "channel_post", "edited_channel_post", "business_message"):
        if isinstance(payload.get(key), dict):
            return (payload[key].get("chat") or {}).get("id")
    query = payload.get("callback_query")
    if isinstance(query, dict):
        return ((query.get("message") or {}).get("chat") or {}).get("id") or (query.get("from") or {}).get("id")
    return None


class Journal:
    """The journal of one bot: storage calls (synchronous) plus the ids being handled right now."""

    def __init__(self, storage: BotStorage, bot_id: int, clock: Callable[[], float] = time.time,
                 keep_s: float = KEEP_FINISHED_S) -> None:
        self.storage = storage
        self.bot_id = bot_id
        self.clock = clock
        self.keep_s = keep_s
        self.in_flight: set[int] = set()
        self._finished = 0

    def record(self, payloads: list[dict[str, Any]]) -> None:
        """Record raw updates as they arrive (already-known ids are left as they are)."""
        now = self.clock()
        for payload in payloads:
            if isinstance(payload, dict) and isinstance(payload.get("update_id"), int):
                self.storage.receive(self.bot_id, payload["update_id"], _chat_id(payload), payload, now)

    def arrive(self, update: Update) -> str:
        payload = update.to_dict()
        return self.storage.receive(self.bot_id, update.update_id, _chat_id(payload), payload, self.clock())

    def finish(self, update_id: int) -> None:
        now = self.clock()
        self.storage.finish(self.bot_id, update_id, now)
        self._finished += 1
        if self._finished % PRUNE_EVERY == 0:  # the journal stays bounded however long the bot runs
            self.storage.prune(now - self.keep_s)


class JournalingRequest(BaseRequest):
    """A BaseRequest around the real one that journals every update of a ``getUpdates`` answer."""

    def __init__(self, inner: BaseRequest, journal: Journal) -> None:
        self.inner = inner
        self.journal = journal

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        code, payload = await self.inner.do_request(url, method, request_data, read_timeout=read_timeout,
                                                    write_timeout=write_timeout, connect_timeout=connect_timeout,
                                                    pool_timeout=pool_timeout)
        if code == 200 and url.rsplit("/", 1)[-1].lower() == "getupdates":
            try:
                result = json.loads(payload).get("result")
            except (ValueError, AttributeError):
                result = None
            if isinstance(result, list) and result:
                await asyncio.to_thread(self.journal.record, result)
        return code, payload


class JournalingApplication(Application):
    """An Application whose ``process_update`` journals, dedupes and marks updates finished."""

    journal: Journal | None = None

    async def process_update(self, update: object) -> None:
        journal = self.journal
        if journal is None or not isinstance(update, Update):
            await super().process_update(update)
            return
        update_id = update.update_id
        if update_id in journal.in_flight:  # a redelivery while the replay (or vice versa) answers it
            return
        journal.in_flight.add(update_id)
        try:
            if await asyncio.to_thread(journal.arrive, update) == DONE:
                log.debug("update %s was answered before; skipped", update_id)
                return
            try:
                await super().process_update(update)
            except asyncio.CancelledError:  # stopped mid-answer: answer it after the restart
                raise
            except Exception:
                await asyncio.to_thread(journal.finish, update_id)  # the error handler had its say
                raise
            await asyncio.to_thread(journal.finish, update_id)
        finally:
            journal.in_flight.discard(update_id)


async def replay_unfinished(app: Application, journal: Journal, replay_max_age: float,
                            apology_max_age: float) -> dict[str, int]:
    """At start-up: queue recent unanswered updates again, apologise for older ones, drop the rest."""
    now = journal.clock()
    journal.keep_s = max(journal.keep_s, apology_max_age)
    await asyncio.to_thread(journal.storage.prune, now - journal.keep_s)
    entries = await asyncio.to_thread(journal.storage.unfinished, journal.bot_id)
    counts = {"replayed": 0, "apologised": 0, "dropped": 0}
    for entry in entries:
        age = now - entry.received
        # a channel post is library content, not a conversation: replayed whatever its age (within the journal)
        channel = bool(entry.payload) and any(k in entry.payload for k in ("channel_post", "edited_channel_post"))
        if (age <= replay_max_age or channel) and entry.payload:
            try:
                update = Update.de_json(entry.payload, app.bot)
            except Exception:  # an update this PTB version cannot read: give up on it
                log.warning("journaled update %s cannot be read; dropped", entry.update_id)
                await asyncio.to_thread(journal.finish, entry.update_id)
                counts["dropped"] += 1
                continue
            await app.update_queue.put(update)
            counts["replayed"] += 1
            continue
        message = entry.payload.get("message") if entry.payload else None
        if age <= apology_max_age and isinstance(message, dict) and entry.chat_id is not None:
            language = lang_of((message.get("from") or {}).get("language_code"))
            try:
                await app.bot.send_message(entry.chat_id, t("restarting", language), parse_mode=ParseMode.HTML)
                counts["apologised"] += 1
            except TelegramError as exc:
                log.warning("could not apologise in chat %s: %s", entry.chat_id, exc)
        else:
            counts["dropped"] += 1
        await asyncio.to_thread(journal.finish, entry.update_id)
    if entries:
        log.info("after the restart: %(replayed)d unanswered updates answered again, %(apologised)d apologies, "
                 "%(dropped)d too old", counts)
    return counts
