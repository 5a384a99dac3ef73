"""Followed sources from Telegram: `/sources` (admins see what is followed), `/follow URL|@channel`,
`/unfollow ID`, and the ✖ button under the list (``uf:ID``).

A channel is checked with Telegram before it is followed: a name Telegram does not know is refused
(nothing is created), and a channel where the bot is no administrator yet is followed with a warning,
since its posts reach the bot only once it is one. Feeds and sitemaps are synced by the bot's schedule
(``bot.jobs``) at once and then on their interval. Folders are a server's business: refused here.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from retrieval import Source, UserError

from bot.channels import channel_problem
from bot.context import Context
from bot.handlers.common import blocking, drop_pressed_button, lang, say, say_error, send_html, user_id
from bot.handlers.library import admins_only
from bot.handlers.library import sources as documents_command
from bot.i18n import t
from bot.render import esc, split_html

log = logging.getLogger(__name__)

UNFOLLOW = re.compile(r"^uf:(\d{1,12})$")
_CHANNEL = re.compile(r"^(?:@|(?:https?://)?t\.me/)([A-Za-z][A-Za-z0-9_]{3,31})/?$|^-100\d{5,16}$")


def every_text(seconds: int) -> str:
    """An interval as `/follow` takes it: 90s, 30m, 2h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def source_line(source: Source, language: str) -> str:
    """One followed source as a line of `/sources`: id, kind, name, interval, and its state."""
    state = source.state
    if state.last_error:
        status = t("source_error", language, error=esc(state.last_error[:300]), failures=state.failures)
    elif state.last_success is None:
        status = t("source_never", language)
    else:
        when = datetime.fromtimestamp(state.last_success, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        status = t("source_ok", language, when=esc(when), entries=state.entries)
    return t("source_line", language, id=int(source.id), kind=esc(source.kind), name=esc(source.name[:120]),
             every=every_text(source.every), status=status)


async def sources_command(update: Update, context: Context) -> None:
    """`/sources`: the followed sources for admins (with ✖ buttons); the document list for everyone else
    (and for admins as `/documents`)."""
    if not context.bot_data.access.is_admin(user_id(update)):
        await documents_command(update, context)
        return
    language = lang(update)
    rows = await blocking(context.bot_data.sources.list)
    if not rows:
        await say(update, context, "followed_empty")
        return
    lines = [t("followed_head", language)] + [source_line(s, language) for s in rows]
    buttons = [InlineKeyboardButton(f"✖ {s.id}", callback_data=f"uf:{s.id}") for s in rows[:24]]
    markup = InlineKeyboardMarkup([buttons[i:i + 6] for i in range(0, len(buttons), 6)])
    chunks = split_html("\n".join(lines))
    await send_html(update, context, chunks, markup)


@admins_only
async def follow_command(update: Update, context: Context) -> None:
    """`/follow URL [EVERY]` or `/follow @channel [EVERY]`."""
    args = list(context.args or ())
    if not args or len(args) > 2:
        await say(update, context, "follow_usage")
        return
    ref, every = args[0].strip(), (args[1] if len(args) > 1 else None)
    sources = context.bot_data.sources
    problem = ""
    try:
        if _CHANNEL.match(ref):
            chat, problem = await channel_problem(context.bot, ref if not ref.startswith("-100") else int(ref))
            if chat is None or chat.type != "channel":
                await say(update, context, "follow_not_found", ref=esc(ref))
                return
            location = f"@{chat.username}" if chat.username else str(chat.id)
            source = await blocking(sources.add, location, every=every, name=chat.title or location)
        elif re.match(r"(?i)https?://", ref):
            source = await blocking(sources.add, ref, every=every)
            _sync_soon(context)
        else:
            await say(update, context, "follow_folder")
            return
    except UserError as exc:
        await say_error(update, context, exc)
        return
    log.info("user %s followed source %s (%s %s)", user_id(update), source.id, source.kind, source.location)
    language = lang(update)
    text = t("follow_done", language, name=esc(source.name), id=source.id, every=every_text(source.every))
    if problem:
        text += t("follow_warn", language, problem=esc(problem))
    await send_html(update, context, split_html(text))


def _sync_soon(context: Context) -> None:
    """A new feed is fetched now, not at the schedule's next look."""
    from bot.jobs import sync_due  # bot.jobs renders pushes with the handlers' helpers: imported late

    if context.application.job_queue is not None:
        context.application.job_queue.run_once(sync_due, 0.5, name="sync-now")


@admins_only
async def unfollow_command(update: Update, context: Context) -> None:
    ref = " ".join(context.args or ()).strip()
    if not ref:
        await say(update, context, "unfollow_usage")
        return
    try:
        source = await blocking(context.bot_data.sources.remove, ref)
    except UserError as exc:
        await say_error(update, context, exc)
        return
    log.info("user %s stopped following source %s", user_id(update), source.id)
    await say(update, context, "unfollowed", name=esc(source.name), id=source.id)


async def unfollow_button(update: Update, context: Context) -> None:
    """✖ under `/sources`: stop following that source (admins only); the button goes away."""
    query = update.callback_query
    language = lang(update)
    if not context.bot_data.access.is_admin(user_id(update)):
        await query.answer(t("admins_only", language), show_alert=True)
        return
    source_id = int(UNFOLLOW.match(query.data or "").group(1))
    try:
        source = await blocking(context.bot_data.sources.remove, source_id)
    except UserError:
        await query.answer(t("expired", language), show_alert=True)
        return
    log.info("user %s stopped following source %s (button)", user_id(update), source.id)
    await query.answer(t("unfollowed_short", language, id=source.id))
    await drop_pressed_button(query)


BUTTONS = ((UNFOLLOW, unfollow_button),)
