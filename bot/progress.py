"""What the user sees while an answer is being prepared: a draft in private chats, "typing…" in groups,
and a 👀 reaction on the question wherever the chat allows it.

Why: a search takes seconds, and "typing…" alone says nothing. Bot API 9.3+ ``sendMessageDraft``
(python-telegram-bot 22.6+, ``Bot.send_message_draft``) streams an ephemeral preview into a private
chat: "Searching…", then "Checking N sources…" once the search is done, and with an LLM the sentences
that passed verification; the final message replaces it. Drafts exist only in private chats, so groups
keep "typing…". Every call here is best effort: a failure (a chat that forbids reactions, an old
client without drafts) is logged at debug level and never delays or blocks the answer.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import ReactionTypeEmoji, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import TelegramError

from retrieval import AskProgress

from bot.i18n import t
from bot.render import esc

log = logging.getLogger(__name__)

WORKING = "👀"
DRAFT_REFRESH_S = 20.0  # a draft is a ~30 s preview: refreshed while the work goes on
TYPING_REFRESH_S = 4.5  # Telegram clears "typing…" after ~5 s
STOP_WAIT_S = 2.0  # at most this long for a preview call in flight before the answer goes out


class Progress:
    """``async with Progress(context, update, lang) as progress:`` around the slow part of an answer.

    ``progress.report`` may be called from the worker thread running the search (it is the
    ``progress`` callback of ``Corpus.ask``); the draft is updated from the event loop.
    """

    def __init__(self, bot: Any, update: Update, lang: str) -> None:
        self.bot = bot
        self.lang = lang
        chat = update.effective_chat
        message = update.effective_message
        self.chat_id = chat.id if chat else None
        self.private = chat is not None and chat.type == ChatType.PRIVATE
        self.message_id = message.message_id if message is not None else None
        self.text = t("searching", lang)
        self.reacted = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._reacting: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self._stopping = False

    async def __aenter__(self) -> "Progress":
        """Start showing progress without waiting for it: the search starts at once."""
        self._loop = asyncio.get_running_loop()
        if self.chat_id is not None:
            self._reacting = asyncio.create_task(self._react(WORKING))
            self._task = asyncio.create_task(self._keep())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.done()

    async def stop(self) -> None:
        """Stop the draft or typing loop (the reply is about to be sent). A draft or reaction already on
        its way is let through first, so nothing of the preview arrives after the final message."""
        if self._task is not None:
            self._stopping = True
            self._changed.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT_S)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._reacting is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reacting), STOP_WAIT_S)

    async def done(self) -> None:
        """After the reply (or a failure): take the 👀 reaction back. Calling it again does nothing."""
        await self.stop()
        if self._reacting is not None:
            if not self._reacting.done():
                self._reacting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reacting
            self._reacting = None
        if self.reacted:
            await self._react(None)

    def report(self, event: AskProgress) -> None:
        """From any thread: the search found ``event.sources`` documents, or sentences were verified."""
        if event.stage == "found":
            text = t("checking_one", self.lang) if event.sources == 1 else t("checking", self.lang, count=event.sources)
        elif event.stage == "verified" and event.sentences:
            text = esc(" ".join(event.sentences))
        else:
            return
        self.text = text
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._changed.set)

    async def _keep(self) -> None:
        """"Searching…" first, then each newer text once as it is reported, refreshed before it expires."""
        text, sent, due = t("searching", self.lang), None, True
        while not self._stopping:
            self._changed.clear()
            if due or text != sent:
                if self.private:
                    await self._call("sendMessageDraft", self.bot.send_message_draft, chat_id=self.chat_id,
                                     draft_id=self.message_id or 1, text=text, parse_mode=ParseMode.HTML)
                else:
                    await self._call("sendChatAction", self.bot.send_chat_action, chat_id=self.chat_id,
                                     action=ChatAction.TYPING)
                sent, due = text, False
            if self._stopping:
                return
            if text == self.text:  # nothing newer arrived meanwhile: wait for it, or refresh
                try:
                    await asyncio.wait_for(self._changed.wait(), DRAFT_REFRESH_S if self.private else TYPING_REFRESH_S)
                except asyncio.TimeoutError:
                    due = True
            text = self.text

    async def _react(self, emoji: str | None) -> None:
        if self.message_id is None:
            return
        reaction = [ReactionTypeEmoji(emoji)] if emoji else []
        ok = await self._call("setMessageReaction", self.bot.set_message_reaction, chat_id=self.chat_id,
                              message_id=self.message_id, reaction=reaction)
        self.reacted = bool(ok and emoji)

    @staticmethod
    async def _call(name: str, method: Any, **kwargs: Any) -> bool:
        try:
            await method(**kwargs)
            return True
        except TelegramError as exc:  # best effort: the answer matters, not its preview
            log.debug("%s failed: %s", name, exc)
            return False
