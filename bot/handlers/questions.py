"""Questions: private texts, group mentions and replies, /ask, photo captions, /new, and short help
for what is not a question (stickers, unknown commands in private chats)."""
from __future__ import annotations

import inspect
import logging
import unicodedata

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from retrieval.errors import UserError
from retrieval.text.questions import strip_markup
from retrieval.types import Answer

from bot.context import Context
from bot.delivery import mark_replied
from bot.handlers.common import blocking, lang, say, say_error, send_html, user_id
from bot.i18n import t
from bot.progress import Progress
from bot.render import render_answer, shown_citations

log = logging.getLogger(__name__)


def clean_question(text: str) -> str:
    """The question as retrieval should see it: no control or zero-width characters, no markup.

    A text of only invisible characters becomes "" and gets the usual "please write a question".
    """
    visible = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} and ch not in "\n\t" else ch
                      for ch in text)
    return " ".join(strip_markup(visible).split())


def conversation_key(update: Update) -> object:
    """Per user in groups (people in one group ask separate things), per chat in private chats."""
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        return chat.id
    return (chat.id if chat else None, user_id(update))


def answer_keyboard(key: str, answer: Answer, language: str) -> InlineKeyboardMarkup:
    """More sources (answers only), Show quotes (LLM answers), Show these passages (non-answers), votes."""
    rows = []
    if answer.answered:
        rows.append([InlineKeyboardButton(t("more_sources", language), callback_data=f"m:{key}:0")])
        if getattr(answer, "mode", "extractive") == "generative":
            rows.append([InlineKeyboardButton(t("show_quotes", language), callback_data=f"q:{key}")])
    elif answer.citations:
        rows.append([InlineKeyboardButton(t("show_nearest", language), callback_data=f"w:{key}")])
    rows.append([InlineKeyboardButton("👍", callback_data=f"f:{key}:1"),
                 InlineKeyboardButton("👎", callback_data=f"f:{key}:0")])
    return InlineKeyboardMarkup(rows)


def _asks_with_progress(corpus: object) -> bool:
    """Whether ``corpus.ask`` takes a ``progress`` callback (test doubles and older libraries may not)."""
    ask = getattr(type(corpus), "ask", None)  # looked up on the class: a proxy's __getattr__ is not a call
    try:
        return ask is not None and "progress" in inspect.signature(ask).parameters
    except (TypeError, ValueError):
        return False


def _ask(context: Context, key: object, question: str, progress: Progress | None = None) -> Answer:
    """Through the conversation memory when there is one (follow-ups), else straight to the corpus."""
    options = {"progress": progress.report} if progress is not None and _asks_with_progress(context.corpus) else {}
    conversations = context.bot_data.conversations
    if conversations is not None:
        return conversations.ask(context.corpus, key, question, **options)
    return context.corpus.ask(question, **options)


def _nearest_json(answer: Answer, shown: list) -> list[dict]:
    """What "Show these passages" needs under a non-answer: the nearest passages themselves."""
    return [{"passage_id": c.passage_id, "doc_id": c.doc_id, "title": c.title, "date": c.date,
             "source": c.source, "url": c.url, "text": c.passage, "page": c.page} for c in shown]


async def answer_question(update: Update, context: Context, question: str) -> None:
    """Ask the corpus in a worker thread and reply with the cited answer (or a short "no answer").

    While it works the user sees progress (bot.progress); the update is marked done in the journal
    the moment the reply is sent (bot.delivery.mark_replied), before the 👀 reaction is taken back.
    """
    language = lang(update)
    question = clean_question(question)
    if not question:
        await say(update, context, "empty_question")
        return
    uid, chat = user_id(update), update.effective_chat
    limiter = context.bot_data.limiter
    wait = limiter.check(uid) if uid is not None else 0.0
    if wait:
        await say(update, context, "slow_down", limit=limiter.limit, seconds=int(wait + 0.999))
        return
    async with Progress(context.bot, update, language) as progress:
        try:
            answer = await blocking(_ask, context, conversation_key(update), question, progress)
        except UserError as exc:
            await progress.stop()
            await say_error(update, context, exc)
            await mark_replied(context.application, update)
            return
        shown = shown_citations(answer)
        searched = getattr(answer, "searched_for", None)
        extra: dict = {"next_n": len({c.doc_id for c in shown}) + 1}
        if searched:
            extra["searched_for"] = searched
        if getattr(answer, "mode", "extractive") == "generative":
            extra["answer"] = _sentences_json(answer)
        if not answer.answered:
            extra["nearest"] = _nearest_json(answer, shown)
        key = await blocking(context.storage.remember, searched or question, [c.passage_id for c in shown],
                             uid, chat.id, answer.answered, extra)
        await progress.stop()
        sent = await send_html(update, context, render_answer(answer, language, searched_for=searched),
                               answer_keyboard(key, answer, language))
        await mark_replied(context.application, update)
        if sent is not None:  # so that a 👍/👎 reaction on it counts as a vote
            await blocking(context.storage.attach, key, chat.id, sent.message_id)


def _sentences_json(answer: Answer) -> dict:
    """What "Show quotes" needs later: each generated sentence, its citations and supporting quote."""
    return {
        "sentences": [{"text": s.text, "citations": list(s.citations), "quote": getattr(s, "quote", "")}
                      for s in answer.sentences],
        "titles": {str(c.n): [c.title, c.doc_id] for c in answer.citations},
    }


async def private_text(update: Update, context: Context) -> None:
    """In a private chat any text is a question."""
    await answer_question(update, context, update.effective_message.text or "")


def addressed_text(message: Message, bot_id: int, username: str) -> str | None:
    """The question if a group message (text or caption) mentions or replies to the bot, else None."""
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    mention = f"@{username}".lower()
    found = False
    for entity in entities:
        part = message.parse_entity(entity) if message.text else message.parse_caption_entity(entity)
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


async def group_text(update: Update, context: Context) -> None:
    """In groups answer only when mentioned or replied to; other chatter is none of our business."""
    question = addressed_text(update.effective_message, context.bot.id, context.bot.username or "")
    if question is not None:
        await answer_question(update, context, question)


async def private_caption(update: Update, context: Context) -> None:
    """A photo (or video…) with a caption in a private chat: the caption is the question."""
    await answer_question(update, context, update.effective_message.caption or "")


async def ask_command(update: Update, context: Context) -> None:
    await answer_question(update, context, " ".join(context.args or ()))


async def new_command(update: Update, context: Context) -> None:
    """/new: forget this chat's (or, in groups, this user's) conversation."""
    conversations = context.bot_data.conversations
    if conversations is not None:
        conversations.forget(conversation_key(update))
    await say(update, context, "forgotten")


async def start(update: Update, context: Context) -> None:
    await say(update, context, "start")


async def help_command(update: Update, context: Context) -> None:
    language = lang(update)
    text = t("help", language)
    if context.bot_data.access.is_admin(user_id(update)):
        text += t("help_admin", language)
    await send_html(update, context, [text])


async def short_help(update: Update, context: Context) -> None:
    """A sticker, a voice note, an unknown /command in a private chat: say what the bot does."""
    await say(update, context, "short_help")
