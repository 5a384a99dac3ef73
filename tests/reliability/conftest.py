"""Helpers for the reliability tests: run the CLI as a separate process, generate small distinct documents,
and read the store directly (raw SQLite, not the Corpus API) to check what a crash or a concurrent writer
left behind.

The process runs the console script's code with the hash embedder (tests/fakes/hash_cli.py), as the
in-process fixtures do, unless a test asks for the installed script and the real model (``real=True``)."""
from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from ..conftest import ROOT, SEED_ARTICLE
from tests.fakes.hash_embedder import HashEmbedder

BIN = Path(sys.executable).parent
MODEL = "all-MiniLM-L6-v2"  # the crash loop pins the sentence-transformers backend (its timing is tuned to it)
DEFAULT_MODEL = HashEmbedder().name  # what the tests' processes and fixtures embed with


def citebot_argv(real: bool = False) -> list[str]:
    """``real``: the installed console script when there is one (what users run), else ``python -m
    retrieval.cli``; otherwise the same code with the hash embedder (``python -m tests.fakes.hash_cli``)."""
    if not real:
        return [sys.executable, "-m", "tests.fakes.hash_cli"]
    script = BIN / "citebot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "retrieval.cli"]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    # PYTHONPATH: the hash-embedder CLI (tests.fakes.hash_cli) must import from any working directory
    env = dict(os.environ, CITEBOT_HOME=str(home), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))))
    env.pop("CITEBOT_EMBEDDER", None)
    env.update(extra)
    return env


def citebot(home: Path, *args: str, stdin: str | None = None, timeout: float = 300,
            prefix: list[str] | None = None, real: bool = False, **env: str) -> subprocess.CompletedProcess:
    """Run ``citebot ARGS`` as a user would: a subprocess with CITEBOT_HOME set, output captured (``real``:
    the installed console script and the real model)."""
    return subprocess.run(
        [*(prefix or []), *citebot_argv(real), *args], input=stdin, capture_output=True, text=True,
        env=cli_env(home, **env), cwd=ROOT, timeout=timeout,
    )


# -- documents ----------------------------------------------------------------------------------------
_SYLLABLES = "ba ko ri mu te sa lo vi ne du pa ge zo fi ra ty hu me".split()


def word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def article(rng: random.Random, marker: str, sentences: int = 10) -> str:
    """Plain sentences of random pseudo-words: no two articles are near-duplicates; ``marker`` is a
    word that appears in every sentence, so a lexical search for it finds every passage of the article."""
    out = []
    for i in range(sentences):
        words = [word(rng) for _ in range(rng.randint(9, 13))]
        out.append(f"The {marker} report {i + 1} says " + " ".join(words) + ".")
    return " ".join(out)


def write_docs(directory: Path, count: int, seed: int, prefix: str = "doc", sentences: int = 10) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        path = directory / f"{prefix}{i:03d}.txt"
        marker = f"{prefix}marker{i}"
        path.write_text(
            f"---\ntitle: {prefix.title()} number {i}\ndate: 2024-03-{i % 28 + 1:02d}\nsource: Relia\n---\n"
            + article(rng, marker, sentences) + "\n",
            encoding="utf-8",
        )
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Expected:
    """What a complete add of one file must leave in the store."""

    path: str
    title: str
    passages: tuple[str, ...]
    embed_hashes: tuple[str, ...]


def expected(path: Path, min_words: int = 60, max_words: int = 120) -> Expected:
    """The passages the loader and splitter produce for ``path`` (no model needed)."""
    from retrieval.corpus.core import _embed_text
    from retrieval.ingest import load_file
    from retrieval.text.passages import make_passages
    from retrieval.types import text_hash

    (doc,) = load_file(path, 10 * 1024 * 1024)
    passages = make_passages(doc.text, doc.lang, min_words, max_words)
    return Expected(doc.path, doc.title, tuple(p.text for p in passages),
                    tuple(text_hash(_embed_text(doc.title, p.text)) for p in passages))


