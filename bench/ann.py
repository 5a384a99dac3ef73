"""`python -m bench.ann`: flat against HNSW on real vectors, to choose CITEBOT_HNSW_THRESHOLD.

Real USE vectors of Reuters-21578 and Telegram passages (exactly what `citebot add` embeds: title +
passage), real XQuAD questions (English and Russian) as queries. For each corpus size it builds the two
kinds of index the SQLite engine can hold (``vectors/dense.py``, the same code and parameters) and
reports, per question, the CPU time (``time.process_time``: the machine is shared, wall time alone means
little) of a 100-candidate search (what hybrid search asks for) and recall@10 / recall@100 of HNSW
against exact search. The vectors are cached under bench/results/ann/ (embedding them is the slow part).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench.common import RESULTS, log, publish

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def real_passages(n: int) -> list[tuple[Any, list[Any]]]:
    """(document, its passages) of Reuters + Telegram in a fixed order until ``n`` passages (the last
    document cut short); the order of :func:`real_vectors`' rows."""
    from bench.retrieval_speed import scale_documents
    from retrieval.text.passages import make_passages

    small, rest = scale_documents()
    out, count = [], 0
    for doc in small + rest:  # Reuters and Telegram, then SciFact abstracts (past ~86k passages)
        passages = make_passages(doc.text, doc.lang)[:n - count]
        if passages:
            out.append((doc, passages))
            count += len(passages)
        if count >= n:
            break
    return out


def embed_text(doc: Any, passage: Any) -> str:
    return f"{doc.title}\n{passage.text}" if doc.title else passage.text


def real_vectors(n: int, embedder: Any) -> np.ndarray:
    """``n`` passage vectors of :func:`real_passages`, cached on disk (a longer cached run serves too)."""
    for cached in sorted((RESULTS / "ann").glob(f"{embedder.name}-*.npy"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        if int(cached.stem.rsplit("-", 1)[1]) >= n:
            return np.load(cached)[:n]
    cache = RESULTS / "ann" / f"{embedder.name}-{n}.npy"
    texts = [embed_text(doc, p) for doc, passages in real_passages(n) for p in passages]
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    shorter = sorted((RESULTS / "ann").glob(f"{embedder.name}-*.npy"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    done = 0
    if shorter:  # a shorter cached run is the same passages' prefix: only the rest is embedded
        have = np.load(shorter[-1])
        done = len(have)
        out[:done] = have
    start = time.perf_counter()
    for i in range(done, len(texts), 512):
        out[i:i + 512] = embedder.encode_passages(texts[i:i + 512])
        log(f"  embedded {min(i + 512, len(texts))}/{len(texts)} ({time.perf_counter() - start:.0f}s)")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


def measure(vectors: np.ndarray, queries: np.ndarray, k: int = 100) -> dict[str, Any]:
    """Flat and HNSW over ``vectors`` through DenseIndex (the engine's own code and parameters), against
    brute force."""
    import faiss

    from retrieval.storage.vectors.dense import DenseIndex

    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    out: dict[str, Any] = {"passages": len(vectors)}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, threshold in (("flat", 10 ** 9), ("hnsw", 0)):
            dense = DenseIndex(Path(tmp), "bench", ann_threshold=10 ** 9, hnsw_threshold=threshold)
            cpu = time.process_time()
            dense._set(dense._new_index(len(vectors), vectors.shape[1]))
            dense.index.add_with_ids(vectors, ids)
            out[f"{kind}_build_cpu_s"] = round(time.process_time() - cpu, 2)
            assert dense.kind == kind, dense.kind
            got10, got100 = [], []
            cpu, wall = time.process_time(), time.perf_counter()
            for q in queries:
                got100.append([pid for pid, _ in dense.search(None, q, k)])
            out[f"{kind}_search{k}_cpu_ms"] = round((time.process_time() - cpu) * 1000 / len(queries), 3)
            out[f"{kind}_search{k}_wall_ms"] = round((time.perf_counter() - wall) * 1000 / len(queries), 3)
            for q in queries:
                got10.append([pid for pid, _ in dense.search(None, q, 10)])
            results[kind] = (got10, got100)
            if kind == "flat":  # searches whose 8-bit candidates could not be proved to hold the exact top k
                out["flat_scan_fallback_share"] = round(dense.scan_fallbacks / (2 * len(queries)), 4)
            if kind == "hnsw":  # the search width: recall@10 of a k=10 search and its CPU, per efSearch
                import retrieval.storage.vectors.dense as dense_mod

                default, sweep = dense_mod.HNSW_EF_SEARCH, []
                for ef in (64, 128, 256, 512):
                    dense_mod.HNSW_EF_SEARCH = ef
                    cpu = time.process_time()
                    got = [[pid for pid, _ in dense.search(None, q, 10)] for q in queries]
                    sweep.append({"ef_search": ef, "cpu_ms": round((time.process_time() - cpu) * 1000 / len(queries), 3),
                                  "got": got})
                dense_mod.HNSW_EF_SEARCH = default
                out["ef_sweep"] = sweep
            del dense
    # the reference: brute force in numpy over the float32 vectors (best first, lower id among equals)
    exact10, exact100 = [], []
    for q in queries:
        scores = vectors @ q
        top = ids[np.lexsort((ids, -scores))[:k]].tolist()
        exact10.append(top[:10])
        exact100.append(top)
    approx10, approx100 = results["hnsw"]
    flat10, flat100 = results["flat"]  # the 8-bit scan re-scored exactly: must be exact search
    out["flat_same_as_exact"] = round(float(np.mean([a == e for a, e in zip(flat100, exact100)]
                                                    + [a == e for a, e in zip(flat10, exact10)])), 4)
    for point in out.get("ef_sweep", []):
        got = point.pop("got")
        point["recall@10"] = round(float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(got, exact10)])), 4)
    out["hnsw_recall@10"] = round(float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx10, exact10)])), 4)
    out[f"hnsw_recall@{k}"] = round(float(np.mean([len(set(a) & set(e)) / k for a, e in zip(approx100, exact100)])), 4)
    # the top 10 of a 100-candidate search (what hybrid search fuses)
    out["hnsw_recall@10_of_100"] = round(float(np.mean([len(set(a[:10]) & set(e[:10])) / 10
                                                        for a, e in zip(approx100, exact100)])), 4)
    faiss.omp_set_num_threads(1)
    return out


