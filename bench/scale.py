"""Single-machine scale of the embedded engine: 100k and 1M passages in SQLite + the compressed faiss index.

SYNTHETIC DATA: embedding a million passages would take days on two cores, so passage texts are random
pseudo-words and passage vectors are synthetic unit vectors shaped like embeddings (topics, stories within
topics, a document's passages near its story, cosine ~0.75 to it); recall queries are perturbed passages
(cosine ~0.7, as a question is near its answer). `ask` itself runs for real in a fresh process with the
default embedding model (its question vectors simply land among synthetic passages), which is what
the RSS and latency figures are about.

Measures: ingest rate through the storage interface, faiss build time and file size, recall@10 of the
compressed index (after exact re-scoring) against exact search with an nprobe sweep, search p50/p95,
`ask` p50/p95 and peak RSS (VmHWM) of the `ask` process, size on disk. Prints a table and one JSON line
(also written to bench/results/scale.json).

    .venv/bin/python -m bench.scale                 # 100k and 1M (about an hour on two busy cores)
    .venv/bin/python -m bench.scale --sizes 100000  # one size
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, log, publish
from bench.retrieval_speed import bench_settings, machine, percentile, run_child_json, time_asks

PASSAGES_PER_DOC = 10
WORDS_PER_PASSAGE = 40
DOCS_PER_WRITE = 2_000
_SYLLABLES = "ba ko ri mu te sa lo vi ne du pa ge zo fi ra ty hu me an el os ur".split()


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class Synthetic:
    """Deterministic synthetic documents: document ``d`` always has the same text and vectors."""

    def __init__(self, dim: int, n_docs: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.topics = _unit(rng.standard_normal((max(1, n_docs // 40), dim)))
        vocab_rng = np.random.default_rng(seed + 1)
        parts = vocab_rng.integers(0, len(_SYLLABLES), (50_000, 4))
        lengths = vocab_rng.integers(2, 5, 50_000)
        self.vocab = np.array(["".join(_SYLLABLES[j] for j in row[:n]) for row, n in zip(parts.tolist(), lengths)])

    def documents(self, start: int, stop: int) -> tuple[list[tuple[str, list[str]]], np.ndarray]:
        """([(title, passages)], vectors of every passage in order) for documents start..stop-1."""
        rng = np.random.default_rng(start)
        n = stop - start
        stories = _unit(self.topics[rng.integers(0, len(self.topics), n)]
                        + 0.8 * _unit(rng.standard_normal((n, self.dim))))
        vectors = _unit(np.repeat(stories, PASSAGES_PER_DOC, axis=0)
                        + 0.9 * _unit(rng.standard_normal((n * PASSAGES_PER_DOC, self.dim))))
        words = self.vocab[rng.integers(0, len(self.vocab), (n * PASSAGES_PER_DOC, WORDS_PER_PASSAGE))]
        texts = [" ".join(row) + "." for row in words]
        docs = [(f"Synthetic story {start + i}", texts[i * PASSAGES_PER_DOC:(i + 1) * PASSAGES_PER_DOC])
                for i in range(n)]
        return docs, vectors

    def records(self, first: int, last: int) -> tuple[list[Any], dict[str, np.ndarray]]:
        """Documents ``first``..``last`` as storage records, with their passage vectors keyed by text hash."""
        from retrieval.storage import NewDocument, NewPassage
        from retrieval.text.lexical import terms
        from retrieval.types import Document, text_hash

        docs, vectors = self.documents(first, last)
        records, cache, row = [], {}, 0
        for title, texts in docs:
            title_terms, ps, offset = terms(title), [], 0
            for i, text in enumerate(texts):
                embed_hash = text_hash(f"{title}\n{text}")
                cache[embed_hash] = vectors[row]
                row += 1
                ps.append(NewPassage(i, offset, offset + len(text), text, embed_hash, [(0, len(text))], terms(text)))
                offset += len(text) + 2
            body = "\n\n".join(texts)
            document = Document(body, title=title, date="2024-01-01", source="Synthetic", lang="en")
            records.append(NewDocument(document, content_hash=text_hash(body), title_terms=title_terms, passages=ps))
        return records, cache


def build(home: Path, passages: int, dim: int, model: str, log: Any, ann: int) -> dict[str, Any]:
    """Write synthetic documents through the storage interface until the store holds ``passages``."""
    from retrieval.storage import open_sqlite

    n_docs = passages // PASSAGES_PER_DOC
    synthetic = Synthetic(dim, n_docs)
    store = open_sqlite(home, ann_threshold=ann)
    have = store.counts().documents
    start = time.perf_counter()
    for first in range(have, n_docs, DOCS_PER_WRITE):
        records, cache = synthetic.records(first, min(n_docs, first + DOCS_PER_WRITE))
        store.embeddings.put(model, cache)
        with store.transaction() as tx:
            for record in records:
                tx.insert_document(record)
        done = min(n_docs, first + DOCS_PER_WRITE)
        if done % 20_000 == 0 or done == n_docs:
            log(f"  {home.name}: {done * PASSAGES_PER_DOC:,} passages ({time.perf_counter() - start:.0f} s)")
    ingest_s = time.perf_counter() - start
    added = (n_docs - have) * PASSAGES_PER_DOC
    t = time.perf_counter()
    store.vectors.sync(model)
    dense = store.vectors.dense(model)
    out = {"passages": store.counts().passages, "passages_added": added, "ingest_s": round(ingest_s, 1),
           "ingest_passages_per_s": round(added / ingest_s, 0) if added else None,
           "faiss_build_s": round(time.perf_counter() - t, 1), "index": dense.kind,
           "faiss_file_mb": round((home / "dense.faiss").stat().st_size / 2**20, 1),
           "store_file_mb": round((home / "citebot.sqlite3").stat().st_size / 2**20, 1),
           "float32_vectors_mb": round(store.counts().passages * dim * 4 / 2**20, 1)}
    store.close()
    return out


def timed_recall(store: Any, model: str, queries: np.ndarray, exact: np.ndarray) -> tuple[list[float], float]:
    """Each query's ``vector_search`` time in ms, and recall@10 against the exact top 10 (rows of ``exact``)."""
    times, hits = [], []
    for q, truth in zip(queries, exact):
        t = time.perf_counter()
        found = store.vectors.search(model, q, 10)
        times.append((time.perf_counter() - t) * 1000)
        hits.append(len({h.passage_id for h in found} & set(truth.tolist())) / 10)
    return times, round(float(np.mean(hits)), 4)


