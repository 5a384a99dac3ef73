"""A deterministic, model-free embedder: the default for tests (tests/conftest.py) and their child processes.

Loading the real model costs seconds and memory on 2 cores; most tests check storage, caching, errors,
citations or the CLI, which do not depend on what the vectors mean. Texts sharing words get similar
vectors (a hashed bag of stemmed words), so search still finds what it should. ``name`` and ``dim`` can
differ per instance, so a test can switch "models".
"""
from __future__ import annotations

import functools
import hashlib
import os
import time

import numpy as np

from retrieval.text.lexical import terms

DIM = 64


class HashEmbedder:
    min_score = 0.2

    def __init__(self, name: str = "test-hash-bow-64", dim: int = DIM) -> None:
        self.name = name
        self.dim = dim
        self.calls = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        dim = self.dim
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text) or [text]:
                digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % dim] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(dim, dtype=np.float32)[0]
        return out

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


class PoolHashEmbedder(HashEmbedder):
    """The hash embedder that `add` may also run in embedding worker processes (``worker_factory``, as the
    packaged models offer): a test of the worker pool without loading a model in every worker. Like USE
    multilingual, its workers are forked from the adding process (``fork_safe``)."""

    fork_safe = True

    def worker_factory(self) -> type[HashEmbedder]:
        return HashEmbedder


class LoadCountingHashEmbedder(HashEmbedder):
    """Appends ``load <pid>`` to ``log`` when built (a model load) and ``encode <pid>`` per passage chunk it
    embeds, so a test sees which processes loaded the model and which embedded with it."""

    def __init__(self, log: str) -> None:
        super().__init__()
        self.log = log
        self._note("load")

    def _note(self, what: str) -> None:
        with open(self.log, "a", encoding="utf-8") as out:
            out.write(f"{what} {os.getpid()}\n")

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self._note("encode")
        return super().encode_passages(texts)


class LoadCountingPoolHashEmbedder(PoolHashEmbedder):
    """A pool embedder whose worker models are ``LoadCountingHashEmbedder``s writing to ``log``."""

    def __init__(self, log: str, fork_safe: bool = True) -> None:
        super().__init__()
        self.log = log
        self.fork_safe = fork_safe

    def worker_factory(self) -> "functools.partial[HashEmbedder]":
        return functools.partial(LoadCountingHashEmbedder, self.log)


class SlowPoolHashEmbedder(PoolHashEmbedder):
    """Its workers take ``delay`` seconds per chunk of texts, so a test can kill an add while they embed."""

    def __init__(self, delay: float = 0.1) -> None:
        super().__init__()
        self.delay = delay

    def worker_factory(self) -> "functools.partial[HashEmbedder]":
        return functools.partial(SlowHashEmbedder, self.delay)


class SlowHashEmbedder(HashEmbedder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.delay)
        return super().encode_passages(texts)


class BallastHashEmbedder(SlowHashEmbedder):
    """A slow hash embedder holding ``mb`` megabytes of weights written when it is built, as a real model's
    arrays are: a test can see whether workers share those pages or hold copies of their own."""

    def __init__(self, delay: float, mb: int) -> None:
        super().__init__(delay)
        self.weights = np.random.default_rng(0).integers(0, 255, mb << 20, dtype=np.uint8)


class BallastPoolHashEmbedder(SlowPoolHashEmbedder):
    def __init__(self, mb: int, delay: float = 0.1) -> None:
        super().__init__(delay)
        self.mb = mb

    def worker_factory(self) -> "functools.partial[HashEmbedder]":
        return functools.partial(BallastHashEmbedder, self.delay, self.mb)


class RefusingHashEmbedder(HashEmbedder):
    """A model that fails on every text it is given (in a worker: the adding process must embed them)."""

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("this worker's model refuses every text")


def _no_model() -> HashEmbedder:
    raise RuntimeError("this worker cannot load its model")


class BrokenPoolHashEmbedder(PoolHashEmbedder):
    """Its workers fail: ``refuse`` builds a model refusing every text, otherwise no model loads at all."""

    def __init__(self, refuse: bool) -> None:
        super().__init__()
        self.refuse = refuse

    def worker_factory(self) -> "type[HashEmbedder] | functools.partial[HashEmbedder]":
        return RefusingHashEmbedder if self.refuse else functools.partial(_no_model)