def table(res: dict[str, Any]) -> str:
    lines = [f"Real {res['model']} vectors (Reuters + Telegram passages), {res['queries']} XQuAD questions, "
             f"one faiss thread, load average {res['load_avg_start']:.1f} -> {res['load_avg_end']:.1f}",
             "", "| passages | flat search CPU ms (k=100) | flat lists equal to brute force | flat scans not proved exact "
             "(float32 scanned) | HNSW search CPU ms (k=100) | HNSW recall@10 | recall@10 of 100 | recall@100 | "
             "HNSW build CPU s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res["sizes"]:
        lines.append(f"| {r['passages']:,} | {r['flat_search100_cpu_ms']} | {r['flat_same_as_exact']} | "
                     f"{r['flat_scan_fallback_share']} | {r['hnsw_search100_cpu_ms']} | "
                     f"{r['hnsw_recall@10']} | {r['hnsw_recall@10_of_100']} | {r['hnsw_recall@100']} | "
                     f"{r['hnsw_build_cpu_s']} |")
    lines += ["", "HNSW search width (k=10): efSearch -> recall@10 / CPU ms per question", ""]
    for r in res["sizes"]:
        lines.append(f"- {r['passages']:,}: " + ", ".join(f"{p['ef_search']} -> {p['recall@10']} / {p['cpu_ms']}"
                                                          for p in r.get("ef_sweep", [])))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import faiss
    import torch

    from bench.retrieval_speed import questions
    from retrieval import load_settings
    from retrieval.embed import make_embedder

    parser = argparse.ArgumentParser(prog="python -m bench.ann", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,30000")
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    sizes = [int(s) for s in args.sizes.split(",")]
    load_start = os.getloadavg()[0]
    embedder = make_embedder(load_settings(env={}).replace(threads=1))
    vectors = real_vectors(max(sizes), embedder)
    queries = embedder.encode_queries(questions(args.queries)).astype(np.float32)
    res: dict[str, Any] = {"model": embedder.name, "queries": len(queries), "load_avg_start": load_start,
                           "sizes": []}
    for n in sizes:
        log(f"measuring {n} passages ...")
        res["sizes"].append(measure(vectors[:n], queries))
        log(f"  {res['sizes'][-1]}")
    res["load_avg_end"] = os.getloadavg()[0]
    publish("ann", res, table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
