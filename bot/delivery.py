"""Answering every update once in practice: journaled when it arrives, marked done the moment its reply is sent.

PTB confirms updates to Telegram at the next ``getUpdates``, which it sends while earlier updates are
still being handled, so a crash between receiving a question and sending its answer used to lose the
question. Now:

- :class:`JournalingRequest` wraps the ``getUpdates`` request and records each update (raw JSON) in
  the bot's storage *before* PTB sees it, hence before it can be confirmed;
- :class:`JournalingApplication` records updates arriving by webhook the same way, skips redeliveries
  of answered updates (dedupe by update id) and marks each update finished once its handlers return;
- a handler that sends *the* reply marks its update done right after the send returns
  (:func:`mark_replied`), before anything else it does afterwards (clearing the 👀 reaction, storing
  the message id for reaction votes);
- that mark is one short commit made in the event loop itself (the SQLite store does not flush it to
  disk and never holds its lock during a flush); every other journal write goes through the journal's
  own single writer thread, never the worker pool the searches run in: marking done used to wait
  behind slow searches for hundreds of milliseconds under load, and a crash in that window sent the
  reply twice after the restart;
- :func:`replay_unfinished`, at start-up, answers what was received but never finished if it is at
  most ``telegram_replay_max_age`` old, sends a short "sorry, I was restarting" for older messages up
  to ``telegram_apology_max_age``, and drops the rest; posts of channels are replayed whatever their
  age (they are content to index, not questions waiting for a reply).

What is left: a crash after Telegram accepted the reply and before the journal's commit (the HTTP
answer's way back, PTB reading it, one SQLite commit: measured in docs/bot.md) sends that reply twice.
Never lost.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.i18n import lang_of, t
from bot.storage.base import DONE, BotStorage

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    """The journal of one bot: storage calls on its own writer thread, plus the ids being handled now.

    ``eager`` (the default) lets a handler mark its update done as soon as its reply is sent
    (:meth:`replied_to`). ``eager=False`` is the old behaviour, kept only so ``bench.bot_load`` can
    measure before and after: marked when the handlers return, through the shared worker pool.
    """

    def __init__(self, storage: BotStorage, bot_id: int, clock: Callable[[], float] = time.time,
                 keep_s: float = KEEP_FINISHED_S, eager: bool = True) -> None:
        self.storage = storage
        self.bot_id = bot_id
        self.clock = clock
        self.keep_s = keep_s
        self.eager = eager
        self.in_flight: set[int] = set()
        self.replied: set[int] = set()  # marked done by their handler already
        self.marked_at: dict[int, float] = {}  # update id -> when its "done" was committed (clock())
        self._finished = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def _writer(self) -> ThreadPoolExecutor:
        """The journal's one writer thread, started on first use (again after :meth:`close`: an
        application can be initialised and shut down more than once)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
            return self._pool

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the journal's writer thread (eager), else in the shared worker pool."""
        if not self.eager:
            return await asyncio.to_thread(function, *args)
        return await asyncio.get_running_loop().run_in_executor(self._writer, function, *args)

    def close(self) -> None:
        """Let the writer thread finish what it was given and end (a stopped bot leaves no thread)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def record(self, payloads: list[dict[str, Any]]) -> None:
        """Record raw updates as they arrive (already-known ids are left as they are)."""
        batch = [(p["update_id"], _chat_id(p), p) for p in payloads
                 if isinstance(p, dict) and isinstance(p.get("update_id"), int)]
        if batch:
            self.storage.receive_all(self.bot_id, batch, self.clock())

    def arrive(self, update: Update) -> str:
        payload = update.to_dict()
        return self.storage.receive(self.bot_id, update.update_id, _chat_id(payload), payload, self.clock())

    def finish(self, update_id: int) -> None:
        self.storage.finish(self.bot_id, update_id, self.clock())
        now = self.clock()
        self.marked_at[update_id] = now
        if len(self.marked_at) > 10 * PRUNE_EVERY:
            self.marked_at.pop(next(iter(self.marked_at)))
        self._finished += 1
        if self._finished % PRUNE_EVERY == 0:  # the journal stays bounded however long the bot runs
            self._writer.submit(self.storage.prune, now - self.keep_s)  # never in the event loop

    async def replied_to(self, update_id: int) -> None:
        """The update's reply was just sent: mark it done now, not when its handler returns; in the
        event loop itself when the store's commit is quick (SQLite: no flush, no thread to wait for),
        else on the journal's own writer thread (PostgreSQL: a network round trip)."""
        if not self.eager or update_id in self.replied:
            return
        self.replied.add(update_id)
        if getattr(self.storage, "quick_finish", False):
            self.finish(update_id)
        else:
            await self.run(self.finish, update_id)


async def mark_replied(application: Any, update: Update) -> None:
    """Call right after sending an update's reply: marks it done in the journal (when there is one)."""
    journal = getattr(application, "journal", None)
    if journal is not None and isinstance(update, Update):
        await journal.replied_to(update.update_id)


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
                await self.journal.run(self.journal.record, result)
        return code, payload


class JournalingApplication(Application):
    """An Application whose ``process_update`` journals, dedupes and marks updates finished."""

    journal: Journal | None = None

    async def shutdown(self) -> None:
        await super().shutdown()
        if self.journal is not None:
            await asyncio.to_thread(self.journal.close)

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
            if await journal.run(journal.arrive, update) == DONE:
                log.debug("update %s was answered before; skipped", update_id)
                return
            try:
                await super().process_update(update)
            except asyncio.CancelledError:  # stopped mid-answer: answer it after the restart
                raise
            except Exception:
                await self._finish(journal, update_id)  # the error handler had its say
                raise
            await self._finish(journal, update_id)
        finally:
            journal.in_flight.discard(update_id)

    @staticmethod
    async def _finish(journal: Journal, update_id: int) -> None:
        if update_id in journal.replied:  # marked done the moment its reply was sent
            journal.replied.discard(update_id)
            return
        await journal.run(journal.finish, update_id)


async def replay_unfinished(app: Application, journal: Journal, replay_max_age: float,
                            apology_max_age: float) -> dict[str, int]:
    """At start-up: queue recent unanswered updates again, apologise for older ones, drop the rest."""
    now = journal.clock()
    journal.keep_s = max(journal.keep_s, apology_max_age)
    await journal.run(journal.storage.prune, now - journal.keep_s)
    entries = await journal.run(journal.storage.unfinished, journal.bot_id)
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
                await journal.run(journal.finish, entry.update_id)
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
        await journal.run(journal.finish, entry.update_id)
    if entries:
        log.info("after the restart: %(replayed)d unanswered updates answered again, %(apologised)d apologies, "
                 "%(dropped)d too old", counts)
    return counts
