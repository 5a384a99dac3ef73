"""Questions as people paste them: HTML tags and Markdown emphasis stripped before retrieval.

A question copied from a web page or a chat client arrives as ``<b>Why</b> did the **talks** stop?``;
the tags and asterisks are not words, and as query terms they push the real answer below the
threshold. Only well-formed markup is removed (known HTML tag names, paired emphasis markers), so
``a < b`` or ``snake_case`` survive. The CLI and the bot both get this through ``Corpus.ask``/``search``.
"""
from __future__ import annotations

import re

_TAG_NAMES = (
    "a|abbr|article|b|big|blockquote|br|button|cite|code|del|div|em|font|footer|form|h[1-6]|header|hr|i|"
    "iframe|img|input|ins|label|li|mark|nav|ol|p|pre|q|s|script|section|small|span|strike|strong|style|sub|"
    "sup|table|td|tg-emoji|tg-spoiler|th|tr|tt|u|ul"
)
_HTML_TAG = re.compile(rf"</?(?:{_TAG_NAMES})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MARKDOWN = [
    (re.compile(r"!?\[([^\[\]\n]+)\]\([^()\s]*\)"), r"\1"),  # [text](url) -> text
    (re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # **bold**, __bold__, ~~struck~~
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *italic*
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # _italic_ (not snake_case)
    (re.compile(r"`{1,3}([^`\n]+)`{1,3}"), r"\1"),  # `code`
    (re.compile(r"\|\|(?=\S)(.+?)(?<=\S)\|\|"), r"\1"),  # ||spoiler||
    (re.compile(r"^[ \t]*(?:#{1,6}|>+)[ \t]+", re.MULTILINE), ""),  # heading and quote markers
]
_SPACES = re.compile(r"[ \t]{2,}")


def strip_markup(text: str) -> str:
    """``text`` without HTML tags, HTML comments and Markdown emphasis; plain text comes back unchanged."""
    if not any(ch in text for ch in "<*_`~[|#>"):
        return text
    out = _HTML_COMMENT.sub(" ", text)
    out = _HTML_TAG.sub(" ", out)
    for pattern, replacement in _MARKDOWN:
        out = pattern.sub(replacement, out)
    if out == text:
        return text
    return _SPACES.sub(" ", out).strip()
