"""`verify` for the SQLite engine: the store's integrity, and that the lexical and dense indexes hold exactly
its passages, compared by content (stemmed terms, vector values), not only by ids and counts.

Needs no embedding model: vectors are checked for size and unit length (the encoders normalise), and against the
copy the faiss file holds; a damaged vector is dropped by ``repair`` and reported as missing, so the caller
(who has the model) embeds exactly those texts again.
"""
from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path

import faiss
import numpy as np

from ..text.lexical import terms
from .base import VECTOR_DTYPE, Storage, StorageDamaged, VerifyReport, unit_rows
from .dense import BUILD_BATCH


class SQLiteChecks(Storage):
    """The SQLite engine's ``verify``, kept apart from its reads and writes; ``SQLiteStorage`` inherits it
    and provides the store file, its connection and its lock."""

    path: Path
    db: sqlite3.Connection
    lock: threading.RLock

    def verify(self, model: str, repair: bool = False) -> VerifyReport:
        """See :meth:`retrieval.storage.base.Storage.verify`. A store too damaged to read is reported as a
        problem (never a traceback) and is not written to."""
        try:
            return _verify(self, model, repair)
        except (sqlite3.DatabaseError, StorageDamaged) as exc:
            report = VerifyReport(problems=[
                f"SQLite integrity check failed: {exc}; restore {self.path} from a backup, "
                f"or move it aside and add your documents again"])
            report.summary = f"the store {self.path} is damaged"
            return report


def _verify(store: "SQLiteChecks", model: str, repair: bool) -> VerifyReport:
    report = VerifyReport()
    db = store.db
    with store.lock:
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            report.problems.append(f"SQLite integrity check failed: {check}")
        empty_docs = db.execute(
            "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.doc_id = d.id)"
        ).fetchone()[0]
        if empty_docs:
            report.problems.append(f"{empty_docs} documents have no passages")
        orphans = db.execute(
            "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = p.doc_id)"
        ).fetchone()[0]
        if orphans:
            report.problems.append(f"{orphans} passages belong to no document")
        if _lexical_problems(store, report) and repair:
            rebuild_lexical(store)
            report.repairs.append("lexical index rebuilt from the store")
        damaged = _damaged_vectors(store, model)
        if damaged:
            report.problems.append(f"{len(damaged)} stored vectors for model {model} are damaged "
                                   f"(truncated, zero-filled or not numbers)")
            if repair:
                store.delete_embeddings(model, damaged, keep_used=False)
                report.repairs.append(f"dropped {len(damaged)} damaged vectors (their texts are embedded again)")
        report.missing = store.missing_embeddings(model)
        if report.missing:
            report.problems.append(f"{len(report.missing)} passage texts have no embedding for model {model}")

    dense = store.dense(model)
    with dense.lock:
        if repair and not report.missing:
            dense.discard()
            report.repairs.append("dense index rebuilt from the store")
        dense.sync(store)  # damaged vectors are left out of it, as they are out of search
        if dense.load_problem and not repair:  # the file was there but wrong: a problem, rebuilt here
            report.problems.append(f"{dense.load_problem}: rebuilt from the store")
        elif dense.rebuilt and not repair:
            report.repairs.append("dense index was missing or unreadable: rebuilt from the store")
        dense.load_problem = ""
        if not damaged:  # else it differs from the store by them: reported once, above
            _dense_problems(store, model, report)
    if repair:  # what the repair fixed is no longer a problem; missing vectors are the caller's to embed
        report.problems = [p for p in report.problems
                           if not ("lexical" in p or "embedding" in p or "damaged" in p or "dense" in p)]
    counts = store.counts()
    report.summary = (f"{counts.documents} documents, {counts.passages} passages, "
                      f"{dense.size} dense vectors, generation {store.generation()}")
    return report


def _lexical_problems(store: "SQLiteChecks", report: VerifyReport) -> bool:
    """Ids first, then content: every lexical row must hold exactly its passage's stemmed terms."""
    db = store.db
    passage_ids = set(store.passage_ids().tolist())
    lexical_ids = {r[0] for r in db.execute("SELECT rowid FROM lexical")}
    found = False
    if lexical_ids != passage_ids:
        report.problems.append(
            f"lexical index differs from the store: {len(passage_ids - lexical_ids)} passages missing, "
            f"{len(lexical_ids - passage_ids)} stale entries")
        found = True
    wrong = 0
    title_terms: dict[str, str] = {}
    for title, ptext, ltitle, lbody in db.execute(
            "SELECT d.title, p.text, l.title, l.body FROM passages p JOIN documents d ON d.id = p.doc_id "
            "JOIN lexical l ON l.rowid = p.id"):
        if title not in title_terms:
            title_terms[title] = " ".join(terms(title))
        if ltitle != title_terms[title] or lbody != " ".join(terms(ptext)):
            wrong += 1
    if wrong:
        report.problems.append(f"lexical index differs from the store: {wrong} entries do not hold their "
                               f"passage's words")
        found = True
    try:  # the full-text index itself against its content (a damaged index b-tree)
        db.execute("INSERT INTO lexical(lexical, rank) VALUES ('integrity-check', 1)")
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc) and "locked" not in str(exc) and "busy" not in str(exc):
            raise
    except sqlite3.DatabaseError as exc:
        report.problems.append(f"lexical index differs from the store: its full-text index is damaged ({exc})")
        found = True
    return found


