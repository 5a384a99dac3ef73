"""Telegram update handlers: questions, paging, feedback, library commands and uploads.

Handlers stay thin: every call into the corpus runs in a worker thread (``asyncio.to_thread``) so the
event loop keeps serving other chats, and every text shown to users is escaped by ``bot.render``.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from retrieval.errors import UserError
from retrieval.types import AddResult, Document

from bot.access import Access, RateLimiter
from bot.feedback import FeedbackStore
from bot.i18n import lang_of, t
from bot.render import TITLE_CHARS, esc, render_answer, render_hits, shorten, split_html

log = logging.getLogger(__name__)

BOT_API_FILE_LIMIT_MB = 20  # getFile cannot fetch larger files
MORE_PAGE = 3  # passages per "More sources" page
SOURCES_PAGE = 10  # documents per /sources page
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
STATS_SHOWN = ("documents", "passages", "model")


@dataclass
class BotState:
    """What handlers share: the corpus, access rules, rate limiter, feedback store and limits."""

    corpus: Any  # retrieval.Corpus (or a test double with the same methods)
    access: Access
    limiter: RateLimiter
    feedback: FeedbackStore
    max_upload_mb: int = 20


def state_of(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["state"]


def _lang(update: Update) -> str:
    user = update.effective_user
    return lang_of(user.language_code if user else None)


# --- sending ---------------------------------------------------------------------------------------

async def send_html(update: Update, context: ContextTypes.DEFAULT_TYPE, chunks: list[str],
                    markup: InlineKeyboardMarkup | None = None) -> Message | None:
    """Send one or more HTML messages to the update's chat; buttons go on the last one.

    In groups the first message replies to the question so the asker sees it is theirs.
    """
    chat = update.effective_chat
    message = update.effective_message
    last: Message | None = None
    for i, chunk in enumerate(chunks):
        reply_to = None
        if i == 0 and message is not None and chat is not None and chat.type != ChatType.PRIVATE:
            reply_to = message.message_id
        last = await context.bot.send_message(
            chat_id=chat.id,
            text=chunk,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup if i == len(chunks) - 1 else None,
            # the question may have been deleted meanwhile: answer anyway
            reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
        )
    return last


async def say(update: Update, context: ContextTypes.DEFAULT_TYPE, key: str, **fields: Any) -> None:
    """Send an interface text (already-safe fields only)."""
    await send_html(update, context, split_html(t(key, _lang(update), **fields)))


@contextlib.asynccontextmanager
async def typing(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> AsyncIterator[None]:
    """Show "typing…" while the body runs (Telegram clears it after ~5 s, so it is repeated)."""

    async def keep() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await context.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
            await asyncio.sleep(4.5)

    task = asyncio.create_task(keep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- access ----------------------------------------------------------------------------------------

async def allowed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True if this user may use the bot in this chat; otherwise a polite refusal is sent."""
    user, chat = update.effective_user, update.effective_chat
    if state_of(context).access.may_use(user.id if user else None, chat.id if chat else None):
        return True
    log.info("refused user %s in chat %s (not on the allow-lists)", user.id if user else None,
             chat.id if chat else None)
    if update.callback_query:
        await update.callback_query.answer(t("not_allowed", _lang(update)), show_alert=True)
    else:
        await say(update, context, "not_allowed")
    return False


