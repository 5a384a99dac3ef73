"""Telegram update handlers, by concern: access (gate), questions, buttons, library; wired here.

Handlers stay thin ``async def handler(update, context)`` functions: corpus and storage calls run in
worker threads (``common.blocking``), every text shown is escaped by ``bot.render``. Only new
messages are handled (an edited old question is not answered again).
"""
from __future__ import annotations

from telegram.ext import (Application, CallbackQueryHandler, CommandHandler, InlineQueryHandler, MessageHandler,
                          MessageReactionHandler, TypeHandler, filters)
from telegram import Update

from bot.handlers import buttons, gate, inline, library, questions, reactions
from bot.handlers.errors import on_error

ADD_CAPTION = filters.CaptionRegex(r"^/add(@\w+)?(\s|$)")
COMMANDS = ("start", "help", "ask", "new", "sources", "stats")  # the menu (bot.app sets it)


def register(app: Application) -> None:
    """Attach every handler: the access gate first (group -1), then one handler per kind of update."""
    new = filters.UpdateType.MESSAGE
    private = new & filters.ChatType.PRIVATE
    groups = new & filters.ChatType.GROUPS
    app.add_handler(TypeHandler(Update, gate.check_access), group=gate.GROUP)

    app.add_handler(CommandHandler("start", questions.start, filters=new))
    app.add_handler(CommandHandler("help", questions.help_command, filters=new))
    app.add_handler(CommandHandler("ask", questions.ask_command, filters=new))
    app.add_handler(CommandHandler("new", questions.new_command, filters=new))
    app.add_handler(CommandHandler("sources", library.sources, filters=new))
    app.add_handler(CommandHandler("stats", library.stats, filters=new))
    app.add_handler(CommandHandler("add", library.add_command, filters=new))
    app.add_handler(CommandHandler("remove", library.remove_command, filters=new))
    app.add_handler(MessageHandler(new & filters.Document.ALL & ADD_CAPTION, library.add_command))
    app.add_handler(MessageHandler(private & filters.Document.ALL, library.private_document))
    app.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, questions.private_text))
    app.add_handler(MessageHandler(private & filters.CAPTION, questions.private_caption))
    app.add_handler(MessageHandler(groups & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND, questions.group_text))
    # in a private chat nothing goes unanswered: stickers, voice notes, unknown commands get short help
    app.add_handler(MessageHandler(private, questions.short_help))

    for pattern, callback in buttons.HANDLERS:
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    app.add_handler(CallbackQueryHandler(buttons.expired))
    app.add_handler(InlineQueryHandler(inline.inline_query))
    app.add_handler(MessageReactionHandler(reactions.reaction))
    app.add_error_handler(on_error)
