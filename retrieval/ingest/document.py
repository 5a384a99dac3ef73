"""The last step of every loader: dateline, one-line metadata, title and language make the Document."""
from __future__ import annotations

from retrieval.errors import UserError
from retrieval.types import Document

from . import lang
from .dates import take_dateline
from .text import clean_line
from .titles import first_sentence_title


def make_document(text: str, *, path: str, label: str, title: str = "", date: str | None = None,
                  source: str = "", place: str = "", url: str = "", language: str = "",
                  page_starts: list[int] | None = None, empty: str = "no text found") -> Document:
    """A Document from normalised body text and whatever metadata the format stated.

    Stated metadata wins over the dateline's; a missing title becomes the first sentence, a missing
    language is detected. Raises UserError("label: <empty>") when no text is left.
    """
    dated = take_dateline(text, place=clean_line(place), source=clean_line(source), date=date,
                          page_starts=page_starts)
    if not dated.text.strip():
        raise UserError(f"{label}: {empty}")
    return Document(
        text=dated.text,
        title=clean_line(title) or first_sentence_title(dated.text),
        date=dated.date,
        source=clean_line(dated.source),
        url=clean_line(url, limit=2000),
        lang=clean_line(language, limit=16) or lang.detect(dated.text),
        path=path,
        place=clean_line(dated.place),
        page_starts=dated.page_starts,
    )
