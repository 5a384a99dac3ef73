"""The values every storage part shares: what goes in and comes out of the store, and its failures.

The store is split by concept, each part a small base class with one module per engine (txtai's
database / ANN / scoring split): ``documents/`` (documents and passages, with the unit of work and the
generation), ``embeddings/`` (the embedding cache), ``lexical/`` (FTS5 / PostgreSQL postings, BM25) and
``vectors/`` (the faiss file / pgvector). Each part's ``__init__`` states its share of the contract;
tests/retrieval/storage/test_<part>.py checks it on both engines. What holds for every part:

* **Errors.** Anything the user can fix (busy past the timeout, read-only, disk full, a newer schema) is
  raised as ``retrieval.errors.UserError`` with one line of text; a store damaged so that it cannot be
  read raises :class:`StorageDamaged`. Nothing else escapes except programming errors. Each engine's
  connection module translates its driver's errors once (:func:`one_line_errors`).
* **Threads.** One instance may be used from several threads; the engine serialises its own access.
* **Filters.** :class:`SearchFilters`: ``since``/``until`` are inclusive ISO dates (YYYY-MM-DD) compared
  with the document's date (documents without a date never match a date filter); ``source`` matches the
  document's source case-insensitively and exactly (``rows.filter_sql``, written once for both engines).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, TypeVar

import numpy as np

from ..errors import CitebotError
from ..types import Document, DocumentInfo

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's write before "busy", on both engines
VECTOR_DTYPE = np.dtype("<f4")  # embeddings on disk / on the wire: little-endian float32, whatever the CPU
SIGNATURE_DTYPE = np.dtype("<u4")  # near-duplicate MinHash signatures (retrieval.corpus.neardup)


class StorageDamaged(CitebotError):
    """The store cannot be read (corrupt file, damaged table); the message says what happened, code
    ``store_damaged`` (the CLI adds "run `citebot verify`", retrieval/cli/advice.py)."""

    def __init__(self, message: str = "", *, code: str = "store_damaged", **params: Any) -> None:
        super().__init__(message, code=code, **params)


def sqlite_result(exc: BaseException) -> int | None:
    """SQLite's primary result code of a driver error (``sqlite3.SQLITE_FULL``, ``SQLITE_BUSY``...; an
    extended code carries it in its low byte), None when the error has none: code decides on this, never
    on the message's words."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


_F = TypeVar("_F", bound=Callable[..., Any])


