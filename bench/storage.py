"""Both storage engines side by side at 100k and 1M passages: SQLite (+ faiss) and PostgreSQL (+ pgvector).

SYNTHETIC DATA: the passages and vectors are bench/scale.py's synthetic ones (random pseudo-word texts,
unit vectors shaped like embeddings); embedding a million real passages would take days on two cores.
Recall queries are perturbed stored vectors; `ask` runs for real in a fresh process with the default
model (its question vectors land among synthetic passages), which is what its latency and RSS are about.
PostgreSQL is the embedded server of tests/fakes/postgres.py (PostgreSQL 18 + pgvector, durable
settings, shared_buffers 1 GB) on a Unix socket; its RSS is the client's, the server's memory is apart.

Measures per engine and size: ingest passages/s through the storage interface (PostgreSQL: bulk, the
HNSW index built afterwards, and incremental, with the index in place), vector index build time,
recall@10 of ``store.vectors.search`` against exact search and its p50/p95, hybrid ``search`` and ``ask``
p50/p95 and peak RSS in a fresh process, size on disk. For PostgreSQL also the HNSW index over
``vector`` instead of ``halfvec`` (the choice is made on its recall). Prints a table and one JSON line
(also bench/results/storage.json).

    .venv/bin/python -m bench.storage                       # 100k on both engines (~15 min)
    .venv/bin/python -m bench.storage --sizes 100000 1000000
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.common import RESULTS, exit_on_sigterm, log, publish
from bench.retrieval_speed import bench_settings, machine, percentile, run_child_json, time_asks
from bench.scale import PASSAGES_PER_DOC, Synthetic, _unit, timed_recall

DOCS_PER_WRITE = 500
INCREMENTAL_DOCS = 300


def _write(store, model: str, synthetic: Synthetic, first: int, last: int, log: Callable[[str], None]) -> float:
    start = time.perf_counter()
    for a in range(first, last, DOCS_PER_WRITE):
        b = min(last, a + DOCS_PER_WRITE)
        records, cache = synthetic.records(a, b)
        store.embeddings.put(model, cache)
        with store.transaction() as tx:
            for record in records:
                tx.insert_document(record)
        if (b * PASSAGES_PER_DOC) % 50_000 == 0 or b == last:
            log(f"    {b * PASSAGES_PER_DOC:,} passages ({time.perf_counter() - start:.0f} s)")
    return time.perf_counter() - start


def build(open_store: Callable[[], Any], passages: int, dim: int, model: str, log: Callable[[str], None]) -> dict:
    """Bulk-load ``passages`` synthetic passages, build the vector index, then time an incremental add."""
    n_docs = passages // PASSAGES_PER_DOC
    synthetic = Synthetic(dim, n_docs + INCREMENTAL_DOCS)
    store = open_store()
    have = store.counts().documents
    bulk_s = _write(store, model, synthetic, have, n_docs, log)
    t = time.perf_counter()
    store.vectors.sync(model)
    index_s = time.perf_counter() - t
    incr_s = _write(store, model, synthetic, n_docs, n_docs + INCREMENTAL_DOCS, log)
    t = time.perf_counter()
    store.vectors.sync(model)
    incr_s += time.perf_counter() - t
    added = (n_docs - have) * PASSAGES_PER_DOC
    out = {"passages": store.counts().passages, "bulk_passages_per_s": round(added / bulk_s) if added else None,
           "index_build_s": round(index_s, 1),
           "incremental_passages_per_s": round(INCREMENTAL_DOCS * PASSAGES_PER_DOC / incr_s)}
    store.close()
    return out


def recall(store, model: str, n_queries: int) -> dict[str, Any]:
    """recall@10 and latency of ``store.vectors.search`` against exact search over every stored vector."""
    ids = store.documents.passage_ids()
    rng = np.random.default_rng(3)
    picked = store.vectors.passage_vectors(model, sorted(rng.choice(ids, n_queries, replace=False).tolist())).vectors
    queries = _unit(picked + _unit(rng.standard_normal(picked.shape)))
    best_s = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(ids), 100_000):
        batch = store.vectors.passage_vectors(model, ids[start:start + 100_000].tolist())
        scores = queries @ batch.vectors.T
        all_s = np.hstack([best_s, scores])
        all_i = np.hstack([best_i, np.broadcast_to(batch.ids, scores.shape)])
        top = np.argsort(-all_s, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(all_s, top, 1), np.take_along_axis(all_i, top, 1)
    store.vectors.search(model, queries[0], 10)  # warm: index loaded / created
    times, recall_at_10 = timed_recall(store, model, queries, best_i)
    return {"queries": len(queries), "recall_at_10": recall_at_10,
            "vector_search_ms_p50": round(percentile(times, 50), 1),
            "vector_search_ms_p95": round(percentile(times, 95), 1)}


SWEEP = ((100, 2, 40), (200, 2, 100), (400, 4, 200))  # (hnsw.ef_search, candidates per result, minimum)


def sweep(url: str, model: str, n_queries: int) -> list[dict[str, Any]]:
    """recall@10 and latency of both HNSW index types at a few search widths (the engine's constants)."""
    from retrieval.storage import open_postgres
    from retrieval.storage.vectors import postgres as pg

    saved = pg.HNSW_EF_SEARCH, pg.CANDIDATES_PER_RESULT, pg.MIN_CANDIDATES
    out = []
    try:
        for index_type in ("halfvec", "vector"):
            store = open_postgres(url, index_type=index_type)
            for ef, per, least in SWEEP:
                pg.HNSW_EF_SEARCH, pg.CANDIDATES_PER_RESULT, pg.MIN_CANDIDATES = ef, per, least
                out.append({"index": index_type, "ef_search": ef, "candidates_for_10": max(10 * per, least),
                            **recall(store, model, n_queries)})
            store.close()
    finally:
        pg.HNSW_EF_SEARCH, pg.CANDIDATES_PER_RESULT, pg.MIN_CANDIDATES = saved
    return out


def child_ask(home: Path, url: str, n_questions: int) -> dict[str, Any]:
    """In a fresh process, as `citebot ask` would run: time hybrid search and ``ask`` on the given engine."""
    return time_asks(bench_settings(home, database_url=url), n_questions, search=True)


def run_child(home: Path, url: str, n_questions: int) -> dict[str, Any]:
    return run_child_json(["bench.storage", "--child-ask", str(home), "--url", url, "--questions", str(n_questions)])


def _du_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def bench_sqlite(size: int, dim: int, model: str, args: argparse.Namespace, log) -> dict[str, Any]:
    from retrieval.storage import open_storage

    home = Path(tempfile.mkdtemp(prefix="citebot-bench-sqlite-"))
    settings = bench_settings(home)
    try:
        entry = {"build": build(lambda: open_storage(settings, url=""), size, dim, model, log)}
        store = open_storage(settings, url="")
        entry["recall"] = recall(store, model, args.queries)
        store.close()
        entry["ask"] = run_child(home, "", args.questions)
        entry["disk_mb"] = _du_mb(home)
        return entry
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_postgres(size: int, dim: int, model: str, args: argparse.Namespace, log) -> dict[str, Any]:
    from retrieval.storage import open_postgres
    from tests.fakes import postgres as embedded

    server = embedded.start({"shared_buffers": "1GB", "maintenance_work_mem": "1GB", "max_wal_size": "4GB"},
                            durable=True)
    home = Path(tempfile.mkdtemp(prefix="citebot-bench-pg-"))
    try:
        url = server.create_database("bench")
        entry = {"build": build(lambda: open_postgres(url), size, dim, model, log)}
        store = open_postgres(url)
        entry["recall"] = recall(store, model, args.queries)
        store.close()
        entry["ask"] = run_child(home, url, args.questions)
        entry["disk_mb"] = _du_mb(server.data_dir)  # before the comparison index below adds its own size
        log("    the same with an HNSW index over float32 `vector` instead of `halfvec` ...")
        full = open_postgres(url, index_type="vector")
        t = time.perf_counter()
        full.vectors.sync(model)
        entry["recall_vector_index"] = {"index_build_s": round(time.perf_counter() - t, 1),
                                        **recall(full, model, args.queries)}
        entry["sweep"] = sweep(url, model, args.queries)
        full.close()
        return entry
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _table(res: dict[str, Any]) -> str:
    lines = ["| engine | passages | ingest passages/s (bulk / incremental) | index build s | recall@10 | "
             "vector search p50/p95 ms | hybrid search p50/p95 ms | ask p50/p95 ms | ask peak RSS MB | disk MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, r in res["runs"].items():
        engine, size = key.split(":")
        b, q, a = r["build"], r["recall"], r["ask"]
        lines.append(f"| {engine} | {int(size):,} | {b['bulk_passages_per_s']} / {b['incremental_passages_per_s']} | "
                     f"{b['index_build_s']} | {q['recall_at_10']} | {q['vector_search_ms_p50']}/{q['vector_search_ms_p95']} | "
                     f"{a['search_ms_p50']}/{a['search_ms_p95']} | {a['ask_ms_p50']}/{a['ask_ms_p95']} | "
                     f"{a.get('vmhwm_mb')} | {r['disk_mb']} |")
        for sw in r.get("sweep", []):
            lines.append(f"| {engine} (`{sw['index']}` HNSW, ef_search {sw['ef_search']}, {sw['candidates_for_10']} "
                         f"candidates) | {int(size):,} | | | {sw['recall_at_10']} | "
                         f"{sw['vector_search_ms_p50']}/{sw['vector_search_ms_p95']} | | | | |")
        if "recall_vector_index" in r:
            v = r["recall_vector_index"]
            lines.append(f"| {engine} (`vector` HNSW) | {int(size):,} | | {v['index_build_s']} | {v['recall_at_10']} | "
                         f"{v['vector_search_ms_p50']}/{v['vector_search_ms_p95']} | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--queries", type=int, default=200, help="recall queries")
    parser.add_argument("--questions", type=int, default=20, help="timed search + ask calls")
    parser.add_argument("--child-ask", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child_ask:
        print(json.dumps(child_ask(args.child_ask, args.url, args.questions)))
        return 0
    from retrieval.embed import make_embedder

    embedder = make_embedder(bench_settings(RESULTS))  # the name and size only: no model is loaded here
    res: dict[str, Any] = {"machine": machine(), "synthetic": "passage texts and vectors (bench/scale.py's generator)",
                           "model": embedder.name, "dim": embedder.dim, "runs": {}}
    for size in args.sizes:
        for engine in args.engines:
            log(f"{engine}: {size:,} synthetic passages ...")
            run = bench_sqlite if engine == "sqlite" else bench_postgres
            entry = run(size, embedder.dim, embedder.name, args, log)
            res["runs"][f"{engine}:{size}"] = entry
            log(json.dumps(entry))
    publish("storage", res, _table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
