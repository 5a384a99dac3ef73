"""Followed Telegram channels: their posts into the library, their health into the source's state.

Telegram stays here, out of ``retrieval/``: a ``channel_post`` becomes a library ``Post`` (plain text
from its entities, the channel's title, the t.me link, the post date) and ``retrieval.add_post`` does
the rest (the short-post rule, an edit replacing its earlier version). Each outcome is logged and kept
in the followed source's state (`/sources`, `citebot sources list`): the last post indexed, or why a
post or the channel could not be read. Posts of channels nobody followed are ignored (logged).

The functions here are synchronous (storage and corpus calls) and run in worker threads, except the
two that ask Telegram about a channel.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from telegram import Bot, Chat, Message
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden, TelegramError

from retrieval import (Post, PostOutcome, SeenEntry, Source, Sources, add_post, check_watches,
                       plain_text)
from retrieval.ingest.telegram import iso_date
from retrieval.sources.model import next_due_after
from retrieval.types import text_hash

log = logging.getLogger(__name__)

ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
NOT_ADMIN = "the bot is not an administrator of this channel: its new posts do not reach citebot"
GONE = "the channel cannot be found (deleted, or the bot was removed from it)"
ATTEMPTS = 3  # a post is tried this many times when the library is busy (a long write elsewhere)
RETRY_DELAY = 1.0  # seconds before the second attempt (doubling)


@dataclass(frozen=True)
class Indexed:
    """A channel post's fate: the followed source (None: not followed), the outcome and the pushes queued."""

    source: Source | None
    post: Post
    outcome: PostOutcome | None = None
    queued: int = 0


def post_of(message: Message, channel_name: str = "") -> Post:
    """The library's view of a channel post: plain text of its text or caption with its entities."""
    chat = message.chat
    text = message.text if message.text is not None else message.caption
    entities = message.entities if message.text is not None else message.caption_entities
    return Post(message.message_id, chat.title or channel_name or chat.username or str(chat.id),
                plain_text(text, entities or ()), iso_date(message.date), chat.username or "", chat.id)


def find_source(sources: Sources, chat: Chat) -> Source | None:
    """The followed source of this channel, by its id or its username."""
    source = sources.find_channel(chat.id)
    if source is None and chat.username:
        source = sources.find_channel(chat.username)
    return source


def index_post(data: Any, message: Message, edited: bool) -> Indexed:
    """Index one channel post (or its edit) if its channel is followed; record it; ask the watches."""
    sources: Sources = data.sources
    source = find_source(sources, message.chat)
    post = post_of(message, source.name if source else "")
    if source is None:
        return Indexed(None, post)
    outcome = None
    for attempt in range(ATTEMPTS):
        try:
            outcome = add_post(data.corpus, post, edited=edited)
            break
        except Exception as exc:  # noqa: BLE001 - the index busy or read-only, a database hiccup: retry, then say so
            if attempt == ATTEMPTS - 1:
                record_problem(sources, source, f"{post.label} could not be indexed: {exc}")
                raise
            time.sleep(RETRY_DELAY * 2 ** attempt)
    assert outcome is not None
    record_post(sources, source, post, outcome)
    queued = check_watches(data.corpus, data.watches, outcome.doc_ids) if outcome.doc_ids else 0
    return Indexed(source, post, outcome, queued)


def record_post(sources: Sources, source: Source, post: Post, outcome: PostOutcome) -> None:
    """The post in the source's seen entries (what it became), and the source marked healthy."""
    result = next((r for r in outcome.results if r.status in ("added", "replaced", "duplicate")), None)
    doc_id = None if result is None else (result.doc_id if result.status != "duplicate" else result.duplicate_of)
    origin = "post" if outcome.action == "index" or (outcome.action == "fetch" and outcome.error) else "article"
    sources.mark_seen(source.id, [SeenEntry(post.path, text_hash(post.text.text), text_hash(post.text.text),
                                            doc_id, origin)])
    record_ok(sources, source)


def record_ok(sources: Sources, source: Source, now: float | None = None) -> None:
    now = time.time() if now is None else now
    current = sources.get(source.id) or source
    state = replace(current.state, last_success=now, last_attempt=now, last_error="", failures=0,
                    next_due=next_due_after(current, now, failed=False))
    sources.save_state(source.id, state)


def record_problem(sources: Sources, source: Source, problem: str, now: float | None = None) -> None:
    """One line in the source's state (shown by `/sources` and `citebot sources list`), and the log."""
    now = time.time() if now is None else now
    current = sources.get(source.id) or source
    failed = replace(current, state=replace(current.state, failures=current.state.failures + 1))
    state = replace(current.state, last_attempt=now, last_error=problem[:500], failures=current.state.failures + 1,
                    next_due=next_due_after(failed, now, failed=True))
    sources.save_state(source.id, state)
    log.warning("followed channel %s (%s): %s", source.id, source.name, problem)


def channel_ref(source: Source) -> str | int:
    """What getChat takes for a followed channel: its @username or its numeric id."""
    return source.location if source.location.startswith("@") else int(source.location)


async def channel_problem(bot: Bot, ref: str | int) -> tuple[Chat | None, str]:
    """(the channel, "") when the bot can read its posts, else (the channel or None, why not)."""
    try:
        chat = await bot.get_chat(ref)
    except (BadRequest, Forbidden) as exc:
        return None, f"{GONE} ({exc.message})"
    if chat.type != Chat.CHANNEL:
        return chat, f"{ref} is a {chat.type}, not a channel"
    try:
        member = await bot.get_chat_member(chat.id, bot.id)
    except (BadRequest, Forbidden) as exc:
        return chat, f"{NOT_ADMIN} ({exc.message})"
    if member.status not in ADMIN_STATUSES:
        return chat, NOT_ADMIN
    return chat, ""


async def check_channels(bot: Bot, sources: Sources, now: float | None = None) -> int:
    """Ask Telegram about each due followed channel (the channel sync): healthy, or why its posts stop.
    Returns how many were checked. A network failure is not the channel's fault: it is left for later."""
    import asyncio

    now = time.time() if now is None else now
    due = [s for s in await asyncio.to_thread(sources.due, now) if s.kind == "telegram"]
    for source in due:
        try:
            _, problem = await channel_problem(bot, channel_ref(source))
        except TelegramError as exc:
            log.info("followed channel %s: Telegram did not answer (%s); checked later", source.id, exc)
            continue
        if problem:
            await asyncio.to_thread(record_problem, sources, source, problem, now)
        else:
            await asyncio.to_thread(record_ok, sources, source, now)
    return len(due)
