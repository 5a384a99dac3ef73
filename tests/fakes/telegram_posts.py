"""Real Russian channel posts (../shared/data/tg_news_ru) as Telegram delivers them: text plus entities.

The dataset stores each post as its client library printed it, in Markdown (``**bold**``, ``__italic__``,
``[text](url)``). Telegram itself sends plain text with entities whose offsets count UTF-16 code units,
so :func:`as_bot_api` turns the Markdown back into exactly that (and marks bare addresses as ``url``
entities, as Telegram does), for the tests to replay as ``channel_post`` updates.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import SHARED_DATA

RAW = SHARED_DATA / "tg_news_ru" / "raw"
_TOKEN = re.compile(r"\*\*|__|~~|```|`|\[([^\[\]]*)\]\(([^()\s]+)\)")
_STYLES = {"**": "bold", "__": "italic", "~~": "strikethrough", "`": "code", "```": "pre"}
_BARE_URL = re.compile(r"https?://[^\s\])]+")


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class RawPost:
    """One dataset post: its channel's title and id, message id, Unix date and Markdown text."""

    channel: str
    chat_id: int
    message_id: int
    date: int
    markdown: str


def as_bot_api(markdown: str) -> tuple[str, list[dict]]:
    """(text, entities) as the Bot API would deliver the post written as ``markdown``."""
    out: list[str] = []
    entities: list[dict] = []
    open_at: dict[str, int] = {}
    at = 0
    length = 0  # UTF-16 length of what is in ``out``
    for m in _TOKEN.finditer(markdown):
        chunk = markdown[at:m.start()]
        out.append(chunk)
        length += utf16(chunk)
        at = m.end()
        token = m.group(0)
        if m.group(2) is not None:  # [text](url)
            visible, url = re.sub(r"\*\*|__|~~|`", "", m.group(1)), m.group(2)  # styles inside a link
            out.append(visible)
            if visible:
                entities.append({"type": "url" if visible == url else "text_link", "offset": length,
                                 "length": utf16(visible), **({} if visible == url else {"url": url})})
            elif url:  # an invisible link: Telegram keeps a zero-width character carrying it
                out.append("\u200b")
                entities.append({"type": "text_link", "offset": length, "length": 1, "url": url})
                length += 1
            length += utf16(visible)
            continue
        style = _STYLES[token]
        if token in open_at:
            start = open_at.pop(token)
            if length > start:
                entities.append({"type": style, "offset": start, "length": length - start})
        else:
            open_at[token] = length
    out.append(markdown[at:])
    text = "".join(out)
    covered = [(e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in ("url", "text_link")]
    for m in _BARE_URL.finditer(text):
        start, end = utf16(text[:m.start()]), utf16(text[:m.end()])
        if not any(s <= start < e for s, e in covered):
            entities.append({"type": "url", "offset": start, "length": end - start})
    return text, sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_NOT_REPLAYABLE = re.compile(r"`|\]\([^)\s]*\(|\[[^\]]*\[")


def replayable(markdown: str) -> bool:
    """Whether :func:`as_bot_api` rebuilds this post faithfully: not for code spans (``__init__`` is no
    italic), nor brackets inside link text or parentheses inside link addresses (ambiguous Markdown)."""
    return _NOT_REPLAYABLE.search(markdown) is None


def raw_posts(limit: int | None = None, channel_file: str | None = None, min_chars: int = 0) -> list[RawPost]:
    """Replayable posts from the dataset, in file order (one channel's file, or every file in name order)."""
    files = [RAW / channel_file] if channel_file else sorted(RAW.glob("*_messages.json"))
    out: list[RawPost] = []
    for path in files:
        for item in json.loads(Path(path).read_text(encoding="utf-8")):
            text = item.get("text") or ""
            if len(text) < min_chars or not replayable(text):
                continue
            from datetime import datetime

            date = int(datetime.fromisoformat(item["date"]).timestamp())
            out.append(RawPost(item["channel"], int(item["sender_id"]), int(item["message_id"]), date, text))
            if limit is not None and len(out) >= limit:
                return out
    return out
