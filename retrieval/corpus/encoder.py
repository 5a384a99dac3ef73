"""The embedding model behind the (model, text hash) cache: the one way the corpus turns text into vectors.

Adding, reindexing, searching and answering all embed through :class:`CachedEncoder`, so no text reaches
the model twice. The answer layer gets this object (``compose(found, encoder, ...)``) instead of calling
back into ``Corpus``: a question goes down once (search) and comes back once (the answer).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable

import numpy as np

from ..embed import Embedder
from ..storage import Storage
from ..storage.base import unit_rows
from ..types import text_hash

QUERY_CACHE = "#query"  # question vectors are cached under "<model>#query", apart from passage vectors
QUERY_CACHE_MAX = 2000  # ... and at most this many of them (a bot sees endless distinct questions)


class CachedEncoder:
    """Vectors for passages, answer sentences and questions; only texts not cached reach the model.

    The model is created on first use (``load``), so commands that never embed never load it."""

    def __init__(self, store: Storage, load: Callable[[], Embedder]) -> None:
        self.store = store
        self._load = load
        self._model: Embedder | None = None

    @property
    def model(self) -> Embedder:
        if self._model is None:
            self._model = self._load()
        return self._model

    @property
    def loaded(self) -> bool:
        """Whether anything was embedded (or the model asked for) in this process."""
        return self._model is not None

    @property
    def name(self) -> str:
        return self.model.name

    def passages(self, texts: list[str]) -> np.ndarray:
        """Passage (and answer sentence) vectors for adding and reindexing: new ones are always stored."""
        return self.vectors(texts)

    def sentences(self, texts: list[str]) -> np.ndarray:
        """Answer sentence vectors on the question path: caching new ones is best-effort."""
        return self.vectors(texts, reading=True)

    def question(self, text: str) -> np.ndarray:
        """One question's vector, cached apart under ``<model>#query``."""
        return self.vectors([text], queries=True, reading=True)[0]

    def vectors(self, texts: list[str], queries: bool = False, reading: bool = False) -> np.ndarray:
        """Embed texts through the (model, text hash) cache; only unseen texts reach the model.

        Question vectors (``queries``) are cached apart, under ``<model>#query``, and only the last
        QUERY_CACHE_MAX of them are kept. ``reading`` marks the question path, where caching new vectors
        is best-effort (never waits for a writer, never fails on a read-only index)."""
        model = self.model
        key = model.name + QUERY_CACHE if queries else model.name
        hashes = [text_hash(t) for t in texts]
        cached = _usable(self.store.embeddings.cached(key, hashes)) if texts else {}
        todo = {h: t for h, t in zip(hashes, texts) if h not in cached}
        if todo:
            encode = model.encode_queries if queries else model.encode_passages
            fresh = dict(zip(todo.keys(), encode(list(todo.values()))))
            if cached and {v.shape for v in cached.values()} != {v.shape for v in fresh.values()}:
                cached = {}  # damaged vectors of another size in the cache: the model's own win
                fresh = dict(zip(hashes, encode(texts)))
            stored = self.store.embeddings.put(key, fresh, wait=not reading)
            if queries and stored:
                self.store.embeddings.trim(key, QUERY_CACHE_MAX, recent=list(fresh))
            cached.update(fresh)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([cached[h] for h in hashes]).astype(np.float32)

    def forget_questions(self, questions: Iterable[str]) -> int:
        """Drop these questions' cached vectors (the eval does, so its timings include embedding them)."""
        return self.store.embeddings.delete(self.name + QUERY_CACHE, [text_hash(q) for q in questions],
                                            keep_used=False)


def _usable(cached: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cached vectors that can be trusted: finite, unit length (encoders normalise), one common size.
    Damaged ones are simply embedded again (and `citebot verify` reports them)."""
    if not cached:
        return cached
    common = Counter(v.shape for v in cached.values()).most_common(1)[0][0]
    return {h: v for h, v in cached.items() if v.shape == common and bool(unit_rows(v))}