def recall(home: Path, model: str, n_queries: int, ann: int) -> dict[str, Any]:
    """recall@10 and latency of the store's vector search against exact search over every stored vector."""
    import faiss

    from retrieval.storage.vectors.dense import compressed_params
    from retrieval.storage import open_sqlite

    store = open_sqlite(home, ann_threshold=ann)
    ids = store.documents.passage_ids()
    rng = np.random.default_rng(3)
    picked = store.vectors.passage_vectors(model, sorted(rng.choice(ids, n_queries, replace=False).tolist())).vectors
    queries = _unit(picked + _unit(rng.standard_normal(picked.shape)))
    best = [np.full((len(queries), 10), -np.inf, dtype=np.float32), np.zeros((len(queries), 10), dtype=np.int64)]
    for start in range(0, len(ids), 100_000):  # exact top-10, streamed from the store
        batch = store.vectors.passage_vectors(model, ids[start:start + 100_000].tolist())
        scores = queries @ batch.vectors.T
        all_s = np.hstack([best[0], scores])
        all_i = np.hstack([best[1], np.broadcast_to(batch.ids, scores.shape)])
        top = np.argsort(-all_s, axis=1)[:, :10]
        best = [np.take_along_axis(all_s, top, 1), np.take_along_axis(all_i, top, 1)]
    exact = best[1]
    dense = store.vectors.dense(model)
    dense.sync(store)
    inner = faiss.downcast_index(dense.index.index)
    out: dict[str, Any] = {"queries": len(queries), "index": dense.kind}
    sweep = []
    default = getattr(inner, "nprobe", None)
    probes = sorted({default // 4, default // 2, default, min(2 * default, inner.nlist)}) if default else [None]
    for nprobe in probes:
        if nprobe:
            inner.nprobe = max(1, nprobe)
        times, recall_at_10 = timed_recall(store, model, queries, exact)
        sweep.append({"nprobe": nprobe, "recall_at_10": recall_at_10,
                      "search_ms_p50": round(percentile(times, 50), 1), "search_ms_p95": round(percentile(times, 95), 1)})
    if default:
        inner.nprobe = default
        out["nlist"], out["nprobe"] = compressed_params(len(ids))
    out["sweep"] = sweep
    chosen = next(s for s in sweep if s["nprobe"] == default) if default else sweep[0]
    out.update({k: chosen[k] for k in ("recall_at_10", "search_ms_p50", "search_ms_p95")})
    store.close()
    return out


def child_ask(home: Path, n_questions: int, ann: int) -> dict[str, Any]:
    """In a fresh process, as `citebot ask` would run: time ``ask`` on the index in ``home``."""
    return time_asks(bench_settings(home, ann_threshold=ann), n_questions)


def run_child(home: Path, n_questions: int, ann: int) -> dict[str, Any]:
    return run_child_json(["bench.scale", "--child-ask", str(home), "--questions", str(n_questions),
                           "--ann-threshold", str(ann)])


def _table(res: dict[str, Any]) -> str:
    lines = ["| passages | ingest passages/s | faiss build s | faiss file MB | store MB | recall@10 | "
             "search p50/p95 ms | ask p50/p95 ms | ask peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for size, r in res["sizes"].items():
        b, q, a = r["build"], r["recall"], r["ask"]
        lines.append(f"| {int(size):,} ({b['index']}) | {b['ingest_passages_per_s'] or '-'} | {b['faiss_build_s']} | "
                     f"{b['faiss_file_mb']} | {b['store_file_mb']} | {q['recall_at_10']} | "
                     f"{q['search_ms_p50']}/{q['search_ms_p95']} | {a['ask_ms_p50']}/{a['ask_ms_p95']} | "
                     f"{a.get('vmhwm_mb')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=RESULTS / "scale", help="index directories (reused)")
    parser.add_argument("--queries", type=int, default=200, help="recall queries")
    parser.add_argument("--questions", type=int, default=20, help="timed `ask` calls")
    parser.add_argument("--ann-threshold", type=int, default=None,
                        help="passages above which the index is compressed (default: the setting's default)")
    parser.add_argument("--child-ask", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    ann = args.ann_threshold or bench_settings(args.work).ann_threshold
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child_ask:
        print(json.dumps(child_ask(args.child_ask, args.questions, ann)))
        return 0
    from retrieval.embed import make_embedder

    embedder = make_embedder(bench_settings(args.work))  # the name only: no model is loaded here
    dim = int(os.environ.get("BENCH_DIM", "0")) or embedder.dim
    res: dict[str, Any] = {"machine": machine(), "ann_threshold": ann, "synthetic": "passage texts and vectors (see bench/scale.py)",
                           "model": embedder.name, "dim": dim, "sizes": {}}
    for size in args.sizes:
        home = args.work / f"{size // 1000}k"
        log(f"building {size:,} synthetic passages in {home} ...")
        entry = {"build": build(home, size, dim, embedder.name, log, ann)}
        log(f"recall@10 against exact at {size:,} ...")
        entry["recall"] = recall(home, embedder.name, args.queries, ann)
        log(f"timing ask at {size:,} (fresh process, real model) ...")
        entry["ask"] = run_child(home, args.questions, ann)
        entry["disk_mb"] = round(sum(f.stat().st_size for f in home.iterdir() if f.is_file()) / 2**20, 1)
        res["sizes"][str(size)] = entry
        log(json.dumps(entry))
    publish("scale", res, _table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
