"""Inline buttons, one handler per action (``CallbackQueryHandler(pattern=...)`` in bot.handlers).

Callback data (at most 64 bytes) carries a short key into the bot's storage, never the question:
``m:KEY:0`` more sources (a new message), ``p:KEY:OFFSET`` another page of them (edited in place),
``f:KEY:1|0`` a vote, ``q:KEY`` the quotes behind a generated answer, ``w:KEY`` the nearest passages
under a non-answer (a new message), ``s:PAGE`` the document list.
Anything else (forged, or from an older version) gets "this button has expired".
"""
from __future__ import annotations

import contextlib
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from retrieval import Hit, further_passages, relevance_floor

from bot.context import Context, Library
from bot.handlers.common import NO_PREVIEW, blocking, lang, typing, user_id
from bot.handlers.library import sources_page
from bot.i18n import t
from bot.render import esc, render_hits, short_title, split_html
from bot.storage.base import StoredQuestion

log = logging.getLogger(__name__)

MORE_PAGE = 3  # passages per "More sources" page, fewer when they do not fit one message
MAX_OFFSET = 300

KEY = r"([A-Za-z0-9_-]{1,16})"
MORE = re.compile(rf"^m:{KEY}:(\d{{1,6}})$")
PAGE = re.compile(rf"^p:{KEY}:(\d{{1,6}})$")
VOTE = re.compile(rf"^f:{KEY}:([01])$")
QUOTES = re.compile(rf"^q:{KEY}$")
NEAREST = re.compile(rf"^w:{KEY}$")
SOURCES = re.compile(r"^s:(\d{1,6})$")


def _without(markup: InlineKeyboardMarkup | None, prefix: str) -> InlineKeyboardMarkup | None:
    """The keyboard without the buttons whose data starts with ``prefix``."""
    if markup is None:
        return None
    rows = [[b for b in row if not (b.callback_data or "").startswith(prefix)] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


async def _edit_markup(update: Update, markup: InlineKeyboardMarkup | None) -> None:
    with contextlib.suppress(BadRequest):  # "message is not modified", or too old to edit
        await update.callback_query.edit_message_reply_markup(reply_markup=markup)


async def _stored(update: Update, context: Context, key: str) -> StoredQuestion | None:
    stored = await blocking(context.storage.question, key)
    if stored is None:
        await update.callback_query.answer(t("expired", lang(update)), show_alert=True)
    return stored


async def expired(update: Update, context: Context) -> None:
    """Data no handler pattern matched."""
    await update.callback_query.answer(t("expired", lang(update)), show_alert=True)


# --- votes -----------------------------------------------------------------------------------------

def _vote_keyboard(markup: InlineKeyboardMarkup | None, key: str, up: int, down: int) -> InlineKeyboardMarkup:
    """The same keyboard with the vote counts on the 👍/👎 buttons (which stay for everyone)."""
    rows = [[b for b in row if not (b.callback_data or "").startswith("f:")] for row in
            (markup.inline_keyboard if markup else ())]
    rows = [row for row in rows if row]
    rows.append([InlineKeyboardButton(f"👍 {up}" if up else "👍", callback_data=f"f:{key}:1"),
                 InlineKeyboardButton(f"👎 {down}" if down else "👎", callback_data=f"f:{key}:0")])
    return InlineKeyboardMarkup(rows)


async def vote(update: Update, context: Context) -> None:
    """One vote per user per answer; pressing again changes it. Other users keep their buttons."""
    key, up = context.match.group(1), context.match.group(2) == "1"
    stored = await _stored(update, context, key)
    if stored is None:
        return
    await blocking(context.storage.vote, key, user_id(update), 1 if up else -1)
    tally = await blocking(context.storage.tally, key)
    log.info("feedback %s on question %s", "+1" if up else "-1", key)
    query = update.callback_query
    current = getattr(query.message, "reply_markup", None)
    markup = _vote_keyboard(current, key, tally.up, tally.down)
    if markup != current:  # the same vote again: editing would be refused as "message is not modified"
        await _edit_markup(update, markup)
    # Answered after the edit, so that once the query is answered the keyboard is final.
    await query.answer(t("thanks", lang(update)))


# --- more sources ----------------------------------------------------------------------------------

def _floor(context: Context) -> float:
    if context.bot_data.relevance is not None:
        return context.bot_data.relevance
    return relevance_floor(float(context.corpus.min_score))


def _page(others: list[Hit], stored: StoredQuestion, offset: int, language: str
          ) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """The page starting at ``offset`` and its ◀/▶ buttons; None past the end."""
    hits = others[offset: offset + MORE_PAGE]
    if not hits:
        return None
    first = int(stored.extra.get("next_n", len(stored.passage_ids) + 1)) + offset
    text, count = render_hits(hits, stored.question, first, language)
    row = []
    if offset > 0:
        back = offset - 1  # the earliest start whose page still reaches up to this one
        while back > max(0, offset - MORE_PAGE) and render_hits(others[back - 1: offset], stored.question,
                                                                first, language)[1] == offset - back + 1:
            back -= 1
        row.append(InlineKeyboardButton(t("prev", language), callback_data=f"p:{stored.key}:{back}"))
    if len(others) > offset + count:
        row.append(InlineKeyboardButton(t("next", language), callback_data=f"p:{stored.key}:{offset + count}"))
    return text, InlineKeyboardMarkup([row]) if row else None


async def _further_page(update: Update, context: Context, offset: int) -> tuple[StoredQuestion, tuple | None] | None:
    """Shared by "More sources" and paging: checks, rate limit, search off the loop, render."""
    query = update.callback_query
    language = lang(update)
    stored = await _stored(update, context, context.match.group(1))
    if stored is None:
        return None
    if offset > MAX_OFFSET:
        await query.answer(t("no_more", language))
        return None
    uid = user_id(update)
    limiter = context.bot_data.limiter
    wait = limiter.check(uid) if uid is not None else 0.0
    if wait:  # paging costs a search like a question does
        await query.answer(t("slow_down", language, limit=limiter.limit, seconds=int(wait + 0.999)),
                           show_alert=True)
        return None
    async with typing(context, update.effective_chat.id):
        others = await blocking(further_passages, context.corpus, stored.question, stored.passage_ids,
                                offset + MORE_PAGE, _floor(context))
    return stored, _page(others, stored, offset, language)


async def more_sources(update: Update, context: Context) -> None:
    """The first page of further passages, as a new message; the answer loses its "More" button."""
    query = update.callback_query
    found = await _further_page(update, context, 0)
    if found is None:
        return
    _stored_question, page = found
    current = getattr(query.message, "reply_markup", None)
    if page is None:
        await query.answer(t("no_more", lang(update)))
        await _edit_markup(update, _without(current, "m:"))
        return
    await query.answer()
    text, markup = page
    await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                   reply_markup=markup, link_preview_options=NO_PREVIEW)
    await _edit_markup(update, _without(current, "m:"))


