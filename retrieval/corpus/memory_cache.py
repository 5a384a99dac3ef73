"""Vectors computed on the question path, kept in memory (an LRU per process), never written to the store.

Asking a question used to write its vector into the store's embedding cache: a write transaction on the
read path (6 ms per question at 10k passages, issue 24) and a reader that could meet a writer. Question
vectors (and the rare answer-sentence vector an older index lacks) now live here, bounded by count, so a
repeated question (the answer's "more" button, a retry) costs no encoding and asking writes nothing.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable

import numpy as np


class VectorLRU:
    """At most ``size`` vectors keyed by (model, text hash); the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors held among these hashes (each one found becomes the most recently used)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for h in hashes:
                vector = self._items.get((model, h))
                if vector is not None:
                    self._items.move_to_end((model, h))
                    found[h] = vector
        return found

    def put(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            for h, vector in items.items():
                self._items[(model, h)] = vector
                self._items.move_to_end((model, h))
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, model: str, hashes: Iterable[str]) -> int:
        with self._lock:
            return sum(self._items.pop((model, h), None) is not None for h in hashes)
