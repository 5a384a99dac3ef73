"""What every handler module shares: the user's language, sending HTML, "typing…", user errors.

Corpus calls are synchronous and slow (embedding), so handlers run them with :func:`blocking`, in a
worker thread, and the event loop keeps serving other chats.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any, AsyncIterator, Callable, TypeVar

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from retrieval.errors import UserError

from bot.context import Context
from bot.i18n import TEXTS, lang_of, number, t
from bot.render import esc, split_html

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
T = TypeVar("T")


def lang(update: Update) -> str:
    user = update.effective_user
    return lang_of(user.language_code if user else None)


def user_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None


async def blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a worker thread (corpus and storage calls)."""
    return await asyncio.to_thread(functools.partial(function, *args, **kwargs))


async def send_html(update: Update, context: Context, chunks: list[str],
                    markup: InlineKeyboardMarkup | None = None) -> Message | None:
    """Send one or more HTML messages to the update's chat; buttons go on the last one.

    In groups the first message replies to the question so the asker sees it is theirs.
    """
    chat = update.effective_chat
    message = update.effective_message
    last: Message | None = None
    for i, chunk in enumerate(chunks):
        reply_to = None
        if i == 0 and message is not None and chat is not None and chat.type != ChatType.PRIVATE:
            reply_to = message.message_id
        last = await context.bot.send_message(
            chat_id=chat.id,
            text=chunk,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if i == len(chunks) - 1 else None,
            # the question may have been deleted meanwhile: answer anyway
            reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
        )
    return last


async def say(update: Update, context: Context, key: str, **fields: Any) -> None:
    """Send an interface text (fields must already be escaped)."""
    await send_html(update, context, split_html(t(key, lang(update), **fields)))


def user_error_html(exc: UserError, language: str) -> str:
    """A library error in the user's language when it carries a code the bot knows, else its message."""
    code = getattr(exc, "code", "")
    params = getattr(exc, "params", {}) or {}
    if code == "question_empty":
        return t("empty_question", language)
    key = f"err_{code}"
    if code and key in TEXTS["en"]:
        fields = {name: number(value, language) if isinstance(value, int) else esc(value)
                  for name, value in params.items()}
        try:
            return t(key, language, **fields)
        except KeyError:  # a parameter the text needs is missing: fall back to the message
            pass
    return esc(str(exc))


async def say_error(update: Update, context: Context, exc: UserError) -> None:
    await send_html(update, context, split_html(user_error_html(exc, lang(update))))


@contextlib.asynccontextmanager
async def typing(context: Context, chat_id: int) -> AsyncIterator[None]:
    """Show "typing…" while the body runs (Telegram clears it after ~5 s, so it is repeated)."""

    async def keep() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
            await asyncio.sleep(4.5)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def drop_pressed_button(query: Any) -> None:
    """Take the pressed button off its keyboard (and its row when that empties), as the unfollow and
    unwatch buttons do once their action is done; a message Telegram will not edit keeps its keyboard."""
    markup = query.message.reply_markup if query.message else None
    if markup is None:
        return
    rows = [[b for b in row if b.callback_data != query.data] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
