"""Channel posts in: ``channel_post`` and ``edited_channel_post`` of followed channels, and the bot's own
membership changes (``my_chat_member``) in them.

These updates have no user, so they are handled in a group before the access gate and stop there. The
work (plain text, the short-post rule, indexing, watches) runs in a worker thread (``bot.channels``);
every outcome is logged, so a post that is not indexed (a photo without a caption, "🔥", a channel
nobody followed) is never lost silently.
"""
from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.channels import ADMIN_STATUSES, NOT_ADMIN, find_source, index_post, record_ok, record_problem
from bot.context import Context
from bot.handlers.common import blocking

log = logging.getLogger(__name__)

GROUP = -2  # before the access gate (-1): channel updates carry no user to check


async def on_post(update: Update, context: Context) -> None:
    """A new or edited post: indexed (an edit replaces its earlier version) when the channel is followed."""
    message = update.channel_post or update.edited_channel_post
    edited = update.edited_channel_post is not None
    if message is None:
        raise ApplicationHandlerStop
    done = await blocking(index_post, context.bot_data, message, edited)
    what = "edit of post" if edited else "post"
    if done.source is None:
        log.info("%s %s in channel %s (%s) ignored: the channel is not followed (/follow)", what,
                 message.message_id, message.chat.id, message.chat.title)
    elif done.outcome is not None:
        outcome = done.outcome
        statuses = ", ".join(f"{r.status} doc {r.doc_id}" for r in outcome.results) or "nothing indexed"
        if outcome.action == "skip":
            log.info("%s %s not indexed: %s", what, done.post.label, outcome.reason)
        elif outcome.error:
            log.warning("%s %s: its article could not be fetched (%s); %s", what, done.post.label, outcome.error,
                        statuses)
        else:
            log.info("%s %s (%s): %s", what, done.post.label, outcome.action, statuses)
        if outcome.removed is not None:
            log.info("%s %s: earlier version (doc %s) removed", what, done.post.label, outcome.removed)
        if done.queued:
            log.info("%s %s answers %d standing question(s): pushes queued", what, done.post.label, done.queued)
    raise ApplicationHandlerStop


async def on_my_status(update: Update, context: Context) -> None:
    """The bot was made an administrator of a channel, or lost that (or left it): kept in the followed
    source's state, so `/sources` says why posts stopped arriving; its documents stay."""
    change = update.my_chat_member
    if change is None or change.chat.type != "channel":
        return  # groups: nothing to do here (the gate and the other handlers see the update)
    chat, status = change.chat, change.new_chat_member.status
    sources = context.bot_data.sources
    source = await blocking(find_source, sources, chat)
    if source is None:
        log.info("bot status in unfollowed channel %s (%s) is now %s", chat.id, chat.title, status)
    elif status in ADMIN_STATUSES:
        await blocking(record_ok, sources, source)
        log.info("followed channel %s (%s): the bot is an administrator again; posts are indexed", source.id,
                 chat.title)
    else:
        await blocking(record_problem, sources, source, f"{NOT_ADMIN} (status now: {status})")
    raise ApplicationHandlerStop
