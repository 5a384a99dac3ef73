"""`citebot` with the deterministic hash embedder, for tests that run the CLI as a subprocess (sync
loops, kills, replicas): the real console script's code, without loading a model in every process.

Usage: ``python -m tests.fakes.hash_cli sync --once`` (same arguments as ``citebot``).
"""
from __future__ import annotations

import sys

import retrieval.corpus.core as corpus_core
from tests.fakes.hash_embedder import HashEmbedder


def main() -> int:
    corpus_core.make_embedder = lambda settings: HashEmbedder()  # type: ignore[assignment]
    from retrieval.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
