"""Near-duplicate detection: MinHash over word 5-shingles, stored as a fixed-size BLOB per document.

The same story republished with another headline or an extra paragraph shares most of its 5-word
sequences; two different stories on the same topic share almost none. Hashes use blake2b and
permutations come from a fixed seed, so signatures are identical across processes and machines and
can be compared with signatures stored earlier.
"""
from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

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


def similarities(sig: bytes, others: Sequence[bytes]) -> np.ndarray:
    """Estimated Jaccard of ``sig`` against each of ``others`` at once (for checking a whole corpus)."""
    if not others:
        return np.zeros(0)
    matrix = np.frombuffer(b"".join(others), dtype="<u4").reshape(len(others), NUM_PERM)
    return (matrix == _as_array(sig)[None, :]).mean(axis=1)


def is_near_duplicate(a: bytes, b: bytes) -> bool:
    return similarity(a, b) > THRESHOLD
