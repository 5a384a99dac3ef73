"""Plain text and Markdown as one Document: front matter, a leading date line, heading and dateline read.

Metadata precedence: YAML front matter > a leading ``date YYYY-MM-DD`` line > the news dateline
("MOSCOW, February 8. /TASS/."), whose place and source are kept and which is removed from the body.
"""
from __future__ import annotations

import re

from retrieval.errors import UserError
from retrieval.types import Document

from .dates import parse_date
from .document import make_document
from .encoding import decode_text
from .frontmatter import split_front_matter
from .markdown import markdown_to_text
from .origin import Loaded, Origin
from .text import normalise_text
from .titles import split_heading

_DATE_PREFIX = re.compile(r"\A[ \t]*date:?[ \t]+(\d{4}-\d{1,2}-\d{1,2}(?:T\S*)?)(?:[ \t]+|\n|\Z)", re.IGNORECASE)


def load_plain(data: bytes, origin: Origin) -> Loaded:
    return Loaded(load_text(_decode(data, origin), path=origin.path, suffix=".txt", label=origin.label,
                            url=origin.url))


def load_markdown(data: bytes, origin: Origin) -> Loaded:
    return Loaded(load_text(_decode(data, origin), path=origin.path, suffix=".md", label=origin.label,
                            url=origin.url))


def _decode(data: bytes, origin: Origin) -> str:
    if origin.charset:  # an HTTP server's declared charset, when it is right
        try:
            return data.decode(origin.charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data, origin.label)


def load_text(text: str, path: str = "-", suffix: str = ".txt", label: str | None = None,
              url: str = "") -> list[Document]:
    """The document in plain text or Markdown (a list of one), with front matter, date line and dateline
    read."""
    label = label or path
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    meta, text = split_front_matter(text, label)
    date = meta.get("date")
    body = text.lstrip("\n")
    m = _DATE_PREFIX.match(body)
    if m:
        iso = parse_date(m.group(1))
        if not iso:
            raise UserError(f"{label}: invalid date {m.group(1)!r} in the leading date line")
        date = date or iso
        body = body[m.end():]
    is_markdown = suffix in {".md", ".markdown"}
    if is_markdown:
        body = markdown_to_text(body)
    body = normalise_text(body)
    heading, body = split_heading(body, markdown=is_markdown)
    return [make_document(
        body, path=path, label=label, title=str(meta.get("title") or "") or heading, date=date,
        source=str(meta.get("source") or ""), place=str(meta.get("place") or ""),
        url=str(meta.get("url") or "") or url, language=str(meta.get("lang") or ""),
        empty="empty (no text after the metadata)",
    )]
