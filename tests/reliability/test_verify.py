"""`citebot verify` finds each kind of disagreement between the store and its derived indexes, and
`--repair` rebuilds the derived ones from the store (and embeds only what is missing)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import faiss
import numpy as np
import pytest

from retrieval.storage.vectors.dense import _ids_digest

from tests.runcli import run  # `citebot verify` in this process: the checks need no separate one

from .conftest import dense_ids, healthy_corpus, raw_store, read_store


@pytest.fixture
def corpus(make_corpus, tmp_path):
    return healthy_corpus(make_corpus, tmp_path, seed=41)


def drop_lexical_row(corpus) -> None:
    raw_store(corpus).execute("DELETE FROM lexical WHERE rowid = (SELECT MIN(id) FROM passages)")


def add_stale_lexical_row(corpus) -> None:
    raw_store(corpus).execute("INSERT INTO lexical(rowid, title, body) VALUES (999999, 'ghost', 'ghost passag')")


def drop_embedding(corpus) -> None:
    raw_store(corpus).execute("DELETE FROM embeddings WHERE text_hash = (SELECT embed_hash FROM passages WHERE id = 2)")


def restamp(home: Path, index) -> None:
    """A stamp that describes the altered file exactly (count, ids) and claims the current generation:
    only comparing the index with the store can tell it is wrong."""
    stamp = json.loads((home / "dense.json").read_text())
    stamp["count"] = int(index.ntotal)
    stamp["ids"] = _ids_digest(faiss.vector_to_array(index.id_map))
    (home / "dense.json").write_text(json.dumps(stamp))


def drop_dense_vector(corpus) -> None:
    """A dense file that silently lacks one vector while its stamp still claims to be current."""
    home = corpus.settings.home_path
    corpus.close()
    index = faiss.read_index(str(home / "dense.faiss"))
    index.remove_ids(faiss.IDSelectorBatch(np.array([3], dtype=np.int64)))
    faiss.write_index(index, str(home / "dense.faiss"))
    restamp(home, index)


def add_ghost_dense_vector(corpus) -> None:
    """A dense file holding a vector for a passage the store does not have, stamp still current."""
    home = corpus.settings.home_path
    corpus.close()
    index = faiss.read_index(str(home / "dense.faiss"))
    index.add_with_ids(np.ones((1, index.d), dtype=np.float32) / np.sqrt(index.d), np.array([999999], dtype=np.int64))
    faiss.write_index(index, str(home / "dense.faiss"))
    restamp(home, index)


DAMAGE: dict[str, tuple[Callable, str]] = {
    "lexical entry missing": (drop_lexical_row, "lexical index differs from the store: 1 passages missing"),
    "stale lexical entry": (add_stale_lexical_row, "1 stale entries"),
    "embedding missing": (drop_embedding, "1 passage texts have no embedding"),
    "dense vector missing, stamp current": (drop_dense_vector, "dense index differs from the store"),
    "ghost dense vector, stamp current": (add_ghost_dense_vector, "dense index differs from the store"),
}


@pytest.mark.parametrize("damage, problem", DAMAGE.values(), ids=DAMAGE.keys())
def test_verify_reports_and_repair_fixes(corpus, make_corpus, damage, problem):
    home = corpus.settings.home_path
    docs_before = read_store(home)["docs"]
    damage(corpus)
    result = run(home, "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert problem in result.stderr and result.stdout.startswith("NOT OK")
    assert "Traceback" not in result.stderr

    if damage is drop_lexical_row:  # the CLI's --repair (one case: the others would load the model)
        repaired = run(home, "verify", "--repair")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "repaired: lexical index rebuilt from the store" in repaired.stdout
    else:
        report = make_corpus(home).verify(repair=True)
        assert report.ok and report.repairs, report
    again = run(home, "verify")
    assert again.returncode == 0 and again.stdout.startswith("ok:"), again.stdout + again.stderr
    state = read_store(home)
    assert state["docs"] == docs_before  # the store's documents are never touched by a repair
    passage_ids = {pid for rows in state["passages"].values() for pid, _, _ in rows}
    assert state["lexical"] == passage_ids and dense_ids(home) == passage_ids
    assert {h for rows in state["passages"].values() for _, _, h in rows} <= state["embedded"]


def test_repair_embeds_only_the_missing_text(corpus):
    drop_embedding(corpus)
    embedder = corpus.embedder
    calls = len(embedder.passage_texts)
    report = corpus.verify(repair=True)
    assert report.ok, report.problems
    assert len(embedder.passage_texts) == calls + 1  # one text, not the whole corpus


@pytest.mark.parametrize("sql, problem", [
    ("INSERT INTO documents(content_hash, title, added, text) VALUES ('x', 'Hollow', '2024', 'x')",
     "1 documents have no passages"),
    ("INSERT INTO passages(doc_id, ordinal, start, end, text, embed_hash, sentences) "
     "VALUES (424242, 0, 0, 1, 'x', 'h', '[]')", "1 passages belong to no document"),
], ids=["document without passages", "passage without document"])
def test_verify_reports_store_level_inconsistencies(corpus, sql, problem):
    db = raw_store(corpus)
    db.execute("PRAGMA foreign_keys = OFF")
    db.execute(sql)
    report = corpus.verify()
    assert not report.ok and any(problem in p for p in report.problems), report.problems


def test_a_dense_file_of_another_dimension_is_reported_and_repaired(corpus, make_corpus):
    """Issue 23: a dense.faiss holding vectors of another size with its stamp untouched made `verify`
    crash with a numpy broadcast error."""
    home = corpus.settings.home_path
    corpus.close()
    index = faiss.read_index(str(home / "dense.faiss"))
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    other = faiss.IndexIDMap2(faiss.IndexFlatIP(index.d // 2))
    vectors = np.random.default_rng(3).normal(size=(len(ids), index.d // 2)).astype(np.float32)
    other.add_with_ids(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), ids)
    faiss.write_index(other, str(home / "dense.faiss"))  # dense.json left as it was
    result = run(home, "verify")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"dense index file has vectors of {index.d // 2} dimensions" in result.stderr
    assert make_corpus(home).verify(repair=True).ok
    again = run(home, "verify")
    assert again.returncode == 0 and again.stdout.startswith("ok:"), again.stdout + again.stderr
    assert faiss.read_index(str(home / "dense.faiss")).d == index.d
