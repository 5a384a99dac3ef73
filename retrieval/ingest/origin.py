"""Where loaded bytes came from, and what every loader returns: documents plus per-record errors."""
from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.errors import UserError
from retrieval.types import Document


@dataclass(frozen=True)
class Origin:
    """``path`` is the identity stored with the document (resolved path or final URL), ``label`` what
    error messages name (the argument as the user typed it), ``url`` the web address if fetched,
    ``charset`` the encoding an HTTP server declared."""

    path: str
    label: str
    url: str = ""
    charset: str = ""


@dataclass(frozen=True)
class LineError:
    """One bad record of a bulk file: its line number and the one-line error."""

    lineno: int
    error: UserError


@dataclass(frozen=True)
class LinkedArticle:
    """An article a record only points at (a Telegram headline post with its link): fetched by the
    caller, which may fetch (``load_sources``), never by the loader. ``source`` and ``date`` fill in what
    the page lacks; ``fallback`` is indexed instead when the page cannot be fetched (None: nothing)."""

    url: str
    label: str
    source: str = ""
    date: str | None = None
    fallback: Document | None = None


@dataclass(frozen=True)
class LeftOutRecord:
    """A record read and deliberately not indexed, by a documented rule: its label and why."""

    label: str
    reason: str


@dataclass
class Loaded:
    """The documents of one file or response, the records that could not be read, the articles its
    records point at (``articles``) and the records deliberately left out, one line each (``skipped``)."""

    documents: list[Document] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    articles: list[LinkedArticle] = field(default_factory=list)
    skipped: list[LeftOutRecord] = field(default_factory=list)
