"""Text cleaning before anything is stored or searched: control characters, lone surrogates, terminal escapes.

A document's ESC sequences would otherwise reach the user's terminal through `citebot ask/search/show`
(clear the screen, retitle the window), and lone surrogates (a file name that is not UTF-8, a "\\udce9"
escape in JSON) made SQLite and stdout raise mid-add.
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date as _date

from ..errors import UserError
from ..types import Document
from .questions import strip_markup

TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0/C1 control characters other than tab and newline
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
_METADATA = ("title", "source", "url", "place")


_URL_LINE = re.compile(r"^[ \t]*(?:https?://|t\.me/|www\.)\S*[ \t]*$", re.MULTILINE | re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n{3,}")


def plain_post(text: str) -> str:
    """A chat post (Telegram channels write Markdown) as plain text: ``[назвал](https://…)`` -> ``назвал``,
    emphasis markers gone, lines that are only a link dropped. Links and markers are not words: indexed
    raw they match questions on "https" and show up in quoted answers."""
    out = _URL_LINE.sub("", strip_markup(text))
    return _BLANK_LINES.sub("\n\n", out).strip()


def escape_surrogates(value: str) -> str:
    """Lone surrogates become visible backslash escapes (valid UTF-8 everywhere)."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?")


def valid_date(value: str | None, what: str, strict: bool = False) -> str | None:
    """An ISO date (YYYY-MM-DD) or None; anything else is a UserError naming ``what``. A document's date
    may carry anything after its first ten characters (a time, a zone); a ``strict`` one (a filter or an
    option the user typed: ``--since "2024-01-01' OR 1=1 --"``) must be a date or an ISO timestamp whole."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if strict and not _ISO_DATE.fullmatch(text.strip()):
            raise ValueError(text)
        return _date.fromisoformat(text.strip()[:10] if strict else text[:10]).isoformat()
    except ValueError:
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise UserError(f"{what}: {shown!r} is not a date (use YYYY-MM-DD)") from None


def clean_filter(value: str | None) -> str | None:
    """A text filter (``--source``) as stored metadata is: control characters (NUL) removed, so both
    engines treat it the same (PostgreSQL refuses NUL in text)."""
    if value is None:
        return None
    return CONTROL.sub("", escape_surrogates(value)) or None


def clean_document(doc: Document) -> Document:
    """The document as it is stored: newlines unified, control characters and surrogates replaced one for
    one in the text (PDF page offsets stay valid), removed from metadata; the date validated."""
    doc = replace(doc, path=escape_surrogates(doc.path or ""))
    label = doc.path or doc.title or "document"
    text = doc.text.replace("\r\n", "\n").replace("\r", "\n") if doc.text else ""
    text = SURROGATE.sub("\ufffd", CONTROL.sub(" ", text))
    return replace(doc, text=text, date=valid_date(doc.date, f"{label}: date"),
                   **{k: CONTROL.sub("", escape_surrogates(getattr(doc, k) or "")) for k in _METADATA})


def clean_question(question: object, max_chars: int) -> str:
    """The question as searched: terminal colour codes, unprintable characters and markup are not words."""
    if not isinstance(question, str):
        raise UserError("the question must be text")
    question = TERMINAL_ESCAPE.sub(" ", question)
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
    cleaned = strip_markup(cleaned)
    if not cleaned:
        raise UserError("the question is empty", code="question_empty")
    if len(cleaned) > max_chars:
        raise UserError(f"the question is {len(cleaned):,} characters long; the limit is {max_chars:,}",
                        code="question_too_long", length=len(cleaned), limit=max_chars)
    return cleaned
