"""Damage inside the store that the adversarial run found unreported or crashing: a truncated or zero-filled
vector, lexical rows rewritten to other words, a directory where the faiss file or its stamp should be, a
full disk while the faiss file is rewritten, and a question-vector cache that grew without bound."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

import retrieval.corpus.encoder as encoder_mod
from retrieval.storage.base import VECTOR_DTYPE

from ..conftest import ROOT
from tests.runcli import run  # `citebot verify` in this process, except under a file size limit below

from .conftest import cli_env, dense_ids, healthy_corpus, raw_store, read_store, write_docs
from .test_bad_input import FULL_DISK, TALKS, one_line


@pytest.fixture
def corpus(make_corpus, tmp_path):
    return healthy_corpus(make_corpus, tmp_path, seed=61)


def _talks_hash(corpus) -> str:
    """The embed hash of the passage holding the answer to "why did talks stop?"."""
    (embed_hash,) = raw_store(corpus).execute("SELECT embed_hash FROM passages WHERE text LIKE ?",
                                         (f"%{TALKS}%",)).fetchone()
    return embed_hash


def test_truncated_vector_is_reported_and_reembedded(corpus, make_corpus):
    """Was: `ask` and `verify` crashed with numpy's reshape error once the faiss file had to be rebuilt."""
    home = corpus.settings.home_path
    (damaged,) = raw_store(corpus).execute("SELECT embed_hash FROM passages WHERE doc_id = 1 AND text NOT LIKE ? "
                                      "ORDER BY id LIMIT 1", (f"%{TALKS}%",)).fetchone()
    raw_store(corpus).execute("UPDATE embeddings SET vector = substr(vector, 1, 100) WHERE text_hash = ?", (damaged,))
    corpus.close()
    (home / "dense.faiss").unlink()  # the next reader rebuilds it from the stored vectors

    reopened = make_corpus(home)
    answer = reopened.ask("why did talks stop?")  # the other passages still answer
    assert answer.answered and TALKS in answer.citations[0].passage
    result = run(home, "verify")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert "1 stored vectors for model" in result.stderr and "damaged" in result.stderr

    calls = len(reopened.embedder.passage_texts)
    report = reopened.verify(repair=True)
    assert report.ok, report.problems
    assert len(reopened.embedder.passage_texts) == calls + 1  # exactly the damaged text, embedded again
    assert run(home, "verify").returncode == 0
    (blob,) = raw_store(reopened).execute("SELECT vector FROM embeddings WHERE text_hash = ?", (damaged,)).fetchone()
    assert len(blob) == reopened.embedder.dim * VECTOR_DTYPE.itemsize


def test_zero_filled_vector_bytes_in_the_file_are_reported(corpus, make_corpus):
    """The last 1,000 bytes of one vector zeroed in place in its SQLite overflow page (the page structure
    intact, so SQLite's own check passes): verify compares vector content, and --repair re-embeds that one text."""
    home = corpus.settings.home_path
    damaged = _talks_hash(corpus)
    (blob,) = raw_store(corpus).execute(
        "SELECT vector FROM embeddings WHERE model = ? AND text_hash = ?", (corpus.embedder.name, damaged)).fetchone()
    corpus.close()
    path = home / "citebot.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every vector in the main file
    data = bytearray(path.read_bytes())
    tail = blob[-1000:]  # a 2 KB vector spills into an overflow page: its tail is contiguous there
    at = data.find(tail)
    assert at > 0 and data.find(tail, at + 1) == -1
    data[at:at + len(tail)] = bytes(len(tail))
    path.write_bytes(bytes(data))
    check = sqlite3.connect(path).execute("PRAGMA quick_check").fetchone()[0]
    assert check == "ok"  # invisible to SQLite: only a content check finds it

    result = run(home, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "damaged" in result.stderr
    reopened = make_corpus(home)
    calls = len(reopened.embedder.passage_texts)
    report = reopened.verify(repair=True)
    assert report.ok, report.problems
    assert len(reopened.embedder.passage_texts) == calls + 1
    answer = reopened.ask("why did talks stop?")
    assert answer.answered and TALKS in answer.citations[0].passage


def test_lexical_rows_rewritten_to_other_words_are_reported_and_repaired(corpus):
    """Ids and counts still agree, but the seed article's lexical rows hold other words: lexical search
    no longer finds it. verify compares each row with its passage's stemmed terms."""
    home = corpus.settings.home_path
    raw_store(corpus).execute("UPDATE lexical SET title = 'zorp', body = 'quux blarg' "
                         "WHERE rowid IN (SELECT id FROM passages WHERE doc_id = 1)")
    assert not corpus.search("peace treaty Tokyo", k=5, mode="lexical")
    result = run(home, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "entries do not hold their passage's words" in result.stderr
    repaired = run(home, "verify", "--repair")  # no model needed: the terms come from the stored text
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired: lexical index rebuilt from the store" in repaired.stdout
    assert corpus.search("peace treaty Tokyo", k=5, mode="lexical")[0].doc_id == 1


@pytest.mark.parametrize("name", ["dense.faiss", "dense.json"])
def test_a_directory_in_place_of_a_dense_file(corpus, make_corpus, name):
    """Was: `verify --repair` crashed (IsADirectoryError) when the faiss file or its stamp was a directory."""
    home = corpus.settings.home_path
    corpus.close()
    (home / name).unlink()
    (home / name).mkdir()
    (home / name / "junk").write_text("x")
    result = run(home, "verify", "--repair")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert (home / name).is_file()
    passages = {pid for rows in read_store(home)["passages"].values() for pid, _, _ in rows}
    assert dense_ids(home) == passages
    assert make_corpus(home).ask("why did talks stop?").answered


def test_full_disk_while_the_faiss_file_is_rewritten(corpus, tmp_path):
    """No file may grow past 32 KiB (RLIMIT_FSIZE stands in for a full disk): the store fits, the faiss
    file being rebuilt does not. Was: a faiss RuntimeError traceback; now the usual disk-full line."""
    home = corpus.settings.home_path
    more = corpus.add_paths(write_docs(tmp_path / "more", 14, seed=62, prefix="big", sentences=30))
    assert all(r.status == "added" for r in more)
    corpus.search("peace talks", k=1)
    corpus.close()
    assert (home / "dense.faiss").stat().st_size > 40 * 1024
    before = read_store(home)
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(32 * 1024), "verify", "--repair"],
                            env=cli_env(home), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result.stderr) and result.stderr.startswith("citebot: error:"), result.stderr
    assert "disk holding the index" in result.stderr and "is full" in result.stderr
    assert read_store(home) == before
    assert not list(home.glob(".dense.*.tmp"))  # the partial temp file is gone
    assert run(home, "verify").returncode == 0  # with room again, the file is rebuilt


def test_question_vector_cache_is_bounded(seed_corpus, monkeypatch):
    """Was: every distinct question's vector was kept forever (1 MB per 150 questions)."""
    monkeypatch.setattr(encoder_mod, "QUERY_CACHE_MAX", 5)
    store = seed_corpus.store
    before = store.counts().cached_embeddings
    for i in range(12):
        seed_corpus.search(f"question number {i} about peace treaty talks", k=1, mode="dense")
    assert store.counts().cached_embeddings - before <= 5
    # still a cache: the newest question is never the one dropped
    seen = len(seed_corpus.embedder.query_texts)
    for _ in range(3):
        assert seed_corpus.search("one more question about the peace treaty", k=1, mode="dense")
    assert len(seed_corpus.embedder.query_texts) == seen + 1
