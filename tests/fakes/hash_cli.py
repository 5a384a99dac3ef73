"""`citebot` with the deterministic hash embedder, for tests that run the CLI as a subprocess (sync
loops, kills, replicas, a full stdout, a FIFO, the reliability tables): the real console script's code,
without loading a model in every process, storing the same vectors as the in-process fixtures
(tests/conftest.py ``embedder``).

Usage: ``python -m tests.fakes.hash_cli sync --once`` (same arguments as ``citebot``).
``CITEBOT_TEST_ENCODE_DELAY=0.5`` makes each embedding call take that long, so a kill can be aimed at the
moment between fetching and writing.
"""
from __future__ import annotations

import os
import sys
import time

import retrieval.corpus.core as corpus_core
from tests.fakes.hash_embedder import HashEmbedder


class SlowHashEmbedder(HashEmbedder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def encode_passages(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return super().encode_passages(texts)


def main() -> int:
    delay = float(os.environ.get("CITEBOT_TEST_ENCODE_DELAY", "0") or 0)
    corpus_core.make_embedder = (  # type: ignore[assignment]
        (lambda settings: SlowHashEmbedder(delay)) if delay else (lambda settings: HashEmbedder()))
    from retrieval.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
