"""Near-duplicate detection: MinHash over word 5-shingles, stored as a fixed-size BLOB per document.

The same story republished with another headline or an extra paragraph shares most of its 5-word
sequences; two different stories on the same topic share almost none. Hashes use blake2b and
permutations come from a fixed seed, so signatures are identical across processes and machines and
can be compared with signatures stored earlier.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ..storage import Storage

NUM_PERM = 128  # signature = NUM_PERM uint32 = 512 bytes; estimate error ~0.04 at Jaccard 0.5
SHINGLE = 5
SEED = 20240208
THRESHOLD = 0.5  # estimated Jaccard above this: the same story (see bench/bench_neardup.py)

_rng = np.random.default_rng(SEED)
_A = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)  # odd multipliers
_B = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+", re.UNICODE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMPTY = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    """Lower-cased word k-grams (ё folded to е, links removed); a text shorter than k words is one shingle."""
    # links are dropped: a channel's footer links would otherwise make two short posts "the same"
    words = _WORD.findall(_URL.sub(" ", text).lower().replace("ё", "е"))
    if not words:
        return set()
    if len(words) < k:
        return {" ".join(words)}
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def _hashes(items: set[str]) -> np.ndarray:
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little") for s in items),
        dtype=np.uint64, count=len(items),
    )


def signature(text: str) -> bytes:
    """MinHash signature of ``text``: NUM_PERM little-endian uint32 values (512 bytes)."""
    items = shingles(text)
    if not items:
        return _EMPTY.astype("<u4").tobytes()
    h = _hashes(items)
    sig = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    for start in range(0, len(h), 4096):  # bounded memory for very long documents
        block = h[start:start + 4096]
        with np.errstate(over="ignore"):
            mixed = (block[:, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)  # multiply-shift hashing
        sig = np.minimum(sig, mixed.min(axis=0).astype(np.uint32))
    return sig.astype("<u4").tobytes()


def _as_array(sig: bytes) -> np.ndarray:
    if len(sig) != NUM_PERM * 4:
        raise ValueError(f"signature must be {NUM_PERM * 4} bytes, got {len(sig)}")
    return np.frombuffer(sig, dtype="<u4")


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity (0..1) of the two texts' shingle sets."""
    return float(np.mean(_as_array(a) == _as_array(b)))


def signature_matrix(signatures: Sequence[bytes]) -> np.ndarray:
    """Signatures stacked as a (n, NUM_PERM) little-endian uint32 matrix."""
    if not signatures:
        return np.zeros((0, NUM_PERM), dtype="<u4")
    return np.frombuffer(b"".join(signatures), dtype="<u4").reshape(len(signatures), NUM_PERM)


def similarities(sig: bytes, others: Sequence[bytes] | np.ndarray) -> np.ndarray:
    """Estimated Jaccard of ``sig`` against each of ``others`` (signatures, or a signature_matrix) at once."""
    matrix = others if isinstance(others, np.ndarray) else signature_matrix(others)
    if len(matrix) == 0:
        return np.zeros(0)
    return (matrix == _as_array(sig)[None, :]).mean(axis=1)


def is_near_duplicate(a: bytes, b: bytes) -> bool:
    return similarity(a, b) > THRESHOLD


@dataclass(frozen=True)
class NearMatch:
    """The document a new one nearly duplicates: a stored one (``doc_id``) or one earlier in the same input."""

    doc_id: int | None
    title: str


class NearDuplicates:
    """Every stored signature in memory, for checking each added document against the whole corpus.

    After the first load only new rows are read (document ids only grow); when documents were removed
    (the count no longer matches) everything is read again."""

    def __init__(self, store: "Storage") -> None:
        self.store = store
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = signature_matrix([])

    def _refresh(self) -> None:
        span = self.store.documents.span()
        rows = self.store.documents.signatures(after_id=int(self._ids[-1]) if len(self._ids) else 0)
        if rows:
            self._ids = np.concatenate([self._ids, np.asarray([r.doc_id for r in rows], dtype=np.int64)])
            self._matrix = np.vstack([self._matrix, signature_matrix([r.signature for r in rows])])
        if len(self._ids) != span.count:
            rows = self.store.documents.signatures()
            self._ids = np.asarray([r.doc_id for r in rows], dtype=np.int64)
            self._matrix = signature_matrix([r.signature for r in rows])

    @property
    def last_id(self) -> int:
        """The newest stored document id seen so far (0 when none)."""
        return int(self._ids.max()) if len(self._ids) else 0

    def find(self, sig: bytes, exclude: int | None = None,
             pending: Sequence[tuple[bytes, str]] = (), after_id: int = 0) -> NearMatch | None:
        """The stored document (other than ``exclude``, the one being replaced; newer than ``after_id``) or
        pending (signature, title) that ``sig`` nearly duplicates, if any."""
        self._refresh()
        ids, matrix = self._ids, self._matrix
        if after_id:
            newer = ids > after_id
            ids, matrix = ids[newer], matrix[newer]
        for idx in np.flatnonzero(similarities(sig, matrix) > THRESHOLD):
            if int(ids[idx]) != exclude:
                info = self.store.documents.info(int(ids[idx]))
                if info is not None:
                    return NearMatch(info.doc_id, info.title)
        for other_sig, other_title in pending:
            if similarity(sig, other_sig) > THRESHOLD:
                return NearMatch(None, other_title)
        return None
