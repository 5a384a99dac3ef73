"""The library: /sources and /stats for everyone; /add (text, file, URL) and /remove for admins.

Uploads are size-checked before download, saved under a safe name in a temp dir that is removed
afterwards, and ingested exactly like ``citebot add``. Results are described from ``AddResult``'s
fields and library errors from their codes, in the user's language.
"""
from __future__ import annotations

import functools
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from retrieval.ingest.text import shorten
from retrieval.errors import UserError
from retrieval.types import AddResult, Document

from bot.context import Context
from bot.handlers.common import blocking, lang, say, say_error, send_html, typing, user_error_html, user_id
from bot.i18n import t
from bot.render import TITLE_CHARS, esc, split_html

log = logging.getLogger(__name__)

BOT_API_FILE_LIMIT_MB = 20  # getFile cannot fetch larger files
SOURCES_PAGE = 10  # documents per /sources page
STATS_SHOWN = ("documents", "passages", "model")

Handler = Callable[[Update, Context], Awaitable[None]]


def admins_only(handler: Handler) -> Handler:
    """Wrap a library-changing handler: everyone but the admins gets a refusal and nothing changes."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: Context) -> None:
        if not context.bot_data.access.is_admin(user_id(update)):
            log.info("refused library change by non-admin user %s", user_id(update))
            await say(update, context, "admins_only")
            return
        await handler(update, context)

    return wrapper


# --- reading -----------------------------------------------------------------------------------------

async def sources_page(context: Context, page: int, language: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the document list with ◀/▶ buttons (``s:PAGE``)."""
    page = max(0, page)
    docs = await blocking(context.corpus.documents, page * SOURCES_PAGE, SOURCES_PAGE + 1)
    more = len(docs) > SOURCES_PAGE
    docs = docs[:SOURCES_PAGE]
    if not docs:
        return t("sources_past_end" if page else "sources_empty", language, page=page + 1), None
    first = page * SOURCES_PAGE + 1
    lines = [t("sources_page", language, first=first, last=first + len(docs) - 1)]
    for d in docs:
        meta = " · ".join(esc(x) for x in (d.date, d.source) if x)
        lines.append(f"<code>{int(d.doc_id)}</code> <b>{esc(shorten(d.title or '#' + str(d.doc_id), TITLE_CHARS))}</b>"
                     + (f" — {meta}" if meta else ""))
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(t("prev", language), callback_data=f"s:{page - 1}"))
    if more:
        row.append(InlineKeyboardButton(t("next", language), callback_data=f"s:{page + 1}"))
    return split_html("\n".join(lines))[0], InlineKeyboardMarkup([row]) if row else None


async def sources(update: Update, context: Context) -> None:
    page = 0
    if context.args and context.args[0].isdigit() and len(context.args[0]) < 7:
        page = max(0, int(context.args[0]) - 1)
    text, markup = await sources_page(context, page, lang(update))
    await send_html(update, context, [text], markup)


async def stats(update: Update, context: Context) -> None:
    values = await blocking(context.corpus.stats)
    language = lang(update)
    # only what users need; paths of the index directory stay private
    lines = "\n".join(f"{t('stat_' + key, language)}: <b>{esc(values[key])}</b>"
                      for key in STATS_SHOWN if values.get(key) not in (None, ""))
    await send_html(update, context, split_html(t("stats", language, lines=lines)))


# --- adding --------------------------------------------------------------------------------------------

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


def describe(result: AddResult, language: str) -> str:
    """One line per added (or refused) document, from the result's fields (``reason`` and
    ``duplicate_of`` when the library sets them, so the reply is in the user's language)."""
    title = esc(shorten(result.title or Path(result.path).name, TITLE_CHARS))
    date = f", {esc(result.date)}" if result.date else ""
    reason = getattr(result, "reason", "") or result.status
    duplicate_of = getattr(result, "duplicate_of", None)
    if result.status in {"added", "replaced"}:
        return t(result.status, language, title=title, date=date, passages=result.passages, doc_id=result.doc_id)
    if reason in {"duplicate", "near-duplicate"} or result.status in {"duplicate", "near-duplicate"}:
        if duplicate_of is not None:
            detail = t("same_as" if reason == "duplicate" else "nearly_as", language, doc_id=int(duplicate_of))
        else:
            detail = esc(result.message or "")  # the library's words; the bot adds its own hint below
        text = t("duplicate", language, title=title, detail=f" ({detail})" if detail else "")
        near = result.status == "near-duplicate" or reason == "near-duplicate"
        return text + (t("force_hint", language) if near else "")
    if reason == "unsupported-format":
        return t("add_unsupported", language, name=title)
    return t("add_failed", language, reason=esc(result.message or result.status))


