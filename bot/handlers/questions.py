"""Questions: private texts, group mentions and replies, /ask, photo captions, /new, and short help
for what is not a question (stickers, unknown commands in private chats)."""
from __future__ import annotations

import logging
import unicodedata

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update

from retrieval.errors import UserError
from retrieval.text.questions import strip_markup
from retrieval.types import Answer

from bot.context import Context
from bot.handlers.common import blocking, lang, say, say_error, send_html, typing, user_id
from bot.i18n import t
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
    rows = [[InlineKeyboardButton(t("more_sources", language), callback_data=f"m:{key}:0")]]
    if answer.answered and getattr(answer, "mode", "extractive") == "generative":
        rows.append([InlineKeyboardButton(t("show_quotes", language), callback_data=f"q:{key}")])
    rows.append([InlineKeyboardButton("👍", callback_data=f"f:{key}:1"),
                 InlineKeyboardButton("👎", callback_data=f"f:{key}:0")])
    return InlineKeyboardMarkup(rows)


def _ask(context: Context, key: object, question: str) -> Answer:
    """Through the conversation memory when there is one (follow-ups), else straight to the corpus."""
    conversations = context.bot_data.conversations
    if conversations is not None:
        return conversations.ask(context.corpus, key, question)
    return context.corpus.ask(question)


async def answer_question(update: Update, context: Context, question: str) -> None:
    """Ask the corpus in a worker thread and reply with the cited answer (or a plain "no answer")."""
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
    async with typing(context, chat.id):
        try:
            answer = await blocking(_ask, context, conversation_key(update), question)
        except UserError as exc:
            await say_error(update, context, exc)
            return
    shown = shown_citations(answer)
    searched = getattr(answer, "searched_for", None)
    extra = {"next_n": max((c.n for c in shown), default=0) + 1}
    if searched:
        extra["searched_for"] = searched
    if getattr(answer, "mode", "extractive") == "generative":
        extra["answer"] = _sentences_json(answer)
    key = await blocking(context.storage.remember, searched or question, [c.passage_id for c in shown],
                         uid, chat.id, answer.answered, extra)
    await send_html(update, context, render_answer(answer, language, searched_for=searched),
                    answer_keyboard(key, answer, language))


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
