"""Telegram posts as plain text and documents: Bot API entities, Telegram Desktop exports, one short-post rule.

Telegram keeps a post's formatting beside its text, as entities with offsets counted in UTF-16 code
units (an emoji outside the Basic Multilingual Plane is two units, one Python character). A citation
must quote prose, so a post becomes plain text: bold, italic, mentions and hashtags keep their
visible text, a ``text_link`` keeps its words (its address goes to ``links``), a bare address
(``url`` entity) and an invisible link (a zero-width character carrying a preview image) are taken
out of the text and kept in ``links``. No Markdown or link syntax survives.

The same post reaches citebot two ways, and both end here: live, as a Bot API ``channel_post``
(``plain_text(text, entities)``), and as history, from a Telegram Desktop export ``result.json``
whose ``text`` is a string or a list of strings and entity objects (``export_text``). Both give the
post the same identity (``post_path``: the channel's id and the message id), so importing an export
after the bot has seen the same posts replaces or skips them instead of indexing them twice.

The short-post rule (docs/formats.md, "Telegram"), :func:`plan_post`: words are counted in the
post's own text (links, @mentions, #hashtags and emoji are not words).
- at least ``HEADLINE_WORDS`` words: the post is indexed;
- fewer, with a link to an article (not to Telegram): the article is fetched and indexed instead (a
  headline with its link), named after the channel and dated by the post when the page has no date;
  when it cannot be fetched, the post itself is indexed if it has ``MIN_WORDS`` words;
- fewer, without such a link: indexed if it has at least ``MIN_WORDS`` words, else skipped ("🔥",
  "Как вам идея?", a repost with no words of its own, a photo without a caption).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from retrieval.errors import UserError
from retrieval.types import Document

from .document import make_document
from .encoding import decode_text
from .origin import LeftOutRecord, LineError, LinkedArticle, Loaded, Origin
from .text import normalise_text

MIN_WORDS = 4  # a post with fewer words of its own (and no article link) says nothing to quote
HEADLINE_WORDS = 15  # a post with a link and fewer words is a headline: its article is indexed instead
TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog", "www.t.me", "telegram.org"})

# entity kinds whose text is an address, not prose: taken out of the text, kept in ``links``
_ADDRESS_KINDS = frozenset({"url", "link"})  # "link" is the Desktop export's name for a bare address
_NOT_WORDS = re.compile(r"https?://\S+|(?<!\w)[@#$]\w+|www\.\S+", re.I)
_WORD = re.compile(r"[^\W_]{1,}", re.U)
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


@dataclass(frozen=True)
class Entity:
    """One Telegram message entity: ``kind`` (bold, text_link, url, mention, ...), ``offset`` and
    ``length`` in UTF-16 code units, ``url`` for text links."""

    kind: str
    offset: int
    length: int
    url: str = ""


@dataclass(frozen=True)
class PlainText:
    """A post as plain text, with the addresses it linked to (in order, each once)."""

    text: str
    links: tuple[str, ...] = ()


def entity_of(raw: Any) -> Entity | None:
    """An :class:`Entity` from a Bot API dict or an object with ``type/offset/length/url`` (PTB's
    MessageEntity); None for something that is not an entity."""
    get = raw.get if isinstance(raw, Mapping) else (lambda name, default=None: getattr(raw, name, default))
    try:
        kind, offset, length = str(get("type", "") or ""), int(get("offset")), int(get("length"))
    except (TypeError, ValueError):
        return None
    if offset < 0 or length <= 0 or not kind:
        return None
    return Entity(kind, offset, length, str(get("url", "") or ""))


def utf16_positions(text: str) -> list[int]:
    """``positions[u]`` is the index in ``text`` of UTF-16 offset ``u`` (one entry per code unit, plus
    the end), so entity offsets map to Python slices; an offset inside a surrogate pair maps to the
    character it splits."""
    positions: list[int] = []
    for index, char in enumerate(text):
        positions.append(index)
        if ord(char) > 0xFFFF:
            positions.append(index)
    positions.append(len(text))
    return positions


def plain_text(text: str | None, entities: Iterable[Any] = ()) -> PlainText:
    """A Bot API message's ``text`` (or ``caption``) and its entities as plain text (see the module doc)."""
    text = text or ""
    positions = utf16_positions(text)
    last = len(positions) - 1
    drop: list[tuple[int, int]] = []
    links: list[tuple[int, str]] = []
    for raw in entities or ():
        entity = entity_of(raw)
        if entity is None or entity.offset >= last:
            continue
        start, end = positions[entity.offset], positions[min(entity.offset + entity.length, last)]
        visible = text[start:end]
        if entity.kind == "text_link" and entity.url:
            links.append((start, entity.url))
            if _invisible(visible):  # a preview image behind "\u200b": no words to keep
                drop.append((start, end))
        elif entity.kind in _ADDRESS_KINDS:
            links.append((start, _with_scheme(visible.strip())))
            drop.append((start, end))
    return PlainText(_tidy(_cut(text, drop)), _unique(url for _, url in sorted(links)))


