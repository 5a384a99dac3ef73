"""Access, checked once: a handler in an early group that stops updates from users not allowed here.

Refused users get a polite answer only when they addressed the bot (a private message, a button,
a command or mention in a group), so a group's ordinary chatter never draws a refusal.
"""
from __future__ import annotations

import logging
import re

from telegram import InlineQueryResultsButton, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import Context
from bot.handlers.common import lang, say, user_id
from bot.handlers.questions import addressed_text
from bot.i18n import t

log = logging.getLogger(__name__)

GROUP = -1  # runs before every other handler group (0)


def addressed(update: Update, context: Context) -> bool:
    """Whether the update speaks to the bot (and would get a reply if allowed)."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    text = message.text or message.caption or ""
    command = re.match(r"^/\w+(?:@(\w+))?", text)
    if command:
        return command.group(1) is None or command.group(1).lower() == (context.bot.username or "").lower()
    return addressed_text(message, context.bot.id, context.bot.username or "") is not None


async def check_access(update: Update, context: Context) -> None:
    """Let allowed users through; refuse the others (politely if they spoke to us) and stop."""
    chat = update.effective_chat
    uid = user_id(update)
    if context.bot_data.access.may_use(uid, chat.id if chat else None):
        return
    log.info("refused user %s in chat %s (not on the allow-lists)", uid, chat.id if chat else None)
    if update.callback_query is not None:
        await update.callback_query.answer(t("not_allowed", lang(update)), show_alert=True)
    elif update.inline_query is not None:  # no result, and a button saying why
        await update.inline_query.answer([], cache_time=0, is_personal=True, button=InlineQueryResultsButton(
            text=t("inline_not_allowed", lang(update)), start_parameter="private"))
    elif chat is not None and addressed(update, context):
        await say(update, context, "not_allowed")
    raise ApplicationHandlerStop
