"""`python -m bench.ranking_unchanged --set scifact`: is ranking quality unchanged within noise?

Why: issue 24 moved the dense index to an HNSW graph above CITEBOT_HNSW_THRESHOLD (20,000 passages) and
fusion to vectors read from memory, and its acceptance asks that the SciFact and XQuAD figures of
docs/evaluation.md stay within noise. ``citebot eval`` prints means only; this runs the same eval code
(``retrieval.eval``: the same index directory, the same ``run_queries``) once per index kind on the same
index, keeps every question's score, and compares them pairwise:

* ``flat``: CITEBOT_HNSW_THRESHOLD above the corpus size (exact search, what every size used before);
* ``hnsw``: CITEBOT_HNSW_THRESHOLD=1 (the graph forced, whatever the size).

Hybrid by default (the product's mode); ``--mode dense`` compares the dense ranking alone, where an
approximate neighbour search would show first.

SciFact (22,301 passages) is above the default threshold, so its default is ``hnsw``; the XQuAD indexes
(about 5,300 passages) are below it, so theirs is ``flat``. Reported: the mean metrics of each, the
mean per-question difference with a paired bootstrap 95% interval (10,000 resamples of the questions),
the questions that got better / worse / stayed equal and a two-sided sign test on them; and, for each
kind, the difference from the figure recorded in docs/evaluation.md beside the bootstrap standard
error of the mean (the sampling noise of a figure over these questions); for the HNSW pass, the
passage-level recall@10/100/200 of the index's search against exact search over every stored vector,
on the set's own questions (on stderr).

Index the set first with the matching ``citebot eval`` command (docs/evaluation.md, "Reproduce"); give
its ``--home`` here too, or none for the eval's default cache directory.

    python -m bench.ranking_unchanged --set scifact --home /tmp/eval/scifact
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
from pathlib import Path
from typing import Any, Sequence

from bench.common import DATA, log, publish

# docs/evaluation.md, USE multilingual v3 (the default embedder), per mode
RECORDED = {
    "hybrid": {
        "scifact": {"ndcg@10": 0.6938, "recall@100": 0.9151, "recall@10": 0.8125, "mrr@10": 0.6625},
        "xquad-enen": {"recall@5": 0.9968},
        "xquad-ruru": {"recall@5": 0.9763},
        "xquad-ruen": {"recall@5": 0.8908},
    },
    "dense": {
        "scifact": {"ndcg@10": 0.4880, "recall@100": 0.8094, "recall@10": 0.6160, "mrr@10": 0.4576},
        "xquad-enen": {"recall@5": 0.9478},
        "xquad-ruru": {"recall@5": 0.8022},
        "xquad-ruen": {"recall@5": 0.8797},
    },
}
SETS = sorted(RECORDED["hybrid"])
KINDS = {"flat": 10**9, "hnsw": 1}  # CITEBOT_HNSW_THRESHOLD per index kind


def load_set(name: str) -> tuple[Any, list[Any]]:
    """(eval set, distractors) exactly as docs/evaluation.md's "Reproduce" commands load them."""
    from retrieval.eval import load_beir, load_distractors, load_squad

    xq = DATA / "xquad"
    if name == "scifact":
        s = DATA / "scifact"
        return load_beir(s / "corpus.jsonl", s / "queries.jsonl", s / "qrels" / "train.tsv"), []
    if name == "xquad-enen":
        return load_squad(xq / "xquad.en.dev.json"), load_distractors([DATA / "reuters21578"], 1750)
    if name == "xquad-ruru":
        return load_squad(xq / "xquad.ru.dev.json"), load_distractors([DATA / "tg_news_ru" / "raw"], 3550)
    if name == "xquad-ruen":
        return (load_squad(xq / "xquad.en.dev.json", questions=xq / "xquad.ru.dev.json"),
                load_distractors([DATA / "reuters21578"], 1750))
    raise SystemExit(f"unknown set {name!r}: scifact, xquad-enen, xquad-ruru, xquad-ruen")


def per_question(evalset: Any, distractors: list[Any], home: Path | None, threshold: int,
                 mode: str = "hybrid") -> dict[str, dict[str, float]]:
    """metric -> question id -> value, one eval pass in ``mode`` with the given HNSW threshold."""
    from retrieval import Corpus, load_settings
    from retrieval.eval.metrics import mrr_at_k, ndcg_at_k, recall_at_k
    from retrieval.eval.run import build_index, default_home, doc_key, eval_settings, run_queries

    base = load_settings(env={})
    settings = eval_settings(base.replace(hnsw_threshold=threshold),
                             home or default_home(evalset, distractors, base))
    corpus = Corpus.open(settings)
    try:
        added, _ = build_index(corpus, list(evalset.docs) + list(distractors))
        if added:
            log(f"  indexed {added} documents that were missing")
        key_of = {info.doc_id: k for info in corpus.documents() if (k := doc_key(info.url)) is not None}
        rankings, _ = run_queries(corpus, evalset, mode, 200, key_of)
        dense = corpus.store.vectors.dense(corpus.embedder.name) if hasattr(corpus.store.vectors, "dense") else None
        log(f"  index kind: {getattr(dense, 'kind', 'unknown')} ({getattr(dense, 'size', '?')} vectors)")
        if getattr(dense, "kind", "") == "hnsw":
            for k, value in passage_recall(corpus, [q.text for q in evalset.queries]).items():
                log(f"  HNSW passage recall@{k} against exact search: {value:.4f}")
    finally:
        corpus.close()
    qids = [q for q, rels in evalset.qrels.items() if any(g > 0 for g in rels.values())]
    out: dict[str, dict[str, float]] = {}
    for metric, fn, k in (("ndcg@10", ndcg_at_k, 10), ("recall@5", recall_at_k, 5), ("recall@10", recall_at_k, 10),
                          ("recall@100", recall_at_k, 100), ("mrr@10", mrr_at_k, 10)):
        out[metric] = {q: fn(rankings.get(q, []), evalset.qrels[q], k) for q in qids}
    return out