async def admin_only(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True for admins; everyone else gets a refusal and nothing changes."""
    user = update.effective_user
    if state_of(context).access.is_admin(user.id if user else None):
        return True
    log.info("refused library change by non-admin user %s", user.id if user else None)
    await say(update, context, "admins_only")
    return False


# --- questions -------------------------------------------------------------------------------------

def _answer_keyboard(key: str, offset: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(t("more_sources", lang), callback_data=f"m:{key}:{offset}")],
        [InlineKeyboardButton("👍", callback_data=f"f:{key}:1"),
         InlineKeyboardButton("👎", callback_data=f"f:{key}:0")],
    ])


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Ask the corpus in a worker thread and reply with the cited answer (or a plain "no answer")."""
    if not await allowed(update, context):
        return
    state = state_of(context)
    lang = _lang(update)
    question = question.strip()
    if not question:
        await say(update, context, "empty_question")
        return
    user, chat = update.effective_user, update.effective_chat
    wait = state.limiter.check(user.id) if user else 0.0
    if wait:
        await say(update, context, "slow_down", limit=state.limiter.limit, seconds=int(wait + 0.999))
        return
    async with typing(context, chat.id):
        try:
            answer = await asyncio.to_thread(state.corpus.ask, question)
        except UserError as exc:
            await send_html(update, context, split_html(esc(str(exc))))
            return
    passage_ids = [c.passage_id for c in answer.citations]
    key = await asyncio.to_thread(state.feedback.remember, question, passage_ids,
                                  user.id if user else None, chat.id, answer.answered)
    markup = _answer_keyboard(key, len(answer.citations), lang)
    await send_html(update, context, render_answer(answer, lang), markup)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat any text is a question."""
    await answer_question(update, context, update.effective_message.text or "")


def _addressed_text(message: Message, bot_id: int, username: str) -> str | None:
    """The question if a group message mentions or replies to the bot, else None."""
    text = message.text or ""
    mention = f"@{username}".lower()
    found = False
    for entity in message.entities or ():
        part = message.parse_entity(entity)
        if entity.type == MessageEntity.MENTION and part.lower() == mention:
            found = True
            text = text.replace(part, " ")
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            found = True
            text = text.replace(part, " ")
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot_id:
        found = True
    return " ".join(text.split()) if found else None


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups answer only when mentioned or replied to; other chatter is none of our business."""
    question = _addressed_text(update.effective_message, context.bot.id, context.bot.username or "")
    if question is None:
        return
    await answer_question(update, context, question)


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer_question(update, context, " ".join(context.args or ()))


# --- buttons ---------------------------------------------------------------------------------------

def _without_feedback(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    if markup is None:
        return None
    rows = [[b for b in row if not (b.callback_data or "").startswith("f:")] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _without_more(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    if markup is None:
        return None
    rows = [[b for b in row if not (b.callback_data or "").startswith("m:")] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _pages_keyboard(key: str, offset: int, base: int, more: bool, lang: str) -> InlineKeyboardMarkup | None:
    row = []
    if offset - MORE_PAGE >= base:
        row.append(InlineKeyboardButton(t("prev", lang), callback_data=f"p:{key}:{offset - MORE_PAGE}:{base}"))
    if more:
        row.append(InlineKeyboardButton(t("next", lang), callback_data=f"p:{key}:{offset + MORE_PAGE}:{base}"))
    return InlineKeyboardMarkup([row]) if row else None


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Inline buttons: ``m:KEY:OFFSET`` more sources (new message), ``p:KEY:OFFSET:BASE`` page in
    place, ``f:KEY:1|0`` feedback, ``s:PAGE`` documents list page."""
    query = update.callback_query
    if not await allowed(update, context):
        return
    state = state_of(context)
    lang = _lang(update)
    kind, _, rest = (query.data or "").partition(":")
    parts = rest.split(":")
    numbers = parts[1:] if kind in {"m", "p"} else parts if kind == "s" else []
    if not all(n.isdigit() and len(n) < 7 for n in numbers):  # forged or foreign data
        await query.answer(t("expired", lang), show_alert=True)
        return
    if kind == "s":
        await query.answer()
        text, markup = await _sources_page(state, int(rest or 0), lang)
        with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                          link_preview_options=NO_PREVIEW)
        return
    stored = await asyncio.to_thread(state.feedback.question, parts[0]) if parts[0] else None
    if stored is None:
        await query.answer(t("expired", lang), show_alert=True)
        return
    current_markup = getattr(query.message, "reply_markup", None)  # None if the message is too old
    if kind == "f" and len(parts) == 2:
        user = update.effective_user
        await asyncio.to_thread(state.feedback.vote, stored.key, user.id if user else None,
                                1 if parts[1] == "1" else -1)
        log.info("feedback %s on question %s", "+1" if parts[1] == "1" else "-1", stored.key)
        await query.answer(t("thanks", lang))
        with contextlib.suppress(BadRequest):  # "message is not modified" on a double tap
            await query.edit_message_reply_markup(reply_markup=_without_feedback(current_markup))
        return
    if kind in {"m", "p"} and len(parts) == (3 if kind == "p" else 2):
        user = update.effective_user
        wait = state.limiter.check(user.id) if user else 0.0
        if wait:  # paging costs a search like a question does
            await query.answer(t("slow_down", lang, limit=state.limiter.limit, seconds=int(wait + 0.999)),
                               show_alert=True)
            return
        offset = int(parts[1])
        base = int(parts[2]) if kind == "p" else offset
        async with typing(context, update.effective_chat.id):
            hits = await asyncio.to_thread(state.corpus.search, stored.question, k=MORE_PAGE, offset=offset)
        if not hits:
            await query.answer(t("no_more", lang))
            if kind == "m":
                with contextlib.suppress(BadRequest):
                    await query.edit_message_reply_markup(reply_markup=_without_more(current_markup))
            return
        await query.answer()
        text = render_hits(hits, stored.question, offset + 1, lang)
        markup = _pages_keyboard(stored.key, offset, base, len(hits) == MORE_PAGE, lang)
        if kind == "m":
            await context.bot.send_message(update.effective_chat.id, text, parse_mode=ParseMode.HTML,
                                           reply_markup=markup, link_preview_options=NO_PREVIEW)
            with contextlib.suppress(BadRequest):
                await query.edit_message_reply_markup(reply_markup=_without_more(current_markup))
        else:
            with contextlib.suppress(BadRequest):
                await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                              link_preview_options=NO_PREVIEW)
        return
    await query.answer()


# --- library ---------------------------------------------------------------------------------------

async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if await allowed(update, context):
        await say(update, context, "start")


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await allowed(update, context):
        return
    lang = _lang(update)
    text = t("help", lang)
    user = update.effective_user
    if state_of(context).access.is_admin(user.id if user else None):
        text += t("help_admin", lang)
    await send_html(update, context, split_html(text))


async def _sources_page(state: BotState, page: int, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
    page = max(0, page)
    docs = await asyncio.to_thread(state.corpus.documents, page * SOURCES_PAGE, SOURCES_PAGE + 1)
    more = len(docs) > SOURCES_PAGE
    docs = docs[:SOURCES_PAGE]
    if not docs:
        return t("sources_past_end" if page else "sources_empty", lang, page=page + 1), None
    first = page * SOURCES_PAGE + 1
    lines = [t("sources_page", lang, first=first, last=first + len(docs) - 1)]
    for d in docs:
        meta = " · ".join(esc(x) for x in (d.date, d.source) if x)
        lines.append(f"<code>{int(d.doc_id)}</code> <b>{esc(d.title or '#' + str(d.doc_id))}</b>"
                     + (f" — {meta}" if meta else ""))
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(t("prev", lang), callback_data=f"s:{page - 1}"))
    if more:
        row.append(InlineKeyboardButton(t("next", lang), callback_data=f"s:{page + 1}"))
    return split_html("\n".join(lines))[0], InlineKeyboardMarkup([row]) if row else None


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await allowed(update, context):
        return
    page = 0
    if context.args and context.args[0].isdigit():
        page = max(0, int(context.args[0]) - 1)
    text, markup = await _sources_page(state_of(context), page, _lang(update))
    await send_html(update, context, [text], markup)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await allowed(update, context):
        return
    values = await asyncio.to_thread(state_of(context).corpus.stats)
    lang = _lang(update)
    # only what users need; paths of the index directory stay private
    lines = "\n".join(f"{t('stat_' + key, lang)}: <b>{esc(values[key])}</b>"
                      for key in STATS_SHOWN if values.get(key) not in (None, ""))
    await send_html(update, context, split_html(t("stats", lang, lines=lines)))


def safe_filename(name: str | None, fallback: str = "upload") -> str:
    """A file name safe to create in our temp dir: no directories, no ``..``, suffix kept."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\- ]", "_", base).strip(" .")
    base = re.sub(r"\.{2,}", ".", base)
    if not base:
        base = fallback
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and len(suffix) <= 10:
        return stem[: 100 - len(suffix)] + "." + suffix
    return base[:100]


def _describe(result: AddResult, lang: str) -> str:
    title = esc(shorten(result.title or Path(result.path).name, TITLE_CHARS))
    date = f", {esc(result.date)}" if result.date else ""
    if result.status in {"added", "replaced"}:
        return t(result.status, lang, title=title, date=date, passages=result.passages, doc_id=result.doc_id)
    if result.status in {"duplicate", "near-duplicate"}:
        reason = re.sub(r";?\s*use --force to add it anyway\.?", "", result.message or "")
        detail = f" ({esc(reason)})" if reason else ""
        text = t("duplicate", lang, title=title, detail=detail)
        return text + (t("force_hint", lang) if result.status == "near-duplicate" else "")
    return t("add_failed", lang, reason=esc(result.message or result.status))


async def add_upload(update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message,
                     title: str | None, force: bool = False) -> None:
    """Check the size, download to a temp dir under a safe name, ingest like ``citebot add``."""
    state = state_of(context)
    lang = _lang(update)
    document = message.document
    name = safe_filename(document.file_name, fallback=f"upload-{document.file_unique_id}")
    limit_mb = min(BOT_API_FILE_LIMIT_MB, state.max_upload_mb)
    size = document.file_size or 0
    if size > limit_mb * 1024 * 1024:
        await say(update, context, "add_too_large", name=esc(name), size=f"{size / 1048576:.1f}", limit=limit_mb)
        return
    tmp = Path(tempfile.mkdtemp(prefix="citebot-upload-"))
    try:
        async with typing(context, update.effective_chat.id):
            path = tmp / name
            tg_file = await context.bot.get_file(document.file_id)
            await tg_file.download_to_drive(path)
            # the temp file is deleted afterwards: record where the document really came from
            overrides = {"path": f"telegram:{document.file_unique_id}:{name}"}
            if title:
                overrides["title"] = title
            try:
                results = await asyncio.to_thread(state.corpus.add_paths, [path], overrides=overrides,
                                                  force=force)
            except UserError as exc:
                await send_html(update, context, split_html(t("add_failed", lang, reason=esc(exc))))
                return
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for result in results:
        log.info("upload %s by user %s: %s", name, update.effective_user.id, result.status)
        # messages name the temp file; users know it by its own name
        result.message = (result.message or "").replace(str(path), name).replace(str(tmp), "")
        result.path = name
    text = "\n".join(_describe(r, lang) for r in results) or t("add_failed", lang, reason=esc(name))
    await send_html(update, context, split_html(text))


async def add_url(update: Update, context: ContextTypes.DEFAULT_TYPE, url: str, force: bool = False) -> None:
    """``/add URL``: fetched and ingested exactly like ``citebot add URL`` (timeout and size limit)."""
    state = state_of(context)
    async with typing(context, update.effective_chat.id):
        try:
            results = await asyncio.to_thread(state.corpus.add_paths, [url], force=force)
        except UserError as exc:
            results = [AddResult(status="error", path=url, message=str(exc))]
    log.info("url added by user %s: %s", update.effective_user.id, [r.status for r in results])
    text = "\n".join(_describe(r, _lang(update)) for r in results)
    await send_html(update, context, split_html(text))


def _command_rest(text: str) -> str:
    """Everything after ``/add`` or ``/add@bot`` (keeping newlines, unlike ``context.args``)."""
    return re.sub(r"^/\w+(@\w+)?", "", text or "", count=1).strip(" \t")


async def add_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/add`` with text (first line title), as a reply to a file, or as a file's caption."""
    message = update.effective_message
    if not await allowed(update, context) or not await admin_only(update, context):
        return
    rest = _command_rest(message.caption if message.document else message.text)
    force = bool(re.match(r"--force(\s|$)", rest))
    if force:
        rest = rest[len("--force"):].lstrip(" \t")
    if message.document is not None:
        await add_upload(update, context, message, rest.splitlines()[0].strip() if rest.strip() else None, force)
        return
    reply = message.reply_to_message
    if reply is not None and reply.document is not None:
        await add_upload(update, context, reply, rest.strip() or None, force)
        return
    if re.fullmatch(r"https?://\S+", rest.strip()):
        await add_url(update, context, rest.strip(), force)
        return
    title, _, body = rest.strip("\n").partition("\n")
    if not body.strip():
        await say(update, context, "add_usage")
        return
    state = state_of(context)
    async with typing(context, update.effective_chat.id):
        try:
            result = await asyncio.to_thread(state.corpus.add_document,
                                             Document(text=body.strip(), title=title.strip()), force)
        except UserError as exc:
            result = AddResult(status="error", path="-", title=title.strip(), message=str(exc))
    log.info("text document added by user %s: %s", update.effective_user.id, result.status)
    await send_html(update, context, split_html(_describe(result, _lang(update))))


async def private_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A file sent in a private chat without ``/add``: admins get it added, others a refusal."""
    if not await allowed(update, context) or not await admin_only(update, context):
        return
    await add_upload(update, context, update.effective_message, None)


async def remove_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await allowed(update, context) or not await admin_only(update, context):
        return
    ref = " ".join(context.args or ()).strip()
    if not ref:
        await say(update, context, "remove_usage")
        return
    try:
        info = await asyncio.to_thread(state_of(context).corpus.remove, ref)
    except UserError as exc:
        await send_html(update, context, split_html(esc(exc)))
        return
    log.info("document %s removed by user %s", info.doc_id, update.effective_user.id)
    await say(update, context, "removed", title=esc(info.title), doc_id=info.doc_id)


# --- errors ----------------------------------------------------------------------------------------

async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the traceback (the token is redacted by bot.app's log filter) and apologise to the user."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    with contextlib.suppress(Exception):
        if update.callback_query:
            await update.callback_query.answer(t("error", _lang(update)), show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, t("error", _lang(update)))


# --- wiring ----------------------------------------------------------------------------------------

ADD_CAPTION = filters.CaptionRegex(r"^/add(@\w+)?(\s|$)")


def register(app: Application) -> None:
    """Attach every handler; new messages only (edits of old questions are ignored)."""
    new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("start", start, filters=new))
    app.add_handler(CommandHandler("help", help_command, filters=new))
    app.add_handler(CommandHandler("ask", ask_command, filters=new))
    app.add_handler(CommandHandler("sources", sources, filters=new))
    app.add_handler(CommandHandler("stats", stats, filters=new))
    app.add_handler(CommandHandler("add", add_command, filters=new))
    app.add_handler(CommandHandler("remove", remove_command, filters=new))
    app.add_handler(MessageHandler(new & filters.Document.ALL & ADD_CAPTION, add_command))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & filters.Document.ALL, private_document))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, private_text))
    app.add_handler(MessageHandler(new & filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, group_text))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(on_error)
