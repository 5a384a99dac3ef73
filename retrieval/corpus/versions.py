"""Story versions: a corrected or updated re-issue of the same story is linked to it, not refused.

Two documents are versions of one story when they come from the same source (case-insensitive, not
empty) and either carry the same URL or nearly the same text (the MinHash test of
``corpus/neardup.py``). The later one (by date, then by order of adding) supersedes the earlier: it is
the one a recency question may quote, and ``citebot show`` lists the whole chain. The links are computed
from what the store already holds (source, url, date, near-duplicate signature), so no table is added
and a removed version simply drops out of the chain.

At add time (``core.py``) a near-duplicate of a stored document is accepted, instead of refused,
exactly when it is a *newer* version: same source and a later date. A near-duplicate from another
source (a syndicated copy) is still refused unless ``--force``.
"""
from __future__ import annotations

import bisect
import functools

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from . import neardup
from ..types import Document, DocumentInfo

if TYPE_CHECKING:  # pragma: no cover
    from ..storage import Storage


def same_source(a: str, b: str) -> bool:
    return bool(a.strip()) and a.strip().casefold() == b.strip().casefold()


def is_newer_version(stored: DocumentInfo | Document | None, doc: Document) -> bool:
    """True when ``doc`` re-issues ``stored`` (its near-duplicate): same source and a later date."""
    return (stored is not None and same_source(stored.source, doc.source) and bool(stored.date) and bool(doc.date)
            and str(doc.date) > str(stored.date))


def newer_than_pending(doc: Document, signature: bytes, pending: Iterable[Any]) -> bool:
    """True when every document earlier in the same input that ``doc`` nearly duplicates (``pending``:
    prepared items with ``doc`` and ``signature``) is an older version of it."""
    similar = [p.doc for p in pending
               if p.signature is not None and neardup.similarity(signature, p.signature) > neardup.THRESHOLD]
    return bool(similar) and all(is_newer_version(other, doc) for other in similar)


def _order(info: DocumentInfo) -> tuple[str, int]:
    return (info.date or "", info.doc_id)


@dataclass
class Version:
    """One version in a chain: the document and whether a later version supersedes it."""

    info: DocumentInfo
    superseded: bool