def export_text(parts: Any) -> PlainText:
    """A Telegram Desktop export message's ``text``: a string, or a list of strings and entity
    objects ``{"type": "bold", "text": "..."}`` (``text_link`` carries ``href``)."""
    if isinstance(parts, str):
        return PlainText(_tidy(parts))
    if not isinstance(parts, list):
        return PlainText("")
    out: list[str] = []
    links: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        if not isinstance(part, Mapping):
            continue
        kind, visible = str(part.get("type", "")), str(part.get("text", "") or "")
        if kind == "text_link" and part.get("href"):
            links.append(str(part["href"]))
            if _invisible(visible):
                continue
        elif kind in _ADDRESS_KINDS:
            links.append(_with_scheme(visible.strip()))
            continue
        out.append(visible)
    return PlainText(_tidy("".join(out)), _unique(links))


def _invisible(visible: str) -> bool:
    """Link text with nothing to read and no space to keep (a space between two words stays)."""
    return not re.search(r"\w", visible) and not any(ch.isspace() for ch in visible)


def _with_scheme(address: str) -> str:
    return address if re.match(r"(?i)[a-z][a-z0-9+.-]*://", address) else f"https://{address}"


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out: list[str] = []
    at = 0
    for start, end in sorted(spans):
        if start > at:
            out.append(text[at:start])
        at = max(at, end)
    out.append(text[at:])
    return "".join(out)


def _tidy(text: str) -> str:
    """Spaces left where an address was cut collapsed; lines emptied by it dropped; paragraphs kept."""
    lines = [re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if not re.fullmatch(r"[\s:—–\-|•·]*", line) or not line]
    return normalise_text("\n".join(lines))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def own_words(text: str) -> int:
    """Words of the post's own: links, @mentions, #hashtags, $cashtags, emoji and numbers-only signs
    are not counted."""
    return len(_WORD.findall(_NOT_WORDS.sub(" ", text)))


def article_link(links: Iterable[str]) -> str:
    """The first http(s) link that leads off Telegram (the article a headline post points at), or ""."""
    for link in links:
        parts = urlsplit(link)
        if parts.scheme in ("http", "https") and parts.hostname and parts.hostname.lower() not in TELEGRAM_HOSTS:
            return link
    return ""


# -- posts -----------------------------------------------------------------------------------------------

def bare_channel_id(chat_id: int | str | None) -> int | None:
    """A channel's id as Telegram Desktop writes it: the Bot API's ``-100XXXXXXXXXX`` becomes
    ``XXXXXXXXXX``, a bare id stays; None when there is none."""
    if chat_id in (None, ""):
        return None
    try:
        value = int(str(chat_id).strip())
    except ValueError:
        return None
    text = str(value)
    if text.startswith("-100") and len(text) > 4:
        return int(text[4:])
    return abs(value)


def post_link(message_id: int, username: str = "", chat_id: int | str | None = None) -> str:
    """The post's address: ``https://t.me/<username>/<id>`` for a public channel, else the members-only
    ``https://t.me/c/<channel id>/<id>``; "" when neither is known."""
    name = (username or "").lstrip("@")
    if name and _USERNAME.match(name):
        return f"https://t.me/{name}/{int(message_id)}"
    bare = bare_channel_id(chat_id)
    return f"https://t.me/c/{bare}/{int(message_id)}" if bare is not None else ""


def post_path(message_id: int, username: str = "", chat_id: int | str | None = None) -> str:
    """The post's identity in the corpus: the channel's id and the message id, so the live post, its
    edits and the same post in a Desktop export are one document (the username only when no id)."""
    bare = bare_channel_id(chat_id)
    if bare is not None:
        return f"telegram:{bare}/{int(message_id)}"
    return post_link(message_id, username)


@dataclass(frozen=True)
class Post:
    """One channel post, from the Bot API or an export: where it was published and its plain text."""

    message_id: int
    channel: str  # the channel's title: the documents' source
    text: PlainText
    date: str | None = None  # ISO date
    username: str = ""
    chat_id: int | None = None

    @property
    def url(self) -> str:
        return post_link(self.message_id, self.username, self.chat_id)

    @property
    def path(self) -> str:
        return post_path(self.message_id, self.username, self.chat_id)

    @property
    def label(self) -> str:
        return self.url or self.path or f"{self.channel} message {self.message_id}"


@dataclass(frozen=True)
class PostPlan:
    """What the short-post rule decided: ``action`` is ``index`` (``document``), ``fetch`` (the article
    at ``url``; ``document`` is the post to index if the fetch fails, or None) or ``skip`` (``reason``)."""

    action: str
    document: Document | None = None
    url: str = ""
    reason: str = ""


