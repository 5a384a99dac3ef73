"""`python -m tests.fakes.hash_cli ARGS`: the `citebot` console script's code with the hash embedder.

For tests that need a real separate process (a kill, a full stdout, a FIFO, a second writer) but not the
real model: the process starts in a fraction of a second (no torch import, no model load) and its vectors
match the ones the in-process fixtures (tests/conftest.py ``embedder``) store.
"""
from __future__ import annotations

import sys
from unittest import mock

from retrieval.cli import main

from .hash_embedder import HashEmbedder

if __name__ == "__main__":
    model = HashEmbedder()
    with mock.patch("retrieval.corpus.core.make_embedder", lambda settings: model):
        code = main(sys.argv[1:])
    sys.exit(code)