def one_line_errors(method: _F) -> _F:
    """Decorates a part's method: inside it, a driver failure is raised as its one-line UserError or
    StorageDamaged (the part's ``database`` knows how); programming errors pass unchanged."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.database.one_line():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def vector_bytes(vector: np.ndarray) -> bytes:
    """The stored form of one vector: little-endian float32 bytes."""
    return np.asarray(vector, dtype=VECTOR_DTYPE).reshape(-1).tobytes()


def unit_rows(vectors: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """Which rows are finite unit vectors. Encoders normalise every vector, so anything else stored
    (zero-filled, half-overwritten, NaN) is damage."""
    with np.errstate(all="ignore"):
        norms = np.linalg.norm(np.asarray(vectors, dtype=np.float64), axis=-1)
    return np.isfinite(norms) & (np.abs(norms - 1.0) <= tolerance)


def vector_from_bytes(blob: bytes) -> np.ndarray:
    """One stored vector back as a native float32 array (a copy, writable)."""
    return np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)


# -- values in ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchFilters:
    """Restricts search to documents dated ``since``..``until`` (inclusive ISO dates) and/or from ``source``."""

    since: str | None = None
    until: str | None = None
    source: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.source)


NO_FILTERS = SearchFilters()


@dataclass(frozen=True)
class NewPassage:
    """One passage to insert. ``sentences`` are (start, end) char spans inside ``text``; ``terms`` the
    stemmed terms of ``text`` (``retrieval.text.lexical.terms``). ``passage_id`` is None for a new passage;
    a migration copying a store may set it to keep ids (the backend must then advance its id sequence)."""

    ordinal: int
    start: int
    end: int
    text: str
    embed_hash: str
    sentences: list[tuple[int, int]]
    terms: list[str]
    passage_id: int | None = None


@dataclass(frozen=True)
class NewDocument:
    """One document with all its passages, inserted in one piece by :meth:`Transaction.insert_document`.

    ``document`` is the text and metadata as loaded. ``title_terms`` are the stemmed terms of its title
    (every passage's lexical title field). ``signature`` is the 512-byte MinHash (``SIGNATURE_DTYPE``) or
    None. ``doc_id``/``added`` are None for new documents (the backend assigns the next id and the current
    UTC time as ``YYYY-MM-DDTHH:MM:SSZ``); a migration sets them to keep the originals.
    """

    document: Document
    content_hash: str
    title_terms: list[str]
    passages: list[NewPassage]
    signature: bytes | None = None
    doc_id: int | None = None
    added: str | None = None

    def document_row(self) -> tuple[list[str], list[Any]]:
        """The ``documents`` columns and their values, the same in every engine (``id`` only when kept)."""
        d = self.document
        columns = ["content_hash", "title", "date", "source", "url", "lang", "path", "place", "page_starts",
                   "signature", "added", "text"]
        values: list[Any] = [self.content_hash, d.title, d.date, d.source, d.url, d.lang, d.path, d.place,
                             json.dumps(d.page_starts), self.signature, self.added or utc_now(), d.text]
        if self.doc_id is not None:
            columns.insert(0, "id")
            values.insert(0, self.doc_id)
        return columns, values


def utc_now() -> str:
    """The stored timestamp form, ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- values out ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PassageRow:
    """A stored passage with the metadata of its document that search results need."""

    passage_id: int
    doc_id: int
    ordinal: int
    start: int
    end: int
    text: str
    embed_hash: str
    sentences: list[tuple[int, int]]
    title: str
    date: str | None
    source: str
    url: str
    page_starts: list[int]


@dataclass(frozen=True)
class ScoredPassage:
    """A search result: a passage id and its score (higher is better)."""

    passage_id: int
    score: float


@dataclass(frozen=True)
class DocumentText:
    text: str
    page_starts: list[int]


@dataclass(frozen=True)
class VectorBatch:
    """Passage ids (int64, shape (n,)) with their vectors (float32, shape (n, dim)); dim is 0 when n is 0."""

    ids: np.ndarray
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def empty() -> "VectorBatch":
        return VectorBatch(np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32))


@dataclass(frozen=True)
class MissingEmbedding:
    """A passage text that has no vector for a model: its hash and one passage id holding it."""

    embed_hash: str
    passage_id: int


@dataclass(frozen=True)
class SignatureRow:
    doc_id: int
    signature: bytes


@dataclass(frozen=True)
class DocumentSpan:
    """Highest document id and number of documents: cheap change detection for caches."""

    max_id: int
    count: int


@dataclass(frozen=True)
class Counts:
    documents: int
    passages: int
    cached_embeddings: int

    def as_dict(self) -> dict[str, int]:
        return {"documents": self.documents, "passages": self.passages,
                "cached_embeddings": self.cached_embeddings}


@dataclass(frozen=True)
class StoredDocument:
    """Everything stored about one document, as :class:`NewDocument` takes it back (for migration)."""

    record: NewDocument  # with doc_id, added and every passage_id set


@dataclass(frozen=True)
class EmbeddingRow:
    model: str
    text_hash: str
    vector: np.ndarray  # float32, shape (dim,)


@dataclass
class VerifyReport:
    """What a check found: ``problems`` make it fail, ``repairs`` say what was rebuilt or dropped.

    ``missing`` lists passage texts without a vector for the checked model (including ones whose
    damaged vector a repair dropped); the caller embeds them (only it has the encoder) and then calls
    ``store.vectors.rebuild``."""

    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    summary: str = ""
    missing: list[MissingEmbedding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