def rebuild_lexical(store: "SQLiteChecks") -> None:
    """Every lexical row recomputed from the passages and their titles, in one transaction."""
    with store.write() as db:
        db.execute("DELETE FROM lexical")
        db.execute("INSERT INTO lexical(lexical) VALUES ('rebuild')")
        title_terms: dict[str, str] = {}
        for pid, title, ptext in db.execute(
                "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.doc_id").fetchall():
            if title not in title_terms:
                title_terms[title] = " ".join(terms(title))
            db.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                       (pid, title_terms[title], " ".join(terms(ptext))))


def _damaged_vectors(store: "SQLiteChecks", model: str) -> list[str]:
    """Text hashes of passage vectors that are truncated (another size than the rest), or not finite unit
    vectors (zero-filled, partly overwritten)."""
    db = store.db
    sizes = Counter(dict(db.execute(
        "SELECT length(vector), COUNT(*) FROM embeddings WHERE model = ? GROUP BY length(vector)", (model,))))
    if not sizes:
        return []
    size = sizes.most_common(1)[0][0]
    damaged: list[str] = []
    rows = db.execute("""SELECT DISTINCT e.text_hash, e.vector FROM passages p JOIN embeddings e
                         ON e.model = ? AND e.text_hash = p.embed_hash""", (model,))
    while True:
        batch = rows.fetchmany(BUILD_BATCH)
        if not batch:
            break
        good = []
        for h, blob in batch:
            if len(blob) != size or size % VECTOR_DTYPE.itemsize:
                damaged.append(h)
            else:
                good.append((h, blob))
        if good:
            vectors = np.frombuffer(b"".join(b for _, b in good), dtype=VECTOR_DTYPE).reshape(len(good), -1)
            damaged.extend(good[i][0] for i in np.flatnonzero(~unit_rows(vectors)))
    return damaged


def _dense_problems(store: "SQLiteChecks", model: str, report: VerifyReport) -> None:
    """The faiss index must hold exactly the passages with vectors, and the same vectors."""
    dense = store.dense(model)
    index_ids = np.sort(dense.ids())
    stored_ids = store.passage_ids()
    differ = 0
    with_vectors: list[np.ndarray] = []
    internal = dense.ids()  # passage id at each position of the inner index
    order = np.argsort(internal)
    inner = faiss.downcast_index(dense.index.index) if dense.index is not None else None
    for start in range(0, len(stored_ids), BUILD_BATCH):
        batch = store.passage_vectors(model, stored_ids[start:start + BUILD_BATCH].tolist())
        with_vectors.append(batch.ids)
        if not len(batch) or dense.index is None:
            continue
        present = np.isin(batch.ids, index_ids)
        if not present.any():
            continue
        ids = batch.ids[present]
        positions = order[np.searchsorted(internal, ids, sorter=order)]
        try:
            copies = inner.reconstruct_batch(positions.astype(np.int64))
        except RuntimeError:  # an IVF index without a direct map: compared by ids only
            continue
        stored = batch.vectors[present]
        if copies.shape[1] != stored.shape[1]:  # an index of another dimension (normally caught at load)
            report.problems.append(f"dense index has vectors of {copies.shape[1]} dimensions, the store's "
                                   f"have {stored.shape[1]}")
            return
        cosine = (copies * stored).sum(axis=1) / np.maximum(
            np.linalg.norm(copies, axis=1) * np.linalg.norm(stored, axis=1), 1e-12)
        differ += int((cosine < (0.9999 if dense.kind == "flat" else 0.98)).sum())
    expected = np.concatenate(with_vectors) if with_vectors else np.zeros(0, dtype=np.int64)
    if not np.array_equal(np.sort(expected), index_ids):
        report.problems.append("dense index differs from the store after syncing")
    elif differ:
        report.problems.append(f"dense index differs from the store: {differ} vectors are not the stored ones")
