"""The global error handler: log the traceback (token redacted by bot.app) and apologise once (never
in a channel: a failed channel post is logged and kept in its source's state, bot.channels)."""
from __future__ import annotations

import contextlib
import logging

from telegram import Update

from bot.context import Context
from bot.handlers.common import lang
from bot.i18n import t

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type == "channel":  # a channel's post: never write into the channel
        return
    with contextlib.suppress(Exception):
        if update.callback_query:
            await update.callback_query.answer(t("error", lang(update)), show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, t("error", lang(update)))
