"""Votes given as reactions: 👍 or 👎 on an answer counts exactly like pressing its vote button.

Why: on a phone a reaction is one long-press away and people already use them to say "helpful". The
bot receives ``message_reaction`` updates only when ``allowed_updates`` lists it (bot.app asks for every
update type) and, in groups, only as an administrator. The answer message is mapped back to its question
through the bot's storage (``attach`` when the answer is sent); one vote per user per answer, a new
reaction changes it, taking the reaction back withdraws it. Other reactions are ignored.
"""
from __future__ import annotations

import logging

from telegram import Update

from bot.context import Context
from bot.handlers.common import blocking

log = logging.getLogger(__name__)

VOTES = {"👍": 1, "👎": -1}


def _votes(reactions) -> list[int]:  # type: ignore[no-untyped-def]
    return [VOTES[r.emoji] for r in reactions or () if getattr(r, "emoji", None) in VOTES]


async def reaction(update: Update, context: Context) -> None:
    """A user's reactions on a message changed: record, change or withdraw their vote."""
    changed = update.message_reaction
    if changed is None or changed.user is None:  # anonymous (a channel or an anonymous admin)
        return
    new, old = _votes(changed.new_reaction), _votes(changed.old_reaction)
    if not new and not old:
        return
    key = await blocking(context.storage.key_at, changed.chat.id, changed.message_id)
    if key is None:  # a reaction on some other message
        return
    if new:
        await blocking(context.storage.vote, key, changed.user.id, new[-1])
        log.info("feedback %+d on question %s (reaction)", new[-1], key)
    else:
        await blocking(context.storage.unvote, key, changed.user.id)
        log.info("feedback withdrawn on question %s (reaction)", key)
