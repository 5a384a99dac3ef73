"""Titles for documents that do not state one: a one-line heading paragraph, else the first sentence."""
from __future__ import annotations

import re

from .dates import find_dateline
from .text import shorten

TITLE_MAX_CHARS = 100
HEADING_MAX_CHARS = 150

_SENTENCE_END = re.compile(r"[.!?…](?:[\"'»”)]*)(?=\s+[\"'«“(]*[A-ZА-ЯЁ0-9])")


def split_heading(body: str, markdown: bool) -> tuple[str, str]:
    """(heading, rest) when the first paragraph is a one-line heading, else ("", body)."""
    first, sep, rest = body.partition("\n\n")
    if not sep or "\n" in first or not rest.strip():
        return "", body
    line = first.strip()
    if markdown and line.startswith("#"):
        return line.lstrip("#").strip(), rest
    if 0 < len(line) <= HEADING_MAX_CHARS and not line.endswith((".", ":", ";", ",")) and re.search(r"\w", line):
        if find_dateline(line + " ") is None:  # "MOSCOW, February 8. /TASS/." opens the story, it is no title
            return line, rest
    return "", body


def first_sentence_title(body: str) -> str:
    """The first sentence, shortened to <= 100 characters at a word boundary with "…"."""
    para = body.split("\n\n", 1)[0].replace("\n", " ").strip()
    m = _SENTENCE_END.search(para[:10_000])
    sentence = para[: m.end()] if m else para[:10_000]
    sentence = sentence.strip()
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]
    return shorten(sentence, TITLE_MAX_CHARS)
