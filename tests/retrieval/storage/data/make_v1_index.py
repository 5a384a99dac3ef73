"""How v1-index/ was made: an index written by the release before the storage interface (commit 5929a3d).

Run with that release's code first on the path (the fixture must come from the old code, not this one):
    git archive 5929a3d retrieval | tar -x -C /tmp/oldcode
    PYTHONPATH=/tmp/oldcode .venv/bin/python tests/retrieval/storage/data/make_v1_index.py
It adds the bundled TASS article and a short dated Reuters story with the default embedder, asks one
question (so question and sentence vectors are cached too, as in a used index), and closes the store
so the WAL is checkpointed into the one file.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
OTHER = """---
title: Central bank keeps rate unchanged
date: 2024-03-01
source: Reuters
---
The central bank of Chile kept its benchmark interest rate unchanged on Friday, citing stubborn inflation.

Analysts had expected the bank to hold the rate at 7.25 percent after three consecutive cuts last year. The
governor said further easing would depend on how quickly price growth slows in the coming months.
"""


def main() -> int:
    import retrieval

    if hasattr(retrieval, "storage") or (Path(retrieval.__file__).parent / "storage").exists():
        print("run this with the previous release's code on PYTHONPATH (see the docstring)", file=sys.stderr)
        return 2
    from retrieval import Corpus, load_settings

    home = HERE / "v1-index"
    shutil.rmtree(home, ignore_errors=True)
    docs = HERE / "v1-docs"
    docs.mkdir(exist_ok=True)
    (docs / "reuters-2024-03-01-chile-rate.md").write_text(OTHER, encoding="utf-8")
    settings = load_settings(env={}).replace(home=str(home))
    with Corpus(settings) as corpus:
        results = corpus.add_paths([ROOT / "corpus" / "tass-2024-02-08-russia-japan-peace-treaty.txt",
                                    docs / "reuters-2024-03-01-chile-rate.md"])
        assert [r.status for r in results] == ["added", "added"], results
        answer = corpus.ask("why did talks stop?")
        assert answer.answered, answer
        print(corpus.stats())
    shutil.rmtree(docs)
    for name in sorted(os.listdir(home)):
        print(name, (home / name).stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
