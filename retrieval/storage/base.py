"""The storage interface every engine implements: documents, passages, embeddings, lexical and vector search.

`Corpus`, search, eval, the CLI and the bot talk only to :class:`Storage`; SQL lives in the backends
(`sqlite.py`, the embedded default, and `postgres.py`). The contract, which tests/retrieval/storage/test_contract.py
checks against every backend:

* **Identity.** Document and passage ids are positive integers assigned by the backend, increasing and
  never reused (SQLite AUTOINCREMENT, a PostgreSQL identity/sequence). Derived indexes sync by id.
* **Atomicity.** Every change to documents/passages/lexical rows happens inside ``with storage.transaction()
  as tx``: on a normal exit it commits and moves the generation by one; on an exception (or a killed
  process) nothing of it is visible. So a document is always wholly present (row, passages, lexical
  entries) or wholly absent. Transactions of different processes are serialised (SQLite ``BEGIN
  IMMEDIATE``; PostgreSQL must take a lock that makes content-hash/path checks inside ``tx`` reliable,
  e.g. ``pg_advisory_xact_lock`` on a constant, plus the UNIQUE constraint on ``content_hash``).
* **Generation.** An integer in meta key ``generation`` that moves (by one) with every committed
  ``transaction()`` and with nothing else (the embedding cache and meta writes do not move it). Readers
  compare it to decide whether a derived index (the faiss file) is current.
* **Embeddings.** A cache keyed by (model name, sha256 hex of the embedded text) holding one float32
  vector per key, stored as little-endian float32 bytes (numpy dtype ``'<f4'``, ``VECTOR_DTYPE``) or as
  a native vector type with the same values. Unit-normalised by the encoders, so cosine = inner product.
  A passage's vector is found through its ``embed_hash`` (hash of ``title + "\\n" + text``).
* **Lexical.** Each passage has one lexical entry: the stemmed terms of its document's title and of its
  own text (both computed by ``retrieval.text.lexical.terms``, the one place stemming happens). Search takes
  already-stemmed distinct query terms and ORs them; scores are BM25-like, higher is better, with the
  title field weighted ``title_weight`` and the body 1.0.
* **Vectors.** ``vector_search`` returns the passages nearest to a unit query vector, scored with the
  exact cosine computed from the stored vectors (an approximate index may choose the candidates, never
  the score).
* **Filters.** :class:`SearchFilters`: ``since``/``until`` are inclusive ISO dates (YYYY-MM-DD) compared
  with the document's date (documents without a date never match a date filter); ``source`` matches the
  document's source case-insensitively and exactly.
* **Errors.** Anything the user can fix (busy past the timeout, read-only, disk full, a newer schema) is
  raised as ``retrieval.errors.UserError`` with one line of text; a store damaged so that it cannot be
  read raises :class:`StorageDamaged`. Nothing else escapes except programming errors.
* **Threads.** One instance may be used from several threads; the backend serialises its own access.
"""
from __future__ import annotations

import abc
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import CitebotError
from ..types import Document, DocumentInfo

VECTOR_DTYPE = np.dtype("<f4")  # embeddings on disk / on the wire: little-endian float32, whatever the CPU
SIGNATURE_DTYPE = np.dtype("<u4")  # near-duplicate MinHash signatures (retrieval.corpus.neardup)