async def _ingest_upload(update: Update, context: Context, message: Message, title: str | None,
                         force: bool = False) -> None:
    """Check the size, download to a temp dir under a safe name, ingest like ``citebot add``."""
    language = lang(update)
    document = message.document
    name = safe_filename(document.file_name, fallback=f"upload-{document.file_unique_id}")
    limit_mb = min(BOT_API_FILE_LIMIT_MB, context.bot_data.max_upload_mb)
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
                results = await blocking(context.corpus.add_paths, [path], overrides=overrides, force=force)
            except UserError as exc:
                await send_html(update, context, split_html(t("add_failed", language,
                                                              reason=user_error_html(exc, language))))
                return
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for result in results:
        log.info("upload %s by user %s: %s", name, user_id(update), result.status)
        # messages name the temp file; users know it by its own name
        result.message = (result.message or "").replace(str(path), name).replace(str(tmp), "")
        result.path = name
    text = "\n".join(describe(r, language) for r in results) or t("add_failed", language, reason=esc(name))
    await send_html(update, context, split_html(text))


async def _ingest_url(update: Update, context: Context, url: str, force: bool = False) -> None:
    """``/add URL``: fetched and ingested exactly like ``citebot add URL`` (its address rules, timeout
    and size limit); a refusal is shown as one "Not added: …" line."""
    language = lang(update)
    async with typing(context, update.effective_chat.id):
        try:
            results = await blocking(context.corpus.add_paths, [url], force=force)
        except UserError as exc:
            await send_html(update, context, split_html(t("add_failed", language,
                                                          reason=user_error_html(exc, language))))
            return
    log.info("url added by user %s: %s", user_id(update), [r.status for r in results])
    text = "\n".join(describe(r, language) for r in results) or t("add_failed", language, reason=esc(url))
    await send_html(update, context, split_html(text))


def _command_rest(text: str | None) -> str:
    """Everything after ``/add`` or ``/add@bot`` (keeping newlines, unlike ``context.args``)."""
    return re.sub(r"^/\w+(@\w+)?", "", text or "", count=1).strip(" \t")


@admins_only
async def add_command(update: Update, context: Context) -> None:
    """``/add`` with text (first line title), as a reply to a file, as a file's caption, or with a URL."""
    message = update.effective_message
    language = lang(update)
    rest = _command_rest(message.caption if message.document else message.text)
    force = bool(re.match(r"--force(\s|$)", rest))
    if force:
        rest = rest[len("--force"):].lstrip(" \t")
    if message.document is not None:
        await _ingest_upload(update, context, message, rest.splitlines()[0].strip() if rest.strip() else None, force)
        return
    reply = message.reply_to_message
    if reply is not None and reply.document is not None:
        await _ingest_upload(update, context, reply, rest.strip() or None, force)
        return
    if re.fullmatch(r"https?://\S+", rest.strip()):
        await _ingest_url(update, context, rest.strip(), force)
        return
    title, _, body = rest.strip("\n").partition("\n")
    if not body.strip():
        await say(update, context, "add_usage")
        return
    async with typing(context, update.effective_chat.id):
        try:
            result = await blocking(context.corpus.add_document, Document(text=body.strip(), title=title.strip()),
                                    force)
        except UserError as exc:
            await send_html(update, context, [t("add_failed", language, reason=user_error_html(exc, language))])
            return
    log.info("text document added by user %s: %s", user_id(update), result.status)
    await send_html(update, context, split_html(describe(result, language)))


@admins_only
async def private_document(update: Update, context: Context) -> None:
    """A file sent in a private chat without ``/add``: admins get it added, others a refusal."""
    await _ingest_upload(update, context, update.effective_message, None)


@admins_only
async def remove_command(update: Update, context: Context) -> None:
    ref = " ".join(context.args or ()).strip()
    if not ref:
        await say(update, context, "remove_usage")
        return
    try:
        info = await blocking(context.corpus.remove, ref)
    except UserError as exc:
        await say_error(update, context, exc)
        return
    log.info("document %s removed by user %s", info.doc_id, user_id(update))
    await say(update, context, "removed", title=esc(info.title), doc_id=info.doc_id)
