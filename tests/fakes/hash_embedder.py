"""A deterministic, model-free embedder for child processes of crash and concurrency tests.

Loading the real model in every child would cost seconds and memory on 2 cores; these tests check that
writes are atomic and serialised, which does not depend on what the vectors mean. Texts sharing words get
similar vectors (a hashed bag of words), so search still finds what it should.
"""
from __future__ import annotations

import hashlib

import numpy as np

from retrieval.text.lexical import terms

DIM = 64


class HashEmbedder:
    name = "test-hash-bow-64"
    dim = DIM
    min_score = 0.2

    def __init__(self) -> None:
        self.calls = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text) or [text]:
                digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % DIM] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(DIM, dtype=np.float32)[0]
        return out

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)
