"""The embedding model behind the (model, text hash) cache: the one way the corpus turns text into vectors.

Adding, reindexing, searching and answering all embed through :class:`CachedEncoder`, so no text reaches
the model twice. The answer layer gets this object (``compose(found, encoder, ...)``) instead of calling
back into ``Corpus``: a question goes down once (search) and comes back once (the answer). Question
vectors, and any vector computed while answering, live in an in-memory LRU (``memory_cache``): asking
never writes to the store.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ..embed import Embedder
from ..embed.pool import EmbedPool
from ..storage import Storage
from ..storage.base import unit_rows
from ..types import text_hash
from .memory_cache import VectorLRU

QUERY_CACHE = "#query"  # question vectors are keyed "<model>#query", apart from passage vectors
QUERY_CACHE_MAX = 2000  # question vectors kept in memory per process (never in the store: asking writes nothing)
WORD_CACHE = "#word"  # single words embedded for the cross-script word bridge (answer/features.py)
WORD_CACHE_MAX = 50_000  # words kept in memory per process (~100 MB at 512 dimensions)
POOL_CHUNK = 64  # texts per task handed to an embedding worker: small enough to keep every worker busy


@dataclass
class PendingVectors:
    """One batch's new vectors being computed by the worker pool, not yet in the store: ``store`` waits
    for them and caches them. ``in_flight`` is shared by an add's batches, so a text two batches hold is
    embedded once (the earlier batch stores it before the later one is written)."""

    key: str
    chunks: list[tuple[list[str], Future]]  # (text hashes, the future of their vectors)
    in_flight: set[str] = field(default_factory=set)

    def store(self, store: Storage) -> int:
        fresh: dict[str, np.ndarray] = {}
        for hashes, vectors in self.chunks:
            fresh.update(zip(hashes, vectors.result()))
        store.embeddings.put(self.key, fresh)
        self.in_flight.difference_update(fresh)
        return len(fresh)


class CachedEncoder:
    """Vectors for passages, answer sentences and questions; only texts not cached reach the model.

    The model is created on first use (``load``), so commands that never embed never load it."""

    def __init__(self, store: Storage, load: Callable[[], Embedder]) -> None:
        self.store = store
        self._load = load
        self._model: Embedder | None = None
        self.memory = VectorLRU(QUERY_CACHE_MAX)  # vectors computed while answering: never written
        self.word_memory = VectorLRU(WORD_CACHE_MAX)  # word vectors of the cross-script bridge

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

    def submit(self, texts: list[str], pool: EmbedPool, in_flight: set[str]) -> PendingVectors:
        """Like :meth:`passages`, in the worker pool: the texts neither cached nor already being embedded for
        an earlier batch (``in_flight``) are handed to the workers now; ``PendingVectors.store`` caches them."""
        key = self.model.name
        hashes = [text_hash(t) for t in texts]
        cached = _usable(self.store.embeddings.cached(key, hashes)) if texts else {}
        todo = {h: t for h, t in zip(hashes, texts) if h not in cached and h not in in_flight}
        in_flight.update(todo)
        items = list(todo.items())
        chunks = [([h for h, _ in part], pool.submit([t for _, t in part]))
                  for part in (items[i:i + POOL_CHUNK] for i in range(0, len(items), POOL_CHUNK))]
        return PendingVectors(key, chunks, in_flight)

    def sentences(self, texts: list[str]) -> np.ndarray:
        """Answer sentence vectors on the question path: read from the store, any missing one computed into
        memory (never written)."""
        return self.vectors(texts, reading=True)

    def words(self, words: list[str]) -> np.ndarray:
        """Vectors of single words (a Russian question's words and the English words of its candidate
        sentences), from (or into) their own in-memory LRU: news vocabulary repeats, so after the first
        questions nearly every word is a cache hit. Never written to the store."""
        if not words:
            return np.zeros((0, 0), dtype=np.float32)
        model = self.model
        key = model.name + WORD_CACHE
        cached = self.word_memory.get(key, words)
        todo = [w for w in dict.fromkeys(words) if w not in cached]
        if todo:
            fresh = dict(zip(todo, model.encode_queries(todo)))
            self.word_memory.put(key, fresh)
            cached.update(fresh)
        return np.stack([cached[w] for w in words]).astype(np.float32)

    def question(self, text: str) -> np.ndarray:
        """One question's vector, from (or into) the in-memory LRU under ``<model>#query``."""
        return self.vectors([text], queries=True, reading=True)[0]

    def vectors(self, texts: list[str], queries: bool = False, reading: bool = False) -> np.ndarray:
        """Embed texts through the (model, text hash) cache; only unseen texts reach the model.

        Question vectors (``queries``) live only in the in-memory LRU; ``reading`` marks the question path,
        which reads the store's cache but never writes to it (a vector it must compute goes to the same
        LRU): a question never opens a write transaction."""
        model = self.model
        key = model.name + QUERY_CACHE if queries else model.name
        hashes = [text_hash(t) for t in texts]
        if queries:
            cached = self.memory.get(key, hashes)
        else:
            cached = _usable(self.store.embeddings.cached(key, hashes)) if texts else {}
            if reading and len(cached) < len(set(hashes)):
                cached.update(self.memory.get(key, [h for h in hashes if h not in cached]))
        todo = {h: t for h, t in zip(hashes, texts) if h not in cached}
        if todo:
            encode = model.encode_queries if queries else model.encode_passages
            fresh = dict(zip(todo.keys(), encode(list(todo.values()))))
            if cached and {v.shape for v in cached.values()} != {v.shape for v in fresh.values()}:
                cached = {}  # damaged vectors of another size in the cache: the model's own win
                fresh = dict(zip(hashes, encode(texts)))
            if queries or reading:
                self.memory.put(key, fresh)
            else:
                self.store.embeddings.put(key, fresh)
            cached.update(fresh)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([cached[h] for h in hashes]).astype(np.float32)

    def forget_questions(self, questions: Iterable[str]) -> int:
        """Drop these questions' vectors from memory (the eval does, so its timings include embedding them)."""
        return self.memory.forget(self.name + QUERY_CACHE, [text_hash(q) for q in questions])


def _usable(cached: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cached vectors that can be trusted: finite, unit length (encoders normalise), one common size.
    Damaged ones are simply embedded again (and `citebot verify` reports them)."""
    if not cached:
        return cached
    common = Counter(v.shape for v in cached.values()).most_common(1)[0][0]
    return {h: v for h, v in cached.items() if v.shape == common and bool(unit_rows(v))}
