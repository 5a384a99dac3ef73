"""Inline mode: ``@bot question`` typed in any chat offers the cited answer as one inline result.

Why: people quote the bot's answers into their own chats; inline mode lets them do it without
forwarding. The result is the answer with its grouped sources, one line each (no passages: the
message lands in someone else's chat), and a button to ask the bot itself for more. Telegram sends a
query per keystroke: only the one the user has not changed for ``SETTLE_S`` is searched (and counted
by the rate limit); the superseded ones are left unanswered, as Telegram expects. Access rules
apply (bot.handlers.gate): a user not on the allow-list gets no result; since Telegram does not tell
the bot where an inline result will be posted, a non-empty chat allow-list turns inline mode off for
everyone but the admins. Enable it with BotFather's ``/setinline`` (docs/bot.md).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging

from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle,
                      InlineQueryResultsButton, InputTextMessageContent, Update)
from telegram.constants import ParseMode
from telegram.error import TelegramError

from retrieval import UserError

from bot.context import Context
from bot.handlers.common import NO_PREVIEW, blocking, lang, user_id
from bot.handlers.questions import clean_question
from bot.i18n import t
from bot.render import TELEGRAM_LIMIT, split_html
from bot.screen import entries_for, inline_screen, plain_answer, short_title, shorten, shown_citations

log = logging.getLogger(__name__)

MIN_CHARS = 6  # shorter queries are someone still typing: a hint, no search
CACHE_S = 30  # Telegram may reuse an inline answer this long (per user: is_personal)
SETTLE_S = 0.7  # Telegram sends a query per keystroke: only one the user has not changed since is searched


def _hint(language: str, key: str = "inline_hint") -> InlineQueryResultsButton:
    return InlineQueryResultsButton(text=t(key, language), start_parameter="inline")


async def inline_query(update: Update, context: Context) -> None:
    """Answer ``@bot question`` with one article: the cited answer, ready to post."""
    query = update.inline_query
    language = lang(update)
    question = clean_question(query.query or "")
    if len(question) < MIN_CHARS:
        await _answer(query, [], button=_hint(language), cache_time=0)
        return
    uid = user_id(update)
    if uid is not None:  # wait until the user stops typing; a newer query replaces this one
        latest = context.bot_data.inline_latest
        latest[uid] = query.id
        await asyncio.sleep(SETTLE_S)
        if latest.get(uid) != query.id:
            return  # superseded: Telegram drops unanswered queries on its own
        latest.pop(uid, None)
    limiter = context.bot_data.limiter
    if uid is not None and limiter.check(uid):
        await _answer(query, [], button=_hint(language, "inline_hint"), cache_time=0)
        return
    try:
        answer = await blocking(context.corpus.ask, question)
    except UserError as exc:
        log.info("inline query refused: %s", exc)
        await _answer(query, [], button=_hint(language), cache_time=0)
        return
    text = split_html(inline_screen(answer, language), TELEGRAM_LIMIT)[0]
    entries = entries_for(shown_citations(answer))
    if answer.answered:
        title = shorten(plain_answer(answer), 100)
        description = " · ".join(short_title(e.first.title, e.first.passage, e.doc_id) for e in entries[:2])
    else:
        title, description = t("inline_nothing", language), shorten(question, 100)
    username = context.bot.username or ""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(t("inline_more", language),
                                                         url=f"https://t.me/{username}")]]) if username else None
    result = InlineQueryResultArticle(
        id=hashlib.sha1(question.encode()).hexdigest()[:32],
        title=title,
        description=description,
        input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML,
                                                      link_preview_options=NO_PREVIEW),
        reply_markup=markup,
    )
    await _answer(query, [result], cache_time=CACHE_S)


async def _answer(query, results, **options) -> None:  # type: ignore[no-untyped-def]
    try:
        await query.answer(results, is_personal=True, **options)
    except TelegramError as exc:  # the user typed on and Telegram dropped this query: nothing to do
        log.debug("inline answer failed: %s", exc)
