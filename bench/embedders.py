"""Cost of each embedding backend on this machine: passages per second and per-question milliseconds.

Same passages (real XQuAD paragraphs split the way citebot splits them, with their titles) and the same
questions for every backend, one thread each, model load excluded. Prints a table and writes
bench/results/embedders.json; the quality side of the comparison comes from `citebot eval` on XQuAD.

    python -m bench.embedders [--passages 200] [--questions 50]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.common import ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA = ROOT.parent / "shared" / "data" / "xquad"
BACKENDS = ("sentence-transformers", "use-multilingual", "e5-small")


def sample(n_passages: int, n_questions: int) -> tuple[list[str], list[str]]:
    from retrieval.corpus.core import _embed_text
    from retrieval.eval import load_squad
    from retrieval.text.passages import make_passages

    texts, questions = [], []
    for lang in ("en", "ru"):
        evalset = load_squad(DATA / f"xquad.{lang}.dev.json")
        for doc in evalset.docs:
            texts.extend(_embed_text(doc.title, p.text) for p in make_passages(doc.text, lang, 60, 120))
        questions.extend(q.text for q in evalset.queries[: n_questions // 2])
    rng = np.random.default_rng(0)
    picked = rng.choice(len(texts), size=min(n_passages, len(texts)), replace=False)
    return [texts[i] for i in picked], questions[:n_questions]


def measure(backend: str, passages: list[str], questions: list[str]) -> dict[str, float | str]:
    from retrieval import load_settings
    from retrieval.embed import make_embedder

    embedder = make_embedder(load_settings(env={"CITEBOT_EMBEDDER": backend}).replace(threads=1))
    embedder.encode_queries(["warm up"])  # loads the model
    start = time.perf_counter()
    embedder.encode_passages(passages)
    passage_s = time.perf_counter() - start
    times = []
    for q in questions:
        t = time.perf_counter()
        embedder.encode_queries([q])
        times.append((time.perf_counter() - t) * 1000)
    return {"backend": backend, "model": embedder.name, "dim": embedder.dim,
            "passages_per_s": round(len(passages) / passage_s, 1),
            "query_ms_p50": round(float(np.percentile(times, 50)), 1),
            "query_ms_p95": round(float(np.percentile(times, 95)), 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.embedders", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embedders.json")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    passages, questions = sample(args.passages, args.questions)
    rows = [measure(b, passages, questions) for b in BACKENDS]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"passages": len(passages), "questions": len(questions),
                                    "load_avg": os.getloadavg()[0], "backends": rows}, indent=2))
    print(f"{'backend':<22} {'model':<26} {'dim':>4} {'passages/s':>11} {'query ms p50':>13} {'p95':>6}")
    for r in rows:
        print(f"{r['backend']:<22} {r['model']:<26} {r['dim']:>4} {r['passages_per_s']:>11} "
              f"{r['query_ms_p50']:>13} {r['query_ms_p95']:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