class StorageDamaged(CitebotError):
    """The store cannot be read (corrupt file, damaged table); the message says what to do."""


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
    :meth:`Storage.rebuild_vector_index`."""

    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    summary: str = ""
    missing: list[MissingEmbedding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- the interface ------------------------------------------------------------------------------------
class Transaction(abc.ABC):
    """The unit of work yielded by :meth:`Storage.transaction`. Reads inside it see its own writes."""

    @abc.abstractmethod
    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        """Id of the document with this content hash, or the newest one added from ``path``."""

    @abc.abstractmethod
    def document_info(self, doc_id: int) -> DocumentInfo | None: ...

    @abc.abstractmethod
    def insert_document(self, doc: NewDocument) -> int:
        """Insert the document, its passages and their lexical entries; returns the document id.
        A content hash already stored raises (callers check :meth:`find_document` first)."""

    @abc.abstractmethod
    def delete_document(self, doc_id: int) -> None:
        """Delete the document, its passages and lexical entries (not the cached embeddings)."""


class Storage(abc.ABC):
    """One corpus's store. See the module docstring for the contract."""

    #: "sqlite" or "postgresql"
    engine: str = ""

    # -- lifecycle ------------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the store is, for messages and `citebot stats` (a path, or a URL without password)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and files; the instance is unusable afterwards."""

    def __enter__(self) -> "Storage":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The applied schema migration number (both engines count from 1 = the first release's schema)."""

    # -- writes ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """An atomic write of documents (see the module docstring). Waits for another writer up to a
        timeout, then raises UserError ("... is busy ..."). A full disk raises UserError saying nothing
        was written. Commits and moves the generation by one on a normal exit."""

    @abc.abstractmethod
    def put_embeddings(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        """Cache vectors by (model, text hash) in their own short transaction (existing keys are kept
        unchanged). With ``wait=False`` (the question path) it is best effort: a busy or read-only
        store is skipped silently. Returns whether the vectors were stored."""

    @abc.abstractmethod
    def delete_embeddings(self, model: str, hashes: Iterable[str], keep_used: bool = True) -> int:
        """Drop cached vectors; with ``keep_used`` those of texts some passage embeds are kept. Returns
        how many were dropped. Does not move the generation."""

    @abc.abstractmethod
    def trim_embeddings(self, model: str, keep: int, recent: Sequence[str] = ()) -> int:
        """Keep at most ``keep`` cached vectors under ``model``: a bounded cache (the question vectors are
        stored under ``<model>#query``). Never drops the ``recent`` hashes (just stored); which others go
        is the engine's choice (oldest if it knows the order, else random). Best effort: a busy store is
        left as it is. Returns how many were dropped."""

    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Store a key/value (own short transaction; does not move the generation). ``generation`` is
        reserved."""

    # -- reads ----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def generation(self) -> int: ...

    @abc.abstractmethod
    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        """As :meth:`Transaction.find_document`, outside a transaction."""

    @abc.abstractmethod
    def document_info(self, doc_id: int) -> DocumentInfo | None: ...

    @abc.abstractmethod
    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentInfo]:
        """Documents ordered by id; ``limit`` None means all."""

    @abc.abstractmethod
    def document_text(self, doc_id: int) -> DocumentText:
        """The full text and page starts; UserError "no document with id N" when absent."""

    @abc.abstractmethod
    def counts(self) -> Counts: ...

    @abc.abstractmethod
    def document_span(self) -> DocumentSpan: ...

    @abc.abstractmethod
    def signatures(self, after_id: int = 0) -> list[SignatureRow]:
        """Near-duplicate signatures of documents with id > ``after_id`` (and a signature), by id."""

    @abc.abstractmethod
    def passages(self, ids: Iterable[int]) -> dict[int, PassageRow]:
        """The passages with these ids that exist (absent ids are simply missing from the dict)."""

    @abc.abstractmethod
    def passage_ids(self, filters: SearchFilters = NO_FILTERS) -> np.ndarray:
        """Ids (int64, ascending) of all passages, or of those whose document passes ``filters``."""

    @abc.abstractmethod
    def passage_vectors(self, model: str, ids: Sequence[int] | None = None) -> VectorBatch:
        """Vectors for ``model`` of these passages (all passages when None), ascending by id; passages
        without a vector are left out, and so are damaged ones (a size other than the most common one
        among those read): search keeps working, and :meth:`verify` reports them."""

    @abc.abstractmethod
    def cached_embeddings(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors (float32) among these text hashes; misses are simply absent."""

    @abc.abstractmethod
    def missing_embeddings(self, model: str) -> list[MissingEmbedding]:
        """One entry per distinct ``embed_hash`` of a passage with no vector for ``model``."""

    @abc.abstractmethod
    def export_documents(self, after_id: int = 0, limit: int = 100) -> list[StoredDocument]:
        """Full records of up to ``limit`` documents with id > ``after_id``, by id (for migration)."""

    @abc.abstractmethod
    def export_embeddings(self, after: tuple[str, str] = ("", ""), limit: int = 1000) -> list[EmbeddingRow]:
        """Up to ``limit`` cached vectors with (model, text_hash) > ``after``, in that order (migration)."""

    # -- search ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def lexical_search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
                       title_weight: float = 0.5) -> list[ScoredPassage]:
        """Top ``limit`` passages matching any of ``terms`` (already stemmed, distinct), best first.
        An empty ``terms`` returns []."""

    @abc.abstractmethod
    def vector_search(self, model: str, query: np.ndarray, limit: int,
                      filters: SearchFilters = NO_FILTERS) -> list[ScoredPassage]:
        """Top ``limit`` passages by cosine with the unit vector ``query``, best first; the score is the
        exact inner product with the stored vector. A query of another dimension returns []. The
        backend brings any derived index up to the current generation first."""

    @abc.abstractmethod
    def sync_vector_index(self, model: str) -> bool:
        """Bring a derived vector index up to the store (no-op for engines searching their own tables);
        returns whether anything changed. Called after writes so the next reader starts warm."""

    @abc.abstractmethod
    def rebuild_vector_index(self, model: str) -> int:
        """Throw any derived vector index away and build it again from the stored vectors; returns the
        number of vectors it holds."""

    @abc.abstractmethod
    def vector_index_size(self, model: str) -> int:
        """Vectors the vector index holds for ``model`` (passages with a vector, for in-table engines)."""

    # -- integrity ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def verify(self, model: str, repair: bool = False) -> VerifyReport:
        """Check the store and its indexes agree, comparing content and not only ids:

        * the engine's own integrity check; documents without passages; passages without a document;
        * lexical entries: exactly one per passage, holding exactly the stemmed terms of its title and
          text (a hash over the terms is enough);
        * embeddings: each passage's vector has the model's dimension and a finite, non-zero norm
          (a truncated or zero-filled vector is damage); ``missing`` lists texts without a vector;
        * any derived vector index holds exactly the passages that have vectors.

        Never raises for damage: an unreadable store is one problem. With ``repair`` it rebuilds the
        lexical entries from the passages, drops damaged vectors (reporting them in ``missing``) and
        rebuilds any derived vector index; documents and passages are never changed. Problems fixed
        by the repair are not listed as problems; with ``repair`` missing vectors are not a problem
        either (the caller embeds ``missing``, then calls :meth:`rebuild_vector_index`). ``summary`` is one line:
        "N documents, P passages, V dense vectors, generation G".
        """