def passage_recall(corpus: Any, questions: list[str], ks: Sequence[int] = (10, 100, 200)) -> dict[int, float]:
    """Share of the exact top k passages (every stored vector scored) that the index's search returns."""
    import numpy as np

    model = corpus.embedder.name
    stored = corpus.store.vectors.passage_vectors(model)
    queries = corpus.embedder.encode_queries(questions)
    exact = queries @ stored.vectors.T
    out = {}
    for k in ks:
        found = [len({h.passage_id for h in corpus.store.vectors.search(model, q, k)}
                     & set(stored.ids[np.argsort(-row)[:k]].tolist())) / k for q, row in zip(queries, exact)]
        out[k] = float(np.mean(found))
    return out


def bootstrap(diffs: Sequence[float], rounds: int = 10_000, seed: int = 24) -> tuple[float, float]:
    """95% interval of the mean of ``diffs`` by resampling the questions."""
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def std_error(values: Sequence[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def sign_test(wins: int, losses: int) -> float:
    """Two-sided binomial p of ``wins`` against ``losses`` (ties dropped) under no difference."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def compare(name: str, runs: dict[str, dict[str, dict[str, float]]], mode: str = "hybrid") -> dict[str, Any]:
    recorded = RECORDED[mode]
    res: dict[str, Any] = {"set": name, "mode": mode, "questions": len(next(iter(runs.values()))["ndcg@10"]),
                           "kinds": {}}
    for kind, metrics in runs.items():
        row: dict[str, Any] = {}
        for metric, values in metrics.items():
            vals = list(values.values())
            row[metric] = round(statistics.fmean(vals), 4)
            row[f"{metric}_se"] = round(std_error(vals), 4)
            if metric in recorded.get(name, {}):
                row[f"{metric}_recorded"] = recorded[name][metric]
                row[f"{metric}_vs_recorded"] = round(statistics.fmean(vals) - recorded[name][metric], 4)
        res["kinds"][kind] = row
    if {"flat", "hnsw"} <= set(runs):
        paired: dict[str, Any] = {}
        for metric in runs["flat"]:
            flat, hnsw = runs["flat"][metric], runs["hnsw"][metric]
            diffs = [hnsw[q] - flat[q] for q in flat]
            lo, hi = bootstrap(diffs)
            wins = sum(d > 1e-12 for d in diffs)
            losses = sum(d < -1e-12 for d in diffs)
            paired[metric] = {"hnsw_minus_flat": round(statistics.fmean(diffs), 4), "ci95": [round(lo, 4), round(hi, 4)],
                              "better": wins, "worse": losses, "equal": len(diffs) - wins - losses,
                              "sign_test_p": round(sign_test(wins, losses), 4)}
        res["hnsw_vs_flat"] = paired
    return res


def table(res: dict[str, Any]) -> str:
    metrics = [m for m in ("ndcg@10", "recall@5", "recall@10", "recall@100") if m in next(iter(res["kinds"].values()))]
    lines = [f"{res['set']} ({res['questions']} questions), {res['mode']}",
             "| index | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for kind, row in res["kinds"].items():
        cells = []
        for m in metrics:
            cell = f"{row[m]:.4f} ± {row[m + '_se']:.4f}"
            if f"{m}_recorded" in row:
                cell += f" (recorded {row[m + '_recorded']:.4f})"
            cells.append(cell)
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    for m, p in res.get("hnsw_vs_flat", {}).items():
        if m in metrics:
            lines.append(f"hnsw - flat {m}: {p['hnsw_minus_flat']:+.4f} (95% CI {p['ci95'][0]:+.4f} .. {p['ci95'][1]:+.4f}), "
                         f"better {p['better']} / worse {p['worse']} / equal {p['equal']}, sign test p {p['sign_test_p']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ranking_unchanged", description=__doc__.split("\n")[0])
    parser.add_argument("--set", required=True, choices=SETS)
    parser.add_argument("--mode", default="hybrid", choices=sorted(RECORDED), help="retrieval mode (default hybrid)")
    parser.add_argument("--home", type=Path, default=None, help="the eval's index directory (citebot eval --home)")
    parser.add_argument("--kinds", default="flat,hnsw", help="index kinds to run: flat, hnsw or both")
    args = parser.parse_args(argv)
    evalset, distractors = load_set(args.set)
    runs = {}
    for kind in [k for k in args.kinds.split(",") if k]:
        log(f"{args.set}: {kind} (CITEBOT_HNSW_THRESHOLD={KINDS[kind]}) ...")
        runs[kind] = per_question(evalset, distractors, args.home, KINDS[kind], args.mode)
    res = compare(args.set, runs, args.mode)
    publish(f"ranking_unchanged-{args.set}-{args.mode}", res, table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
