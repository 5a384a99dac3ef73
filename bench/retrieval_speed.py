"""`make bench`: ingest and query speed on real news data, printed as a table and saved as JSON.

Measures, in one run:
1. raw ``SentenceTransformer.encode`` rate vs the ``citebot add`` ingest rate on the same passages
   (ratio = how much of the model's speed survives splitting, SQLite, FTS5 and faiss);
2. ``ask`` latency p50/p95 with one thread at ~10k and ~100k passages (Reuters-21578 + Telegram posts),
   each in a fresh process that also reports its RSS;
3. recall@10 of the IVF index (used above ``CITEBOT_ANN_THRESHOLD`` passages) against exact flat search
   at ~100k passages.

Embedding 100k passages would take over an hour on this CPU, so the 100k index gets real MiniLM
vectors for the passages already embedded (the 10k set, reused from the XQuAD eval indexes when present)
and, for the rest, synthetic vectors: a real passage vector plus Gaussian noise, renormalised (cosine
~0.85 to its source), which keeps the clustered shape of real embeddings. Texts, the lexical index,
question encoding and answer composition are all real. The JSON says which vectors were synthetic.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from bench.common import DATA, RESULTS, ROOT, log
from retrieval.storage import open_sqlite
from retrieval.eval import percentile  # the one definition (numpy's linear interpolation)

REUTERS_10K, TELEGRAM_10K = 1750, 3550  # documents giving ~5k passages each, as the XQuAD eval uses
SYNTHETIC_NOISE = 0.62  # |noise| relative to a unit vector: cosine to the source ~ 1/sqrt(1+0.62^2) = 0.85

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# --------------------------------------------------------------------------- helpers


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import faiss
    import torch

    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": mem_gb, "python": platform.python_version(),
            "torch": torch.__version__, "faiss": faiss.__version__, "load_avg_at_start": os.getloadavg()[0]}


def rss_mb() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            out[line.split(":")[0]] = round(int(line.split()[1]) / 1024, 1)
    return out


def time_asks(settings: Any, n_questions: int, search: bool = False) -> dict[str, Any]:
    """Runs in a fresh process, as `citebot ask` would: open the corpus, load the model and the index with a
    first question, then time ``ask`` (and, with ``search``, hybrid search first) on new questions."""
    from retrieval import Corpus

    start = time.perf_counter()
    corpus = Corpus(settings)
    qs = questions(n_questions + 2)
    corpus.ask(qs[0])
    open_s = time.perf_counter() - start
    search_ms, ask_ms = [], []
    for q in qs[2:]:
        if search:
            t = time.perf_counter()
            corpus.search(q, k=10)
            search_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        corpus.ask(q)
        ask_ms.append((time.perf_counter() - t) * 1000)
    passages = corpus.stats()["passages"]
    corpus.close()
    out: dict[str, Any] = {"passages": passages, "questions": len(ask_ms), "open_and_first_ask_s": round(open_s, 1)}
    if search:
        out.update(search_ms_p50=round(percentile(search_ms, 50), 1), search_ms_p95=round(percentile(search_ms, 95), 1))
    out.update(ask_ms_p50=round(percentile(ask_ms, 50), 1), ask_ms_p95=round(percentile(ask_ms, 95), 1),
               **{k.lower() + "_mb": v for k, v in rss_mb().items()})
    return out


def run_child_json(argv: list[str]) -> dict[str, Any]:
    """Run ``python -m ARGV`` from the repository root and read the JSON object its last line prints."""
    out = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"ask benchmark failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_settings(home: Path, **overrides: Any):
    from retrieval import load_settings

    return load_settings(env={}).replace(home=str(home), threads=1, **overrides)


def questions(n: int) -> list[str]:
    """Real questions, half English, half Russian (XQuAD), news-like enough for latency."""
    from retrieval.eval import load_squad

    en = [q.text for q in load_squad(DATA / "xquad" / "xquad.en.dev.json").queries]
    ru = [q.text for q in load_squad(DATA / "xquad" / "xquad.ru.dev.json").queries]
    rng = random.Random(1)
    picked = rng.sample(en, n // 2) + rng.sample(ru, n - n // 2)
    rng.shuffle(picked)
    return picked


def to_document(doc: Any):
    from retrieval import Document

    return Document(text=doc.text, title=doc.title, date=doc.date, source=doc.source, lang=doc.lang,
                    url=f"bench:{doc.key}", path=f"bench:{doc.key}")


# --------------------------------------------------------------------------- 1. ingest ratio


def measure_ingest(n_docs: int, embedder: Any) -> dict[str, Any]:
    """Same passages, two ways: `citebot add` of a JSONL file into a fresh index, and raw encode."""
    from retrieval import Corpus
    from retrieval.eval import load_reuters

    docs = [d for d in load_reuters(DATA / "reuters21578" / "reut2-021.sgm") if len(d.text.split()) > 60][:n_docs]
    model = embedder._load()
    with tempfile.TemporaryDirectory() as tmp:
        bulk = Path(tmp) / "stories.jsonl"
        bulk.write_text("\n".join(json.dumps({"title": d.title, "text": d.text, "date": d.date, "source": d.source})
                                  for d in docs), encoding="utf-8")
        corpus = Corpus.open(bench_settings(Path(tmp) / "index"), embedder=embedder)
        start = time.perf_counter()
        results = corpus.add_paths([bulk])
        ingest_s = time.perf_counter() - start
        added = [r for r in results if r.status == "added"]
        stored = corpus.store.documents.passages(corpus.store.documents.passage_ids().tolist())
        rows = [(r.title, r.text) for _, r in sorted(stored.items())]
        corpus.close()
    from retrieval.corpus.core import _embed_text

    texts = [_embed_text(title, text) for title, text in rows]
    start = time.perf_counter()
    model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                 show_progress_bar=False)
    raw_s = time.perf_counter() - start
    return {
        "documents": len(added), "passages": len(texts),
        "raw_encode_seconds": round(raw_s, 2), "raw_passages_per_s": round(len(texts) / raw_s, 2),
        "ingest_seconds": round(ingest_s, 2), "ingest_passages_per_s": round(len(texts) / ingest_s, 2),
        "ratio": round(raw_s / ingest_s, 3),
    }


# --------------------------------------------------------------------------- 2. scale indexes


class BenchEmbedder:
    """Real query encoding; passage vectors are synthetic (a real vector plus noise, renormalised),
    deterministic per text. Only passages missing from the embedding cache reach it."""

    def __init__(self, real: Any, pool: np.ndarray, noise: float = SYNTHETIC_NOISE) -> None:
        self.real, self.pool, self.noise = real, pool, noise
        self.name = real.name
        self.synthetic = 0

    @property
    def dim(self) -> int:
        return int(self.pool.shape[1])

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            v = self.pool[rng.integers(len(self.pool))] + rng.standard_normal(self.dim) * self.noise / np.sqrt(self.dim)
            out[i] = v / np.linalg.norm(v)
        self.synthetic += len(texts)
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.real.encode_queries(texts)


def seed_cache(store: Any, model: str, sources: Sequence[Path]) -> int:
    """Copy cached vectors of ``model`` from other citebot indexes (the XQuAD eval ones) into ``store``."""
    copied = 0
    for home in sources:
        if not (home / "citebot.sqlite3").exists():
            continue
        with open_sqlite(home) as src:
            rows = {e.text_hash: e.vector for e in all_embeddings(src) if e.model == model}
        if rows:
            store.embeddings.put(model, rows)
            copied += len(rows)
    return copied


def all_embeddings(store: Any) -> Iterator[Any]:
    after = ("", "")
    while True:
        rows = store.embeddings.export(after, limit=5000)
        if not rows:
            return
        yield from rows
        after = (rows[-1].model, rows[-1].text_hash)


def count_real(home: Path, sources: Sequence[Path], model: str) -> int:
    """Passages of ``home`` whose vector came from a real embedding (present in a source index)."""
    real: set[str] = set()
    for src in sources:
        if (src / "citebot.sqlite3").exists():
            with open_sqlite(src) as other:
                real.update(e.text_hash for e in all_embeddings(other) if e.model == model)
    with open_sqlite(home) as store:
        return sum(1 for r in store.documents.passages(store.documents.passage_ids().tolist()).values() if r.embed_hash in real)


def scale_documents() -> tuple[list[Any], list[Any]]:
    """(10k-set documents, the remaining documents in a fixed order) from Reuters + Telegram."""
    from retrieval.eval import load_distractors

    from retrieval.eval import load_beir

    reuters = load_distractors([DATA / "reuters21578"])
    telegram = load_distractors([DATA / "tg_news_ru" / "raw"])
    small = load_distractors([DATA / "reuters21578"], REUTERS_10K) + load_distractors([DATA / "tg_news_ru" / "raw"], TELEGRAM_10K)
    chosen = {d.key for d in small}
    rest = [d for d in reuters + telegram if d.key not in chosen]
    random.Random(2).shuffle(rest)
    # Reuters + Telegram hold ~86k passages; SciFact abstracts (real text, real cached vectors when the
    # SciFact eval index exists) take the index past 100k.
    sci = DATA / "scifact"
    scifact = load_beir(sci / "corpus.jsonl", sci / "queries.jsonl", sci / "qrels" / "train.tsv").docs
    return small, rest + [replace(d, key=f"scifact:{d.key}") for d in scifact]


def build_scale(home: Path, docs: list[Any], target: int | None, embedder: Any, log: Any) -> dict[str, Any]:
    """Add documents (in order) until the index holds ``target`` passages; reuses an existing index."""
    from retrieval import Corpus

    corpus = Corpus.open(bench_settings(home), embedder=embedder)
    present = {info.url for info in corpus.documents()}
    passages = corpus.store.counts().passages
    start = time.perf_counter()
    batch: list[Any] = []
    added = 0
    for doc in docs:
        if target is not None and passages >= target:
            break
        if f"bench:{doc.key}" in present:
            continue
        batch.append(to_document(doc))
        room = (target - passages) // 4 if target is not None else 2000  # ~4 passages per story: stop near target
        if len(batch) >= max(20, min(2000, room)):
            for r in corpus.add_documents(batch, force=True):
                passages += r.passages if r.status == "added" else 0
                added += r.status == "added"
            batch = []
            log(f"  {home.name}: {passages} passages ({time.perf_counter() - start:.0f}s)")
    if batch:
        for r in corpus.add_documents(batch, force=True):
            passages += r.passages if r.status == "added" else 0
            added += r.status == "added"
    corpus.store.vectors.sync(corpus.embedder.name)
    counts = corpus.store.counts()
    kind = corpus.store.vectors.dense(corpus.embedder.name).kind
    corpus.close()
    return {"passages": counts.passages, "documents": counts.documents, "index": kind,
            "build_seconds_this_run": round(time.perf_counter() - start, 1), "documents_added_this_run": added}


def child_ask(home: Path, n_questions: int, embedder: str = "sentence-transformers") -> dict[str, Any]:
    """Runs in a fresh process: open the index, warm up, time ``ask`` per question; RSS included."""
    import torch

    from retrieval import Corpus
    from retrieval.eval import forget_query_vectors

    torch.set_num_threads(1)
    corpus = Corpus.open(bench_settings(home, embedder=embedder))  # the backend the index was built with
    qs = questions(2 * n_questions + 3)
    # answer-sentence vectors are computed at ingest (they stay); questions must be new to the index
    forget_query_vectors(corpus, qs)
    start = time.perf_counter()
    for q in qs[:3]:  # model load, index load, first-query effects
        corpus.ask(q)
    warm_s = time.perf_counter() - start
    times, search_times, answered = [], [], 0
    # ask and search alternate (on different questions, each new to the index), so the load of a shared
    # machine drifts over both alike
    for q_ask, q_search in zip(qs[3::2], qs[4::2]):
        t = time.perf_counter()
        answer = corpus.ask(q_ask)
        times.append((time.perf_counter() - t) * 1000)
        answered += answer.answered
        t = time.perf_counter()
        corpus.search(q_search, k=corpus.settings.top_k)
        search_times.append((time.perf_counter() - t) * 1000)
    stats = corpus.store.counts()
    kind = corpus.store.vectors.dense(corpus.embedder.name).kind
    corpus.close()
    return {"passages": stats.passages, "index": kind, "questions": len(times), "answered": answered,
            "ask_ms_p50": round(percentile(times, 50), 1), "ask_ms_p95": round(percentile(times, 95), 1),
            "search_ms_p50": round(percentile(search_times, 50), 1),
            "search_ms_p95": round(percentile(search_times, 95), 1),
            "ask_search_p50_ratio": round(percentile(times, 50) / max(1e-9, percentile(search_times, 50)), 2),
            "open_and_warmup_s": round(warm_s, 1), **{k.lower() + "_mb": v for k, v in rss_mb().items()}}


def run_child(home: Path, n_questions: int, embedder: str = "sentence-transformers") -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.retrieval_speed", "--child-ask", str(home),
                          "--questions", str(n_questions), "--embedder", embedder],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"ask benchmark failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ivf_recall(home: Path, embedder: Any, n_queries: int) -> dict[str, Any]:
    """recall@10 of the index citebot built (IVF above the threshold) against exact inner product."""
    import faiss

    from retrieval import Corpus

    corpus = Corpus.open(bench_settings(home), embedder=embedder)
    corpus.store.vectors.sync(corpus.embedder.name)
    index = corpus.store.vectors.dense(corpus.embedder.name).index
    inner = faiss.downcast_index(index.index)
    batch = corpus.store.vectors.passage_vectors(corpus.embedder.name)
    ids, vectors = batch.ids, batch.vectors
    corpus.close()
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, ids)
    qv = embedder.encode_queries(questions(n_queries))
    t = time.perf_counter()
    _, approx = index.search(qv, 10)
    ivf_ms = (time.perf_counter() - t) * 1000 / len(qv)
    t = time.perf_counter()
    _, exact = flat.search(qv, 10)
    flat_ms = (time.perf_counter() - t) * 1000 / len(qv)
    recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx.tolist(), exact.tolist())]))
    sweep = []
    if isinstance(inner, faiss.IndexIVF):
        default = inner.nprobe
        for nprobe in sorted({default, 2 * default, 4 * default, 8 * default}):
            inner.nprobe = min(nprobe, inner.nlist)
            t = time.perf_counter()
            _, got = index.search(qv, 10)
            ms = (time.perf_counter() - t) * 1000 / len(qv)
            r = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(got.tolist(), exact.tolist())]))
            sweep.append({"nprobe": inner.nprobe, "recall@10": round(r, 4), "search_ms": round(ms, 2)})
        inner.nprobe = default
    return {"recall@10": round(recall, 4), "index": type(inner).__name__, "nlist": getattr(inner, "nlist", None),
            "nprobe": getattr(inner, "nprobe", None), "queries": len(qv),
            "ivf_search_ms": round(ivf_ms, 2), "flat_search_ms": round(flat_ms, 2), "nprobe_sweep": sweep}


# --------------------------------------------------------------------------- report


def table(res: dict[str, Any]) -> str:
    rows: list[tuple[str, str]] = []
    m = res["machine"]
    rows.append(("machine", f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM (load {m['load_avg_at_start']:.1f} at start)"))
    if "ingest" in res:
        i = res["ingest"]
        rows += [
            ("raw SentenceTransformer.encode", f"{i['raw_passages_per_s']:.1f} passages/s ({i['passages']} passages)"),
            ("citebot add (same passages)", f"{i['ingest_passages_per_s']:.1f} passages/s"),
            ("ingest / raw ratio", f"{i['ratio']:.2f}"),
        ]
    for label, key in (("10k", "ask_10k"), ("100k", "ask_100k")):
        if key in res:
            a = res[key]
            rows.append((f"ask latency @ {a['passages']:,} passages ({a['index']})",
                         f"p50 {a['ask_ms_p50']:.0f} ms, p95 {a['ask_ms_p95']:.0f} ms, 1 thread, {a['questions']} questions"))
            if "search_ms_p50" in a:
                rows.append((f"  of which search @ {a['passages']:,}",
                             f"p50 {a['search_ms_p50']:.0f} ms, p95 {a['search_ms_p95']:.0f} ms"))
                rows.append((f"  ask / search p50 @ {a['passages']:,}",
                             f"{a['ask_ms_p50'] / max(1e-9, a['search_ms_p50']):.2f} (goal <= 1.5)"))
            rows.append((f"RSS @ {a['passages']:,} passages", f"{a['vmrss_mb']:.0f} MB (peak {a['vmhwm_mb']:.0f} MB)"))
    if "build_100k" in res and "passages_with_real_vectors" in res["build_100k"]:
        b = res["build_100k"]
        rows.append(("100k vectors", f"{b['passages_with_real_vectors']:,} real, "
                                     f"{b['passages'] - b['passages_with_real_vectors']:,} synthetic"))
    if "ivf" in res:
        v = res["ivf"]
        rows.append(("IVF recall@10 vs flat @ 100k", f"{v['recall@10']:.4f} (nlist {v['nlist']}, nprobe {v['nprobe']}; "
                                                      f"{v['ivf_search_ms']:.2f} vs {v['flat_search_ms']:.2f} ms/query)"))
        for sw in v.get("nprobe_sweep", []):
            rows.append((f"  IVF with nprobe {sw['nprobe']}", f"recall@10 {sw['recall@10']:.4f}, {sw['search_ms']:.2f} ms/query"))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.retrieval_speed", description="citebot speed benchmark")
    parser.add_argument("--work", type=Path, default=RESULTS / "speed", help="where the scale indexes live (reused)")
    parser.add_argument("--out", type=Path, default=RESULTS / "speed.json")
    parser.add_argument("--ingest-docs", type=int, default=120, help="Reuters stories for the ingest ratio")
    parser.add_argument("--questions", type=int, default=100, help="questions timed per scale")
    parser.add_argument("--seed-from", type=Path, action="append", default=None,
                        help="citebot index dirs whose cached MiniLM vectors may be reused")
    parser.add_argument("--skip", action="append", default=[], choices=["ingest", "10k", "100k"])
    parser.add_argument("--embedder", default="use-multilingual",
                        help="backend of the scale indexes (CITEBOT_EMBEDDER values; default: the product's "
                             "default); the ingest ratio is always MiniLM")
    parser.add_argument("--child-ask", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_ask:
        print(json.dumps(child_ask(args.child_ask, args.questions, args.embedder)))
        return 0

    from retrieval.embed import SentenceTransformerEmbedder, make_embedder

    res: dict[str, Any] = {"machine": machine()}
    embedder = SentenceTransformerEmbedder(threads=1)
    embedder.encode_queries(["warm up"])
    if "ingest" not in args.skip:
        log("measuring raw encode vs citebot add ...")
        res["ingest"] = measure_ingest(args.ingest_docs, embedder)
    small, rest = scale_documents()
    seeds = args.seed_from or sorted(RESULTS.glob("idx/xquad-*-sentence-transformers"))
    home10, home100 = args.work / "10k", args.work / "100k"
    if args.embedder != "sentence-transformers":
        embedder = make_embedder(bench_settings(args.work, embedder=args.embedder))
        home10, home100 = args.work / f"10k-{args.embedder}", args.work / f"100k-{args.embedder}"
    if "10k" not in args.skip:
        store = open_sqlite(home10)
        res["seeded_vectors_10k"] = seed_cache(store, embedder.name, seeds)
        store.close()
        log(f"building ~10k passages (real vectors; {res['seeded_vectors_10k']} reused from {len(seeds)} eval indexes) ...")
        res["build_10k"] = build_scale(home10, small + rest, 10_000, embedder, log)
        log("timing ask at 10k ...")
        res["ask_10k"] = run_child(home10, args.questions, args.embedder)
    if "100k" not in args.skip:
        store = open_sqlite(home100)
        seeded = seed_cache(store, embedder.name, [home10, *sorted(RESULTS.glob("idx/scifact-minilm*"))])
        store.close()
        with open_sqlite(home10) as small_store:
            pool = small_store.vectors.passage_vectors(embedder.name).vectors
        if not len(pool):
            raise SystemExit("the 100k benchmark needs the 10k index first (its vectors seed the synthetic ones)")
        synthetic = BenchEmbedder(embedder, pool)
        log("building ~100k passages (real texts; vectors real where cached, else synthetic) ...")
        res["build_100k"] = build_scale(home100, small + rest, 100_000, synthetic, log)
        res["build_100k"]["real_vectors_seeded"] = seeded
        res["build_100k"]["synthetic_vectors_this_run"] = synthetic.synthetic
        res["build_100k"]["passages_with_real_vectors"] = count_real(home100, [home10, *sorted(RESULTS.glob("idx/scifact-minilm*"))], embedder.name)
        log("timing ask at 100k ...")
        res["ask_100k"] = run_child(home100, args.questions, args.embedder)
        log("IVF vs flat recall at 100k ...")
        res["ivf"] = ivf_recall(home100, synthetic, 200)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    print(table(res))
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
