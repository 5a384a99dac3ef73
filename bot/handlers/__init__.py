"""Telegram update handlers, by concern: access (gate), questions, buttons, library, channel posts
(channels), followed sources (follow), standing questions (watches); wired here.

Handlers stay thin ``async def handler(update, context)`` functions: corpus and storage calls run in
worker threads (``common.blocking``), every text shown is escaped by ``bot.render``. Only new
messages are handled (an edited old question is not answered again).
"""
from __future__ import annotations

from telegram.ext import (Application, CallbackQueryHandler, ChatMemberHandler, CommandHandler, InlineQueryHandler,
                          MessageHandler, MessageReactionHandler, TypeHandler, filters)
from telegram import Update

from bot.handlers import buttons, channels, follow, gate, inline, library, questions, reactions, watches
from bot.handlers.errors import on_error

ADD_CAPTION = filters.CaptionRegex(r"^/add(@\w+)?(\s|$)")
COMMANDS = ("start", "help", "ask", "new", "watch", "watches", "sources", "stats")  # the menu (bot.app sets it)


def register(app: Application) -> None:
    """Attach every handler: the access gate first (group -1), then one handler per kind of update."""
    new = filters.UpdateType.MESSAGE
    private = new & filters.ChatType.PRIVATE
    groups = new & filters.ChatType.GROUPS
    # channel posts and the bot's membership in channels carry no user: handled before the gate
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, channels.on_post), group=channels.GROUP)
    app.add_handler(ChatMemberHandler(channels.on_my_status, ChatMemberHandler.MY_CHAT_MEMBER), group=channels.GROUP)
    app.add_handler(TypeHandler(Update, gate.check_access), group=gate.GROUP)

    app.add_handler(CommandHandler("start", questions.start, filters=new))
    app.add_handler(CommandHandler("help", questions.help_command, filters=new))
    app.add_handler(CommandHandler("ask", questions.ask_command, filters=new))
    app.add_handler(CommandHandler("new", questions.new_command, filters=new))
    app.add_handler(CommandHandler("sources", follow.sources_command, filters=new))
    app.add_handler(CommandHandler("documents", library.sources, filters=new))
    app.add_handler(CommandHandler("follow", follow.follow_command, filters=new))
    app.add_handler(CommandHandler("unfollow", follow.unfollow_command, filters=new))
    app.add_handler(CommandHandler("watch", watches.watch_command, filters=new))
    app.add_handler(CommandHandler("watches", watches.watches_command, filters=new))
    app.add_handler(CommandHandler("unwatch", watches.unwatch_command, filters=new))
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

    for pattern, callback in buttons.HANDLERS + follow.BUTTONS + watches.BUTTONS:
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    app.add_handler(CallbackQueryHandler(buttons.expired))
    app.add_handler(InlineQueryHandler(inline.inline_query))
    app.add_handler(MessageReactionHandler(reactions.reaction))
    app.add_error_handler(on_error)
