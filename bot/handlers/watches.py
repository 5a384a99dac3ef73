"""Standing questions in Telegram: `/watch QUESTION`, `/watches`, `/unwatch ID`, the "Stop watching" button
(``uw:ID``), and how a push looks.

A watch belongs to the chat it was asked in (a group's watch pushes to the group) and counts against
the user who asked (CITEBOT_WATCH_MAX_PER_USER). The answers themselves are found by the library
(``retrieval.watch``) after each sync and sent by ``bot.jobs``, rendered here like any answer under a
"New on your watch" line.
"""
from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from retrieval import Pending, UserError

from bot.context import Context
from bot.handlers.common import blocking, drop_pressed_button, lang, say, say_error, send_html, user_id
from bot.handlers.library import _command_rest
from bot.i18n import t
from bot.render import answer_html, esc, split_html

log = logging.getLogger(__name__)

UNWATCH = re.compile(r"^uw:(\d{1,12})$")
QUESTION_CHARS = 200  # a watch's question as listed


def question_lang(question: str) -> str:
    """A push has no user to take the language from: Russian for a question in Cyrillic, else English."""
    return "ru" if re.search(r"[А-Яа-яЁё]", question) else "en"


def unwatch_markup(watch_id: int, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("unwatch_button", language), callback_data=f"uw:{watch_id}")]])


def push_messages(item: Pending) -> tuple[list[str], InlineKeyboardMarkup]:
    """A push as Telegram HTML messages: "New on your watch: QUESTION", then the cited answer."""
    language = question_lang(item.push.question)
    head = t("watch_push", language, question=esc(item.push.question[:QUESTION_CHARS]))
    return split_html(head + "\n\n" + answer_html(item.answer, language)), unwatch_markup(item.push.watch_id, language)


async def watch_command(update: Update, context: Context) -> None:
    question = _command_rest(update.effective_message.text).strip()
    if not question:
        await say(update, context, "watch_usage")
        return
    try:
        watch = await blocking(context.bot_data.watches.add, update.effective_chat.id, question, user_id(update))
    except UserError as exc:
        await say_error(update, context, exc)
        return
    log.info("user %s watches %s in chat %s", user_id(update), watch.id, watch.chat_id)
    language = lang(update)
    await send_html(update, context, split_html(t("watch_added", language, id=watch.id,
                                                  question=esc(watch.question[:QUESTION_CHARS]))),
                    unwatch_markup(watch.id, language))


async def watches_command(update: Update, context: Context) -> None:
    language = lang(update)
    rows = await blocking(context.bot_data.watches.list, update.effective_chat.id)
    if not rows:
        await say(update, context, "watches_empty")
        return
    lines = [t("watches_head", language)] + [t("watch_line", language, id=w.id, question=esc(w.question[:QUESTION_CHARS]))
                                             for w in rows]
    buttons = [InlineKeyboardButton(f"✖ {w.id}", callback_data=f"uw:{w.id}") for w in rows[:24]]
    markup = InlineKeyboardMarkup([buttons[i:i + 6] for i in range(0, len(buttons), 6)])
    await send_html(update, context, split_html("\n".join(lines)), markup)


async def unwatch_command(update: Update, context: Context) -> None:
    ref = " ".join(context.args or ()).strip()
    if not ref:
        await say(update, context, "unwatch_usage")
        return
    try:
        watch = await blocking(context.bot_data.watches.remove, ref, update.effective_chat.id)
    except UserError as exc:
        await say_error(update, context, exc)
        return
    log.info("user %s stopped watch %s", user_id(update), watch.id)
    await say(update, context, "unwatched", question=esc(watch.question[:QUESTION_CHARS]))


async def unwatch_button(update: Update, context: Context) -> None:
    """"Stop watching" under a push, a confirmation or `/watches`: only for a watch of this chat."""
    query = update.callback_query
    language = lang(update)
    watch_id = int(UNWATCH.match(query.data or "").group(1))
    chat_id = query.message.chat.id if query.message else None
    try:
        watch = await blocking(context.bot_data.watches.remove, watch_id, chat_id)
    except UserError:
        await query.answer(t("expired", language), show_alert=True)
        return
    log.info("user %s stopped watch %s (button)", user_id(update), watch.id)
    await query.answer(t("unwatched_short", language))
    await drop_pressed_button(query)


BUTTONS = ((UNWATCH, unwatch_button),)
