"""Embedding backends behind one small protocol (``base``), chosen by the ``embedder`` setting.

The default is Universal Sentence Encoder multilingual (``packaged``: English, Russian and 14 more
languages, also across languages); ``sentence-transformers`` (``sbert``) loads all-MiniLM-L6-v2 or any
model named by ``CITEBOT_MODEL``. Models load lazily: commands that do not embed (``citebot list``)
never pay for a model. ``pool`` runs a backend in worker processes (``worker``), so a large `add`
embeds on every core (``CITEBOT_INGEST_WORKERS``).
"""
from __future__ import annotations

from typing import Callable

from ..errors import UserError
from ..settings import Settings
from .base import Embedder, limit_threads, normalise
from .packaged import E5SmallEmbedder, PackagedBackend, USEMultilingualEmbedder
from .sbert import BUNDLED_MODEL, SentenceTransformerEmbedder, bundled_model_path

__all__ = ["BACKENDS", "BUNDLED_MODEL", "E5SmallEmbedder", "Embedder", "PackagedBackend", "SentenceTransformerEmbedder",
           "USEMultilingualEmbedder", "bundled_model_path", "limit_threads", "make_embedder", "normalise"]


BACKENDS: dict[str, Callable[[Settings], Embedder]] = {
    "sentence-transformers": lambda s: SentenceTransformerEmbedder(s.model, s.batch_size, s.threads),
    "use-multilingual": lambda s: USEMultilingualEmbedder(s.threads, s.batch_size),
    "e5-small": lambda s: E5SmallEmbedder(s.threads, s.batch_size),
}


def make_embedder(settings: Settings) -> Embedder:
    """The configured backend, with the process's thread limits applied; no model is loaded yet."""
    limit_threads(settings.threads)
    try:
        factory = BACKENDS[settings.embedder]
    except KeyError:
        raise UserError(
            f"unknown embedder {settings.embedder!r}; choose one of: {', '.join(sorted(BACKENDS))}"
        ) from None
    return factory(settings)
