"""Text clean-up shared by every loader: paragraph normalisation, one-line metadata, shortening.

Metadata (titles, sources, places) is printed on one line by the CLI and the bot, so it must hold no
newline, terminal escape or control character; body text keeps its paragraphs.
"""
from __future__ import annotations

import re

# ESC sequences (CSI "\x1b[2J", OSC "\x1b]0;title\x07", two-byte ones) and the literal "\e" a YAML
# double-quoted string turns into ESC: their payload must go too, not only the ESC byte.
TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

METADATA_MAX_CHARS = 300  # a title is quoted in every citation; a 1 MB "title" is not a title


def normalise_text(text: str) -> str:
    """Newlines as \\n, no trailing spaces, paragraphs separated by exactly one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    if out:
        out[0] = out[0].lstrip()
    return "\n".join(out)


def clean_line(value: object, limit: int = METADATA_MAX_CHARS) -> str:
    """A metadata value as one printable line: escapes and control characters removed, whitespace
    collapsed, shortened to ``limit`` characters."""
    text = TERMINAL_ESCAPE.sub(" ", str(value or ""))
    text = _CONTROL.sub(" ", text)
    return shorten(text, limit)


def shorten(text: str, limit: int) -> str:
    """Whitespace collapsed; over ``limit`` characters cut at a word boundary and ended with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-–—") + "…"
