"""A strict fake Telegram Bot API server on 127.0.0.1, shared by the bot tests and bench/bot_load.py.

It implements the methods the bot uses, long polling included, and rejects what Telegram rejects:
text over 4096 characters (after entity parsing), HTML Telegram cannot parse (unknown or unclosed
tags, stray ``<`` or ``&``, unsupported attributes), callback data over 64 bytes, files over 20 MB
in getFile, a wrong token, an edit that changes nothing ("message is not modified"), a callback query
answered twice, tags nested where Telegram refuses them (a blockquote in a blockquote, anything in
``code``/``pre`` but ``code`` in ``pre``, a link in a link), more than 200 entities in one message,
a draft outside a private chat or with draft_id 0, a reaction that is not one allowed emoji on an
existing message, an inline answer with a bad or duplicate result id, an empty title, a message text
over 4096 UTF-16 units, more than 50 results, or one given twice. Like Telegram, ``getUpdates``
confirms updates only when the *next* call passes a higher offset, so a bot killed mid-update is sent
it again, and ``message_reaction`` updates exist only for a bot whose ``allowed_updates`` asked for
them; inline queries only for a bot with inline mode on (``/setinline``, here ``inline_mode=True``).
Faults can be injected per method: 429 with ``retry_after``, 5xx, and slow answers (client timeouts).

Simulated users are driven from the test thread: ``send_text``, ``send_document``, ``send_photo``,
``send_sticker``, ``press``, ``react``, ``inline_query``; channels too: ``add_channel``,
``post_to_channel`` and ``edit_channel_post`` (``channel_post`` / ``edited_channel_post`` updates, text
with entities), ``set_bot_status`` (a ``my_chat_member`` update) and ``delete_channel`` (``getChat``
then answers "chat not found"). What the bot did is in ``calls`` and ``messages`` and can be awaited
with ``wait_for``. :class:`RunningBot` serves the real bot in a thread against it.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from html import unescape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlparse

TEXT_LIMIT = 4096
ENTITY_LIMIT = 200  # formatting entities per message (the figure for Telegram's limit)
CALLBACK_DATA_LIMIT = 64
INLINE_RESULTS_LIMIT = 50
INLINE_ID_LIMIT = 64
# Telegram's reaction emoji (ReactionTypeEmoji): a bot may set only these, one at a time
REACTION_EMOJI = frozenset("👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 🥱 🥴 😍 🐳 ❤‍🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 "
                           "🍾 💋 🖕 😈 😴 😭 🤓 👻 👨‍💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 ☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 "
                           "👾 🤷‍♂ 🤷 🤷‍♀ 😡".split())
GETFILE_LIMIT = 20 * 1024 * 1024

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "blockquote", "tg-spoiler", "span", "tg-emoji"}
NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>")
_ATTR_RE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY_RE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


class ParseError(ValueError):
    pass


def parse_telegram_html(text: str) -> str:
    """The visible text of Telegram HTML, or ParseError with a Telegram-like description."""
    out: list[str] = []
    stack: list[str] = []
    entities = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if not m:
                raise ParseError(f"Unsupported start tag at byte offset {i}")
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
            if name not in ALLOWED_TAGS:
                raise ParseError(f'Unsupported start tag "{name}" at byte offset {i}')
            if closing:
                if not stack or stack[-1] != name:
                    raise ParseError(f'Unexpected end tag "{name}" at byte offset {i}')
                stack.pop()
            else:
                _check_attrs(name, attrs, i)
                _check_nesting(name, stack, i)
                stack.append(name)
                entities += 1
                if entities > ENTITY_LIMIT:
                    raise ParseError(f"Too many entities: more than {ENTITY_LIMIT}")
            i = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, i)
            if not m or (not m.group(1).startswith("#") and m.group(1) not in NAMED_ENTITIES):
                raise ParseError(f"Unsupported HTML entity at byte offset {i}")
            out.append(unescape(m.group(0)))
            i = m.end()
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


_QUOTES = {"blockquote"}
_CODE = {"code", "pre"}
_LINKS = {"a"}


def _check_nesting(name: str, stack: list[str], offset: int) -> None:
    """Telegram's nesting rules: no blockquote in a blockquote, nothing inside code or pre (but code in
    pre, for a language), no link in a link."""
    if name in _QUOTES and any(t in _QUOTES for t in stack):
        raise ParseError(f'Can\'t nest "blockquote" entities at byte offset {offset}')
    if any(t in _CODE for t in stack) and not (name == "code" and stack[-1] == "pre"):
        raise ParseError(f'Entities can\'t be nested in "{stack[-1]}" at byte offset {offset}')
    if name in _LINKS and any(t in _LINKS for t in stack):
        raise ParseError(f"Can't nest links at byte offset {offset}")


def _check_attrs(name: str, attrs: str, offset: int) -> None:
    for m in _ATTR_RE.finditer(attrs):
        attr = m.group(1).lower()
        value = next((g for g in m.group(2, 3, 4) if g is not None), None)
        ok = (
            (name == "a" and attr == "href" and value)
            or (name == "span" and attr == "class" and value == "tg-spoiler")
            or (name == "code" and attr == "class" and (value or "").startswith("language-"))
            or (name == "blockquote" and attr == "expandable")
            or (name == "tg-emoji" and attr == "emoji-id")
        )
        if not ok:
            raise ParseError(f'Unsupported attribute "{attr}" of tag "{name}" at byte offset {offset}')
        if name == "a" and not re.match(r"^(https?://|tg://|mailto:)", unescape(value or "")):
            raise ParseError("Wrong HTTP URL")
    if name == "span" and "tg-spoiler" not in attrs:
        raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')


class _QuietServer(ThreadingHTTPServer):
    """Clients drop connections mid-request (a cancelled "typing…" call): not worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class Fault:
    method: str
    status: int = 429
    retry_after: int = 1
    times: int = 1
    delay: float = 0.0  # seconds to sleep before answering (for client timeouts)