class Versions:
    """Version chains over a store, recomputed when the store's generation changes."""

    def __init__(self, store: "Storage") -> None:
        self.store = store
        self._generation: int | None = None
        self._signed: int | None = None  # the generation the signatures were read at
        self._infos: dict[int, DocumentInfo] = {}
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = neardup.signature_matrix([])
        self._by_url: dict[tuple[str, str], list[int]] = {}
        self._dates: list[str] = []  # every document date, sorted: "today" and "is a period empty" by bisection

    def _refresh(self, signatures: bool = True) -> None:
        """Documents (and, when asked, their signatures) as of the store's generation. "Today" needs only
        the documents; a version chain needs the signatures too (512 bytes per document).

        Document ids only grow and a stored document never changes (a new version is a new row), so after
        the first read only the documents added since are read; when some were removed (the count no longer
        matches) everything is read again. Reading every document after each sync cost the next question
        0.86 s at 43,615 documents."""
        generation = self.store.generation()
        if generation != self._generation:
            span = self.store.documents.span()
            known = bool(self._infos) and self._generation is not None
            added = self.store.documents.list(after_id=max(self._infos) if known else 0)
            if not known:
                self._infos, self._by_url, self._dates = {}, {}, []
            self._take(added)
            if len(self._infos) != span.count:  # documents were removed: read them all again
                self._infos, self._by_url, self._dates = {}, {}, []
                self._take(self.store.documents.list())
                self._signed = None
            self._generation = generation
        if signatures and self._signed != generation:
            after = int(self._ids[-1]) if self._signed is not None and len(self._ids) else 0
            rows = self.store.documents.signatures(after_id=after)
            ids = np.asarray([r.doc_id for r in rows], dtype=np.int64)
            matrix = neardup.signature_matrix([r.signature for r in rows])
            if after:
                ids, matrix = np.concatenate([self._ids, ids]), np.vstack([self._matrix, matrix])
            self._ids, self._matrix, self._signed = ids, matrix, generation

    def _take(self, infos: list[DocumentInfo]) -> None:
        """Add these documents (newer than every one held) to the maps and the sorted dates."""
        for info in infos:
            self._infos[info.doc_id] = info
            if info.url and info.source:
                self._by_url.setdefault((info.source.strip().casefold(), info.url.strip()), []).append(info.doc_id)
        dates = sorted(d.date for d in infos if d.date)
        if dates:  # two sorted runs: one linear merge
            self._dates = sorted(self._dates + dates)

    def chain(self, doc_id: int) -> list[DocumentInfo]:
        """Every version of ``doc_id``'s story (itself included), oldest first; one element when it has none."""
        self._refresh()
        own = self._infos.get(doc_id)
        if own is None:
            return []
        linked = {doc_id}
        if own.url and own.source:
            linked.update(self._by_url.get((own.source.strip().casefold(), own.url.strip()), []))
        where = np.flatnonzero(self._ids == doc_id)
        if own.source and len(where):
            sims = neardup.similarities(self._matrix[where[0]].tobytes(), self._matrix)
            for idx in np.flatnonzero(sims > neardup.THRESHOLD):
                other = self._infos.get(int(self._ids[idx]))
                if other is not None and same_source(other.source, own.source):
                    linked.add(other.doc_id)
        return sorted((self._infos[i] for i in linked if i in self._infos), key=_order)

    def versions(self, doc_id: int) -> list[Version]:
        chain = self.chain(doc_id)
        return [Version(info, i < len(chain) - 1) for i, info in enumerate(chain)]

    def superseded(self, doc_ids: Iterable[int]) -> set[int]:
        """Those of ``doc_ids`` that a later version of the same story supersedes."""
        out = set()
        for doc_id in set(doc_ids):
            chain = self.chain(doc_id)
            if chain and chain[-1].doc_id != doc_id:
                out.add(doc_id)
        return out

    def newest_date(self, not_after: str | None = None) -> str | None:
        """The newest document date, ignoring dates after ``not_after`` (future-dated feed entries must
        not move "today" into the future); None for a corpus without dated documents."""
        self._refresh(signatures=False)
        upto = bisect.bisect_right(self._dates, not_after) if not_after else len(self._dates)
        return self._dates[upto - 1] if upto else None

    def any_dated(self, since: str, until: str) -> bool:
        """True when some document is dated ``since``..``until`` (a period with nothing in it is not searched)."""
        self._refresh(signatures=False)
        # a date is on or after the day ``since`` exactly when its day is (ISO strings sort by day first), so
        # the first such date is found in the full dates; its own day then decides
        first = bisect.bisect_left(self._dates, since)
        return first < len(self._dates) and self._dates[first][:10] <= until

    @staticmethod
    def same_text(a: str, b: str) -> bool:
        """True when two passages are near-duplicates (the MinHash test on their own text): what the
        corroboration count groups, without loading every stored signature on the question path."""
        return neardup.similarity(_passage_signature(a), _passage_signature(b)) > neardup.THRESHOLD

    @staticmethod
    def same_texts(texts: Sequence[str], pairs: Sequence[tuple[int, int]]) -> list[bool]:
        """:meth:`same_text` for each pair of indexes into ``texts``, in one comparison of their signatures:
        a question's pool of one source has dozens of pairs, and each signature is made once, not per pair."""
        if not pairs:
            return []
        wanted = sorted({i for pair in pairs for i in pair})
        row = {i: r for r, i in enumerate(wanted)}
        matrix = neardup.signature_matrix([_passage_signature(texts[i]) for i in wanted])
        left = np.fromiter((row[i] for i, _ in pairs), dtype=np.intp, count=len(pairs))
        right = np.fromiter((row[j] for _, j in pairs), dtype=np.intp, count=len(pairs))
        return ((matrix[left] == matrix[right]).mean(axis=1) > neardup.THRESHOLD).tolist()

    def info(self, doc_id: int) -> DocumentInfo | None:
        self._refresh(signatures=False)
        return self._infos.get(doc_id)


@functools.lru_cache(maxsize=8192)
def _passage_signature(text: str) -> bytes:
    """A passage's MinHash signature, cached: every question compares its candidate passages pairwise
    (same source), and the same passages come back question after question. Without the cache the
    signatures tripled the CPU of `ask` on a one-source corpus (4.4 -> 14.5 ms p50, XQuAD fold A)."""
    return neardup.signature(text)