# -- raw store inspection -----------------------------------------------------------------------------
def read_store(home: Path) -> dict:
    """Documents, passages, lexical rows and embedding hashes, read with a plain SQLite connection."""
    db = sqlite3.connect(home / "citebot.sqlite3", timeout=30)
    try:
        rows = db.execute("SELECT id, path, title FROM documents").fetchall()
        docs = {path: (doc_id, title) for doc_id, path, title in rows}
        named = [path for _, path, _ in rows if path not in ("", "-")]  # stdin documents share "-"
        assert len(set(named)) == len(named), "two documents share a path"
        passages: dict[int, list[tuple[int, str, str]]] = {}
        for pid, doc_id, ptext, embed_hash in db.execute(
                "SELECT id, doc_id, text, embed_hash FROM passages ORDER BY doc_id, ordinal"):
            passages.setdefault(doc_id, []).append((pid, ptext, embed_hash))
        lexical = {r[0] for r in db.execute("SELECT rowid FROM lexical")}
        # the index's one model: the hash embedder's, or MiniLM where a test pins that backend
        models = [r[0] for r in db.execute("SELECT DISTINCT model FROM embeddings") if not r[0].endswith("#query")]
        model = models[0] if len(models) == 1 else DEFAULT_MODEL
        embedded = {r[0] for r in db.execute("SELECT text_hash FROM embeddings WHERE model = ?", (model,))}
        generation = int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
    finally:
        db.close()
    return {"docs": docs, "passages": passages, "lexical": lexical, "embedded": embedded,
            "generation": generation}


def dense_ids(home: Path) -> set[int]:
    path = home / "dense.faiss"
    if not path.exists():
        return set()
    index = faiss.read_index(str(path))
    if index.ntotal == 0:
        return set()
    return set(np.asarray(faiss.vector_to_array(index.id_map), dtype=np.int64).tolist())


def check_whole_or_absent(home: Path, wanted: list[Expected], dense: set[int] | None) -> int:
    """Assert every expected document is wholly present (document row, every passage, a lexical row and
    an embedding per passage, a dense entry per passage when ``dense`` is given) or wholly absent.
    Returns how many are present."""
    state = read_store(home)
    present = 0
    all_passage_ids = {pid for rows in state["passages"].values() for pid, _, _ in rows}
    for exp in wanted:
        row = state["docs"].get(exp.path)
        if row is None:
            continue
        present += 1
        doc_id, title = row
        rows = state["passages"].get(doc_id, [])
        assert title == exp.title, exp.path
        assert tuple(t for _, t, _ in rows) == exp.passages, f"{exp.path}: passages differ (half-written?)"
        assert tuple(h for _, _, h in rows) == exp.embed_hashes, exp.path
        for pid, _, embed_hash in rows:
            assert pid in state["lexical"], f"{exp.path}: passage {pid} has no lexical entry"
            assert embed_hash in state["embedded"], f"{exp.path}: passage {pid} has no embedding"
            if dense is not None:
                assert pid in dense, f"{exp.path}: passage {pid} missing from the dense index"
    # nothing else: no passage without its document, no lexical row without its passage
    owned = {doc_id for doc_id, _ in state["docs"].values()}
    assert set(state["passages"]) <= owned, "passages without a document"
    assert state["lexical"] == all_passage_ids, "lexical index differs from the passages"
    if dense is not None:
        assert dense == all_passage_ids, "dense index differs from the passages"
    return present


def healthy_corpus(make_corpus, tmp_path: Path, seed: int):
    """The bundled article and two generated documents, the dense index synced and saved, verify passing:
    the starting point of every damage test."""
    corpus = make_corpus(tmp_path / "index")
    results = corpus.add_paths([SEED_ARTICLE, *write_docs(tmp_path / "docs", 2, seed=seed)])
    assert [r.status for r in results] == ["added"] * 3
    corpus.search("peace talks", k=1)  # dense index synced and saved
    assert corpus.verify().ok
    return corpus


def raw_store(corpus) -> sqlite3.Connection:
    """The corpus's SQLite file opened directly, autocommitting: how the tests damage it."""
    return sqlite3.connect(corpus.store.location, isolation_level=None)