@dataclass
class Conversation:
    """Everything one chat saw, for assertions."""

    chat_id: int
    messages: list[dict] = field(default_factory=list)


class FakeBotAPI:
    """Start with ``with FakeBotAPI(token) as api:`` or ``api.start()``; ``api.url`` is the server root."""

    def __init__(self, token: str, *, bot_id: int = 7000000001, username: str = "citebot_test_bot",
                 port: int = 0, files_dir_limit: int = GETFILE_LIMIT, inline_mode: bool = False):
        self.token = token
        self.bot_user = {"id": bot_id, "is_bot": True, "first_name": "Citebot", "username": username,
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": inline_mode}
        self.port = port
        self.getfile_limit = files_dir_limit
        self.cond = threading.Condition()
        self.updates: list[dict] = []
        self.update_of: dict[tuple[int, int], int] = {}  # (chat id, user message id) -> update id
        self.calls: list[Call] = []
        self.rejected: list[tuple[str, str]] = []  # (method, description) of every 4xx we sent
        self.messages: dict[tuple[int, int], dict] = {}
        self.sent: list[dict] = []  # bot messages in send order (copies at send time)
        self.files: dict[str, bytes] = {}
        self.file_meta: dict[str, dict] = {}
        self.faults: list[Fault] = []
        self.fault_rate = 0.0  # share of sendMessage/editMessageText calls answered 429 or 502 at random
        self._fault_rng = __import__("random").Random(7)
        self.webhook: dict[str, Any] | None = None
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self.answered_queries: set[str] = set()
        self.channels: dict[int, dict] = {}  # chat id -> {"chat": ..., "bot_status": ..., "deleted": bool}
        self.blocked_chats: set[int] = set()  # chats where sendMessage answers 403 (the user blocked the bot)
        self.allowed_updates: list[str] | None = None  # None: Telegram's default set
        self.undelivered: list[dict] = []  # updates Telegram would not send to this bot (not allowed)
        self.drafts: list[dict] = []  # every sendMessageDraft: chat_id, draft_id, text (visible), at
        self.reactions: dict[tuple[int, int], list[str]] = {}  # the bot's reaction on each message now
        self.reaction_log: list[dict] = []  # every setMessageReaction, in order
        self.inline_queries: dict[str, dict] = {}  # query id -> the inline_query update's body
        self.inline_answers: dict[str, dict] = {}  # query id -> answerInlineQuery parameters
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.closing = False

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "FakeBotAPI":
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds the
            # body back until the client's delayed ACK, adding ~40 ms to every answer on localhost
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                api._handle(self)

            def do_GET(self) -> None:
                api._handle(self)

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.closing = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-bot-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeBotAPI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- simulated users ---------------------------------------------------------------------------

    def user(self, user_id: int, language_code: str = "en", first_name: str = "User") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def chat(self, chat_id: int, chat_type: str = "private", title: str = "Newsroom") -> dict:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": "User"}
        return {"id": chat_id, "type": chat_type, "title": title}

    def _push(self, update: dict) -> int:
        with self.cond:
            update["update_id"] = next(self._update_ids)
            message = update.get("message")
            if isinstance(message, dict):  # which update carried which user message (for the benchmarks)
                self.update_of[(message["chat"]["id"], message["message_id"])] = update["update_id"]
            self.updates.append(update)
            self.cond.notify_all()
            return update["update_id"]

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None, chat_type: str = "private",
                  language_code: str = "en", reply_to: int | None = None) -> dict:
        """A user sends ``text``; commands and @mentions get their entities like real clients."""
        chat_id = user_id if chat_id is None else chat_id
        message = self._user_message(user_id, chat_id, chat_type, language_code, reply_to)
        message["text"] = text
        entities = _entities(text)
        if entities:
            message["entities"] = entities
        self._push({"message": message})
        return message

    def send_document(self, user_id: int, file_name: str, content: bytes, *, caption: str | None = None,
                      chat_id: int | None = None, chat_type: str = "private", language_code: str = "en",
                      file_size: int | None = None, mime_type: str = "text/plain") -> dict:
        chat_id = user_id if chat_id is None else chat_id
        n = next(self._file_ids)
        file_id, unique = f"FILE{n}", f"U{n}"
        size = len(content) if file_size is None else file_size
        with self.cond:
            self.files[file_id] = content
            self.file_meta[file_id] = {"file_id": file_id, "file_unique_id": unique, "file_size": size,
                                       "file_path": f"documents/file_{n}{_suffix(file_name)}"}
        message = self._user_message(user_id, chat_id, chat_type, language_code, None)
        message["document"] = {"file_id": file_id, "file_unique_id": unique, "file_name": file_name,
                               "mime_type": mime_type, "file_size": size}
        if caption is not None:
            message["caption"] = caption
            entities = _entities(caption)
            if entities:
                message["caption_entities"] = entities
        self._push({"message": message})
        return message

    def send_photo(self, user_id: int, caption: str | None = None, *, chat_id: int | None = None,
                   chat_type: str = "private", language_code: str = "en") -> dict:
        """A user sends a photo, optionally with a caption (a question, say)."""
        chat_id = user_id if chat_id is None else chat_id
        n = next(self._file_ids)
        message = self._user_message(user_id, chat_id, chat_type, language_code, None)
        message["photo"] = [{"file_id": f"PHOTO{n}", "file_unique_id": f"P{n}", "width": 90, "height": 90,
                             "file_size": 1000}]
        if caption is not None:
            message["caption"] = caption
            entities = _entities(caption)
            if entities:
                message["caption_entities"] = entities
        self._push({"message": message})
        return message

    def send_sticker(self, user_id: int, *, chat_id: int | None = None, chat_type: str = "private",
                     language_code: str = "en") -> dict:
        chat_id = user_id if chat_id is None else chat_id
        n = next(self._file_ids)
        message = self._user_message(user_id, chat_id, chat_type, language_code, None)
        message["sticker"] = {"file_id": f"STICKER{n}", "file_unique_id": f"S{n}", "type": "regular",
                              "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}
        self._push({"message": message})
        return message

    def press(self, user_id: int, message: dict, data: str, language_code: str = "en") -> str:
        """A user taps an inline button with callback ``data`` under the bot ``message``."""
        with self.cond:
            current = dict(self.messages[(message["chat"]["id"], message["message_id"])])
            query_id = str(next(self._query_ids))
        self._push({"callback_query": {"id": query_id, "from": self.user(user_id, language_code),
                                       "message": current, "chat_instance": "ci", "data": data}})
        return query_id

    # --- channels ----------------------------------------------------------------------------------

    def add_channel(self, chat_id: int, title: str, username: str | None = None,
                    bot_status: str = "administrator") -> dict:
        """A channel the bot sees (``getChat``), with the bot's membership status in it."""
        chat = {"id": chat_id, "type": "channel", "title": title}
        if username:
            chat["username"] = username
        with self.cond:
            self.channels[chat_id] = {"chat": chat, "bot_status": bot_status, "deleted": False}
        return chat

    def post_to_channel(self, chat_id: int, text: str | None = None, entities: list[dict] | None = None, *,
                        photo: bool = False, caption: str | None = None, caption_entities: list[dict] | None = None,
                        date: int | None = None) -> dict:
        """The channel publishes a post: a ``channel_post`` update (text, or a photo with an optional caption)."""
        with self.cond:
            chat = dict(self.channels[chat_id]["chat"])
            message = {"message_id": next(self._message_ids), "date": int(date or time.time()), "chat": chat,
                       "sender_chat": chat}
            if text is not None:
                message["text"] = text
                if entities:
                    message["entities"] = entities
            if photo:
                n = next(self._file_ids)
                message["photo"] = [{"file_id": f"PHOTO{n}", "file_unique_id": f"P{n}", "width": 90,
                                     "height": 90, "file_size": 1000}]
                if caption is not None:
                    message["caption"] = caption
                    if caption_entities:
                        message["caption_entities"] = caption_entities
            self.messages[(chat_id, message["message_id"])] = message
        self._push({"channel_post": message})
        return message

    def edit_channel_post(self, chat_id: int, message_id: int, text: str, entities: list[dict] | None = None) -> dict:
        """The channel edits a post: an ``edited_channel_post`` update with the new text."""
        with self.cond:
            message = dict(self.messages[(chat_id, message_id)])
            message["text"] = text
            message.pop("entities", None)
            if entities:
                message["entities"] = entities
            message["edit_date"] = int(time.time())
            self.messages[(chat_id, message_id)] = message
        self._push({"edited_channel_post": message})
        return message

    def set_bot_status(self, chat_id: int, status: str, by_user: int = 1) -> None:
        """An admin changes the bot's membership (``administrator``, ``member``, ``left``, ``kicked``)."""
        with self.cond:
            channel = self.channels[chat_id]
            old, channel["bot_status"] = channel["bot_status"], status
            chat = dict(channel["chat"])
        self._push({"my_chat_member": {"chat": chat, "from": self.user(by_user), "date": int(time.time()),
                                       "old_chat_member": self._member(old), "new_chat_member": self._member(status)}})

    def delete_channel(self, chat_id: int) -> None:
        """The channel is deleted: Telegram sends nothing; ``getChat`` answers "chat not found" from now on."""
        with self.cond:
            self.channels[chat_id]["deleted"] = True

    def _member(self, status: str) -> dict:
        member: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "administrator":
            member.update({key: False for key in (
                "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
                "can_post_stories", "can_edit_stories", "can_delete_stories")})
            member.update(can_post_messages=True, can_manage_chat=True)
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _channel(self, ref: Any) -> dict:
        text = str(ref)
        with self.cond:
            for channel in self.channels.values():
                chat = channel["chat"]
                if text == str(chat["id"]) or text.lstrip("@").lower() == str(chat.get("username", "")).lower():
                    if channel["deleted"]:
                        break
                    return channel
        raise ApiError(400, "Bad Request: chat not found")
    def react(self, user_id: int, message: dict, *emoji: str, old: tuple[str, ...] = (),
              language_code: str = "en") -> int | None:
        """A user sets reactions ``emoji`` (none: takes them back) on a message. Like Telegram, the bot
        gets the update only if its ``allowed_updates`` asked for ``message_reaction``; returns the
        update id, or None when it was not delivered."""
        chat_id = message["chat"]["id"]
        body = {"chat": self.chat(chat_id, "private" if chat_id > 0 else "supergroup"),
                "message_id": message["message_id"], "user": self.user(user_id, language_code),
                "date": int(time.time()),
                "old_reaction": [{"type": "emoji", "emoji": e} for e in old],
                "new_reaction": [{"type": "emoji", "emoji": e} for e in emoji]}
        with self.cond:
            allowed = self.allowed_updates is not None and "message_reaction" in self.allowed_updates
            if not allowed:
                self.undelivered.append({"message_reaction": body})
                return None
        return self._push({"message_reaction": body})

    def inline_query(self, user_id: int, query: str, language_code: str = "en", chat_type: str = "private") -> str | None:
        """A user types ``@bot query`` in some chat; None when the bot has no inline mode (nothing sent)."""
        with self.cond:
            query_id = f"IQ{next(self._query_ids)}"
            body = {"id": query_id, "from": self.user(user_id, language_code), "query": query, "offset": "",
                    "chat_type": chat_type}
            if not self.bot_user.get("supports_inline_queries"):
                self.undelivered.append({"inline_query": body})
                return None
            self.inline_queries[query_id] = body
        self._push({"inline_query": body})
        return query_id

    def _user_message(self, user_id: int, chat_id: int, chat_type: str, language_code: str,
                      reply_to: int | None) -> dict:
        with self.cond:
            message = {"message_id": next(self._message_ids), "date": int(time.time()),
                       "chat": self.chat(chat_id, chat_type), "from": self.user(user_id, language_code)}
            if reply_to is not None:
                message["reply_to_message"] = dict(self.messages[(chat_id, reply_to)])
            self.messages[(chat_id, message["message_id"])] = message
        return message

    # --- observing the bot -------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Block until ``predicate()`` is truthy (re-checked on every API call); return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for the bot; calls so far: "
                                         f"{[c.method for c in self.calls][-30:]}")
                self.cond.wait(min(left, 0.5))

    def bot_messages(self, chat_id: int | None = None) -> list[dict]:
        """Bot messages as they are now (after edits), in send order."""
        with self.cond:
            out = [self.messages[(m["chat"]["id"], m["message_id"])] for m in self.sent]
        return [m for m in out if chat_id is None or m["chat"]["id"] == chat_id]

    def wait_messages(self, chat_id: int, count: int, timeout: float = 20.0) -> list[dict]:
        return self.wait_for(lambda: (lambda ms: ms if len(ms) >= count else None)(self.bot_messages(chat_id)),
                             timeout)

    def calls_to(self, method: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.method == method]

    def fail(self, method: str, status: int = 429, retry_after: int = 1, times: int = 1, delay: float = 0.0) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status`` (or just be slow)."""
        with self.cond:
            self.faults.append(Fault(method, status, retry_after, times, delay))

    # --- HTTP --------------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path = urlparse(req.path).path
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        if len(body) < length:  # the client died mid-request (a killed bot): Telegram never sees it
            req.close_connection = True
            return
        try:
            if path.startswith("/file/bot"):
                self._download(req, unquote(path))
                return
            m = re.match(r"^/bot([^/]+)/(\w+)$", path)
            if not m:
                raise ApiError(404, "Not Found")
            if m.group(1) != self.token:
                raise ApiError(401, "Unauthorized")
            method = m.group(2)
            params = _parse_params(req.headers.get("Content-Type", ""), body, urlparse(req.path).query)
            fault = self._take_fault(method)
            with self.cond:
                self.calls.append(Call(method, params, time.monotonic()))
                self.cond.notify_all()
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status == 429:
                    raise ApiError(429, f"Too Many Requests: retry after {fault.retry_after}",
                                   {"retry_after": fault.retry_after})
                if fault.status >= 400:
                    raise ApiError(fault.status, HTTPStatus(fault.status).phrase)
            result = self._dispatch(method, params)
            self._reply(req, 200, {"ok": True, "result": result})
        except ApiError as exc:
            if 400 <= exc.code < 500 and exc.code != 429:
                with self.cond:
                    self.rejected.append((path.rsplit("/", 1)[-1], exc.description))
                    self.cond.notify_all()
            payload: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                payload["parameters"] = exc.parameters
            self._reply(req, exc.code, payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _take_fault(self, method: str) -> Fault | None:
        with self.cond:
            if self.fault_rate and method in {"sendMessage", "editMessageText"} \
                    and self._fault_rng.random() < self.fault_rate:
                return Fault(method, self._fault_rng.choice([429, 502]), retry_after=1)
            for fault in self.faults:
                if fault.method.lower() == method.lower() and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _reply(self, req: BaseHTTPRequestHandler, status: int, payload: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _download(self, req: BaseHTTPRequestHandler, path: str) -> None:
        prefix = f"/file/bot{self.token}/"
        if not path.startswith(prefix):
            raise ApiError(401, "Unauthorized")
        file_path = path[len(prefix):]
        with self.cond:
            for file_id, meta in self.file_meta.items():
                if meta["file_path"] == file_path:
                    self._reply(req, 200, None, raw=self.files[file_id])
                    return
        raise ApiError(404, "Not Found")

    # --- methods -----------------------------------------------------------------------------------

    def _dispatch(self, method: str, p: dict[str, Any]) -> Any:
        name = method.lower()
        if name == "getme":
            return self.bot_user
        if name == "getupdates":
            return self._get_updates(p)
        if name in {"deletewebhook", "setmycommands", "sendchataction", "answercallbackquery"}:
            if name == "answercallbackquery":
                if len(p.get("text") or "") > 200:
                    raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
                with self.cond:
                    query_id = str(p.get("callback_query_id"))
                    if query_id in self.answered_queries:
                        raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                            "or query ID is invalid")
                    self.answered_queries.add(query_id)
            if name == "deletewebhook":
                self.webhook = None
            return True
        if name == "setwebhook":
            self.webhook = {"url": p.get("url"), "secret_token": p.get("secret_token")}
            return True
        if name == "getwebhookinfo":
            return {"url": (self.webhook or {}).get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": 0}
        if name == "sendmessage":
            return self._send_message(p)
        if name == "sendmessagedraft":
            return self._draft(p)
        if name == "setmessagereaction":
            return self._set_reaction(p)
        if name == "answerinlinequery":
            return self._answer_inline(p)
        if name == "editmessagetext":
            return self._edit(p, text=True)
        if name == "editmessagereplymarkup":
            return self._edit(p, text=False)
        if name == "getchat":
            channel = self._channel(p.get("chat_id"))
            return {**channel["chat"], "accent_color_id": 0, "max_reaction_count": 11,
                    "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                            "unique_gifts": False, "premium_subscription": False,
                                            "gifts_from_channels": False}}
        if name == "getchatmember":
            channel = self._channel(p.get("chat_id"))
            if int(p.get("user_id", 0)) != self.bot_user["id"]:
                raise ApiError(400, "Bad Request: user not found")
            return self._member(channel["bot_status"])
        if name == "getfile":
            meta = self.file_meta.get(str(p.get("file_id")))
            if meta is None:
                raise ApiError(400, "Bad Request: invalid file_id")
            if meta["file_size"] > self.getfile_limit:
                raise ApiError(400, "Bad Request: file is too big")
            return meta
        raise ApiError(404, "Not Found: method not found")

    def _get_updates(self, p: dict[str, Any]) -> list[dict]:
        offset = int(p.get("offset") or 0)
        timeout = float(p.get("timeout") or 0)
        if p.get("allowed_updates") is not None:  # like Telegram: kept until a later call changes it
            with self.cond:
                self.allowed_updates = list(p["allowed_updates"])
        limit = int(p.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if offset:
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if self.updates or self.closing:
                    return [json.loads(json.dumps(u)) for u in self.updates[:limit]]
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self.cond.wait(left)

    def _check_text(self, p: dict[str, Any], key: str = "text") -> str:
        text = p.get(key)
        if text is None or text == "":
            raise ApiError(400, "Bad Request: message text is empty")
        text = str(text)
        visible = text
        if str(p.get("parse_mode") or "").upper() == "HTML":
            try:
                visible = parse_telegram_html(text)
            except ParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(visible) > TEXT_LIMIT:  # Telegram counts UTF-16 code units
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _check_markup(self, p: dict[str, Any]) -> dict | None:
        markup = p.get("reply_markup")
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not (1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT):
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
        return markup

    def _draft(self, p: dict[str, Any]) -> bool:
        chat_id = int(p["chat_id"])
        if chat_id <= 0:
            raise ApiError(400, "Bad Request: drafts can be sent only to private chats")
        try:
            draft_id = int(p.get("draft_id") or 0)
        except (TypeError, ValueError):
            draft_id = 0
        if draft_id == 0:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        visible = ""
        if p.get("text"):
            self._check_text(p)
            visible = parse_telegram_html(str(p["text"])) if str(p.get("parse_mode") or "").upper() == "HTML" \
                else str(p["text"])
        with self.cond:
            self.drafts.append({"chat_id": chat_id, "draft_id": draft_id, "text": visible, "at": time.monotonic()})
            self.cond.notify_all()
        return True

    def _set_reaction(self, p: dict[str, Any]) -> bool:
        chat_id, message_id = int(p["chat_id"]), int(p["message_id"])
        reaction = p.get("reaction") or []
        if isinstance(reaction, str):
            reaction = json.loads(reaction)
        with self.cond:
            if (chat_id, message_id) not in self.messages:
                raise ApiError(400, "Bad Request: message to react not found")
        if len(reaction) > 1:
            raise ApiError(400, "Bad Request: REACTIONS_TOO_MANY")
        emoji = []
        for r in reaction:
            if r.get("type") != "emoji" or r.get("emoji") not in REACTION_EMOJI:
                raise ApiError(400, "Bad Request: REACTION_INVALID")
            emoji.append(r["emoji"])
        with self.cond:
            self.reactions[(chat_id, message_id)] = emoji
            self.reaction_log.append({"chat_id": chat_id, "message_id": message_id, "emoji": emoji,
                                      "at": time.monotonic()})
            self.cond.notify_all()
        return True

    def _answer_inline(self, p: dict[str, Any]) -> bool:
        query_id = str(p.get("inline_query_id"))
        results = p.get("results") or []
        if isinstance(results, str):
            results = json.loads(results)
        with self.cond:
            if query_id not in self.inline_queries or query_id in self.inline_answers:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        if len(results) > INLINE_RESULTS_LIMIT:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        ids: set[str] = set()
        for result in results:
            rid = str(result.get("id") or "")
            if not (1 <= len(rid.encode()) <= INLINE_ID_LIMIT) or rid in ids:
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID" if rid not in ids else "Bad Request: RESULT_ID_DUPLICATE")
            ids.add(rid)
            if result.get("type") != "article":
                raise ApiError(400, "Bad Request: RESULT_TYPE_INVALID")
            if not str(result.get("title") or "").strip():
                raise ApiError(400, "Bad Request: RESULT_TITLE_EMPTY")
            content = result.get("input_message_content") or {}
            self._check_text(content, "message_text")
            self._check_markup(result)
        button = p.get("button")
        if isinstance(button, str):
            button = json.loads(button)
        if button and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(button.get("start_parameter") or "x")):
            raise ApiError(400, "Bad Request: START_PARAM_INVALID")
        with self.cond:
            self.inline_answers[query_id] = {**p, "results": results, "button": button}
            self.cond.notify_all()
        return True

    def _send_message(self, p: dict[str, Any]) -> dict:
        text = self._check_text(p)
        markup = self._check_markup(p)
        chat_id = int(p["chat_id"])
        if chat_id in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        with self.cond:
            message = {"message_id": next(self._message_ids), "date": int(time.time()),
                       "chat": self.chat(chat_id, "private" if chat_id > 0 else "supergroup"),
                       "from": self.bot_user, "text": text, "parse_mode": p.get("parse_mode"),
                       "sent_at": time.monotonic(), "sent_wall": time.time()}
            if markup:
                message["reply_markup"] = markup
            reply = p.get("reply_parameters") or {}
            reply_to = reply.get("message_id") or p.get("reply_to_message_id")
            if reply_to is not None:
                original = self.messages.get((chat_id, int(reply_to)))
                if original is None and not reply.get("allow_sending_without_reply"):
                    raise ApiError(400, "Bad Request: message to be replied not found")
                message["reply_to_message"] = dict(original or {})
            self.messages[(chat_id, message["message_id"])] = message
            self.sent.append(message)
            self.cond.notify_all()
            return _public(message)

    def _edit(self, p: dict[str, Any], text: bool) -> dict:
        chat_id, message_id = int(p["chat_id"]), int(p["message_id"])
        with self.cond:
            old = self.messages.get((chat_id, message_id))
            if old is None or old["from"].get("id") != self.bot_user["id"]:
                raise ApiError(400, "Bad Request: message to edit not found")
        new = dict(old)
        if text:
            new["text"] = self._check_text(p)
            new["parse_mode"] = p.get("parse_mode")
        markup = self._check_markup(p)
        if markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)
        if new.get("text") == old.get("text") and new.get("reply_markup") == old.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup of the message")
        with self.cond:
            new["edits"] = old.get("edits", 0) + 1
            self.messages[(chat_id, message_id)] = new
            self.cond.notify_all()
        return _public(new)


def _public(message: dict) -> dict:
    return {k: v for k, v in message.items() if k not in {"sent_at", "sent_wall", "parse_mode", "edits"}}


def _suffix(name: str) -> str:
    m = re.search(r"(\.[A-Za-z0-9]{1,8})$", name)
    return m.group(1) if m else ""


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> list[dict]:
    """bot_command and mention entities as Telegram clients attach them (offsets in UTF-16 units)."""
    out = []
    for m in re.finditer(r"(?<![\w/])(/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?|@[A-Za-z0-9_]{5,32})", text):
        kind = "bot_command" if m.group(0).startswith("/") else "mention"
        if kind == "bot_command" and m.start() != 0:
            continue
        out.append({"type": kind, "offset": _utf16_len(text[: m.start()]), "length": _utf16_len(m.group(0))})
    return out


def _parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Bot API parameters from a query string, urlencoded form, multipart form or JSON body."""
    raw: dict[str, str] = {k: v[-1] for k, v in parse_qs(query).items()}
    if content_type.startswith("application/json") and body:
        return {**raw, **json.loads(body)}
    if content_type.startswith("application/x-www-form-urlencoded"):
        raw.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
    elif content_type.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP_POLICY).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                raw[name] = part.get_content() if part.get_content_type().startswith("text") else part.get_payload(decode=True)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in {"reply_markup", "reply_parameters", "allowed_updates", "commands", "link_preview_options",
                   "reaction", "results", "button"}:
            try:
                out[key] = json.loads(value)
            except (TypeError, ValueError):
                out[key] = value
        else:
            out[key] = value
    return out


class RunningBot:
    """The real bot (``bot.app.serve``) serving in a background thread with its own event loop.

    Used by the end-to-end tests and by bench/bot_load.py; ``stop()`` sets the stop event and joins.
    """

    def __init__(self, app: Any, settings: Any, first_delay: float = 0.2, poll_timeout: int = 1) -> None:
        self.app = app
        self.settings = settings
        self.first_delay = first_delay
        self.poll_timeout = poll_timeout
        self.loop: Any = None
        self.stop_event: Any = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name="bot", daemon=True)

    def _main(self) -> None:
        import asyncio

        from bot.app import serve

        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            self.ready.set()
            await serve(self.app, self.settings, self.stop_event, first_delay=self.first_delay,
                        poll_timeout=self.poll_timeout)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported through .error after join()
            self.error = exc
            self.ready.set()

    def start(self) -> "RunningBot":
        self.thread.start()
        self.ready.wait(30)
        return self

    def join(self, timeout: float = 30) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the bot did not stop"

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.join()
