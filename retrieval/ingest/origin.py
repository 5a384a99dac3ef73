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


@dataclass
class Loaded:
    """The documents of one file or response, and the records that could not be read."""

    documents: list[Document] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