def post_document(post: Post) -> Document:
    """The post as a document: source = channel title, url = its t.me link, date = the post's date."""
    return make_document(post.text.text, path=post.path, label=post.label, source=post.channel,
                         url=post.url, date=post.date, empty="no text in this post")


def plan_post(post: Post) -> PostPlan:
    """The one short-post rule (module doc) applied to ``post``."""
    words = own_words(post.text.text)
    link = article_link(post.text.links)
    if words >= HEADLINE_WORDS:
        return PostPlan("index", post_document(post))
    fallback = post_document(post) if words >= MIN_WORDS else None
    if link:
        return PostPlan("fetch", fallback, url=link, reason=f"{words} words and a link: the article is indexed")
    if fallback is not None:
        return PostPlan("index", fallback)
    what = "no text" if not post.text.text.strip() else f"{words} word{'' if words == 1 else 's'} of its own"
    return PostPlan("skip", reason=f"short post: {what} and no article link (posts under {MIN_WORDS} words "
                                   "are not indexed)")


def fill_article(doc: Document, source: str, date: str | None) -> Document:
    """An article fetched for a headline post: the channel names it and the post dates it when the page
    itself does not."""
    if not doc.source:
        doc.source = source
    if not doc.date:
        doc.date = date
    return doc


def iso_date(value: Any) -> str | None:
    """A post date (Unix seconds, a datetime or an ISO string) as YYYY-MM-DD in UTC; None if unreadable."""
    try:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
            return moment.astimezone(timezone.utc).date().isoformat()
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
            return datetime.fromtimestamp(int(value), tz=timezone.utc).date().isoformat()
        if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return value.strip()[:10]
    except (ValueError, OverflowError, OSError):
        return None
    return None


# -- Telegram Desktop export (result.json) ---------------------------------------------------------------

@dataclass
class ExportChat:
    """One chat of an export: its name, id, username when the export states one, and its messages."""

    name: str
    chat_id: int | None
    username: str
    messages: list[Any] = field(default_factory=list)


def _chats(data: Any, label: str) -> list[ExportChat]:
    if not isinstance(data, Mapping):
        raise UserError(f"{label}: not a Telegram Desktop export (the file holds no object with a 'messages' list)")
    if isinstance(data.get("messages"), list):
        found = [data]
    else:  # "Export Telegram data" of a whole account: chats.list[*].messages (and left_chats)
        found = [c for key in ("chats", "left_chats") for c in ((data.get(key) or {}).get("list") or [])
                 if isinstance(c, Mapping) and isinstance(c.get("messages"), list)] \
            if isinstance(data.get("chats", {}), Mapping) else []
    if not found:
        raise UserError(f"{label}: not a Telegram Desktop export (no 'messages' list; export a channel with "
                        "Telegram Desktop, format JSON)")
    return [ExportChat(str(c.get("name") or "Telegram"), bare_channel_id(c.get("id")),
                       str(c.get("username") or "").lstrip("@"), list(c["messages"])) for c in found]


def load_export(data: bytes, origin: Origin) -> Loaded:
    """A Telegram Desktop export's messages as documents, each by the short-post rule: long posts
    become documents, headline posts ask for their article (``Loaded.articles``), the rest are
    reported as skipped; service messages (joins, pins) are ignored silently."""
    try:
        parsed = json.loads(decode_text(data, origin.label))
    except json.JSONDecodeError as exc:
        raise UserError(f"{origin.label}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise UserError(f"{origin.label}: not valid JSON (nested too deeply)") from None
    loaded = Loaded()
    for chat in _chats(parsed, origin.label):
        for number, message in enumerate(chat.messages, start=1):
            if not isinstance(message, Mapping) or message.get("type", "message") != "message":
                continue
            try:
                message_id = int(message.get("id"))
            except (TypeError, ValueError):
                loaded.errors.append(LineError(number, UserError(f"{origin.label}: message {number} has no id")))
                continue
            post = Post(message_id, chat.name, export_text(message.get("text", "")),
                        iso_date(message.get("date_unixtime") or message.get("date")), chat.username, chat.chat_id)
            try:
                plan = plan_post(post)
            except UserError as exc:
                plan = PostPlan("skip", reason=str(exc))
            if plan.action == "index" and plan.document is not None:
                loaded.documents.append(plan.document)
            elif plan.action == "fetch":
                loaded.articles.append(LinkedArticle(plan.url, post.label, post.channel, post.date, plan.document))
            else:
                loaded.skipped.append(LeftOutRecord(post.label, plan.reason))
    if not loaded.documents and not loaded.articles and not loaded.errors and not loaded.skipped:
        raise UserError(f"{origin.label}: no messages in this export")
    return loaded