async def page(update: Update, context: Context) -> None:
    """◀/▶ on a "More sources" message: edit it in place."""
    query = update.callback_query
    found = await _further_page(update, context, int(context.match.group(2)))
    if found is None:
        return
    _stored_question, result = found
    if result is None:
        await query.answer(t("no_more", lang(update)))
        return
    await query.answer()
    text, markup = result
    with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                      link_preview_options=NO_PREVIEW)


# --- quotes behind a generated answer ---------------------------------------------------------------

async def quotes(update: Update, context: Context) -> None:
    """Each generated sentence with the sentence of its cited passage that supports it."""
    query = update.callback_query
    stored = await _stored(update, context, context.match.group(1))
    if stored is None:
        return
    data = stored.extra.get("answer") or {}
    language = lang(update)
    blocks = [t("quotes_head", language)]
    titles = data.get("titles", {})
    for sentence in data.get("sentences", []):
        refs = ", ".join(f"[{int(n)}] {short_title((titles.get(str(n)) or ['#'])[0] or '#')}"
                         for n in sentence.get("citations", []))
        blocks.append(f"{esc(sentence.get('text', ''))}\n{refs}\n<blockquote>{esc(sentence.get('quote', ''))}</blockquote>")
    await query.answer()
    for chunk in split_html("\n\n".join(blocks)):
        await context.bot.send_message(update.effective_chat.id, chunk, parse_mode=ParseMode.HTML,
                                       link_preview_options=NO_PREVIEW)
    await _edit_markup(update, _without(getattr(query.message, "reply_markup", None), "q:"))


# --- the nearest passages under a non-answer ---------------------------------------------------------

async def nearest(update: Update, context: Context) -> None:
    """The passages a non-answer only named (title · date), posted on request; the button goes."""
    query = update.callback_query
    stored = await _stored(update, context, context.match.group(1))
    if stored is None:
        return
    language = lang(update)
    hits = [Hit(int(p["passage_id"]), int(p["doc_id"]), 0.0, None, None, str(p.get("text") or ""), 0,
                len(str(p.get("text") or "")), str(p.get("title") or ""), p.get("date"), str(p.get("source") or ""),
                str(p.get("url") or ""), p.get("page")) for p in stored.extra.get("nearest", [])]
    await query.answer()
    first = 1
    while hits:
        text, count = render_hits(hits, stored.question, first, language, head="nearest_head")
        await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                       link_preview_options=NO_PREVIEW)
        hits, first = hits[count:], first + count
    await _edit_markup(update, _without(getattr(query.message, "reply_markup", None), "w:"))


# --- the document list -----------------------------------------------------------------------------

async def sources(update: Update, context: Context) -> None:
    query = update.callback_query
    await query.answer()
    text, markup = await sources_page(context, int(context.match.group(1)), lang(update))
    with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                      link_preview_options=NO_PREVIEW)


HANDLERS = ((MORE, more_sources), (PAGE, page), (VOTE, vote), (QUOTES, quotes), (NEAREST, nearest),
            (SOURCES, sources))
