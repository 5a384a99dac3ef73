"""`python -m bench.million --engine postgresql|sqlite --passages 1000000`: one engine at a million passages.

Not part of the default `make bench` (a run takes from minutes to an hour): `make bench BENCH=million`
runs it on both engines, or run this module alone.

The corpus: the real passages of Reuters-21578 and the Telegram posts (about 86,000, cut by citebot's
passage splitter, so FTS5 / the PostgreSQL postings see real English and Russian text), repeated until
the corpus holds ``--passages``: in copy ``r`` > 0 of a document a quarter of its words are replaced by
other words of the corpus of the same length and script (so every offset of its passages and sentences
still holds) and its title gets `` (r)``. A copy is then its own story to the near-duplicate test (5-word
shingles: Jaccard ~0.1 to the original, under the 0.5 that `add` refuses), as a real corpus's documents
are: the answer's version and corroboration steps see distinct stories, not a dozen identical ones.
**Vectors are synthetic except a few**:
the first ``--real`` passages of the first copy carry their real USE vectors (bench/ann.py's cache,
embedded once), every other passage a real vector plus Gaussian noise, renormalised (cosine ~0.85 to it),
the vector of the same passage where one is real, as bench/peer_speed.py does at 100k. The JSON counts
the real and synthetic vectors.

Measured: the bulk load through the storage interface (documents, passages, lexical entries and vectors
in transactions of ``DOCS_PER_WRITE`` documents, as ``add`` commits them: crash-safe per batch), the
vector index build after it (SQLite: the faiss file; PostgreSQL: the HNSW graph, built concurrently), an
incremental load with the index in place; then, in a fresh process as `citebot ask` runs, real XQuAD
questions (English and Russian) asked one by one: `ask` p50/p95 (CPU of the process and wall) and the sum
of its parts on the same questions (encode, ANN, lexical, fuse, fetch, compose: bench/peer_speed.py's
``ask_parts``); RSS of the client (VmRSS, VmHWM) and of the server (PostgreSQL: every server process,
RSS summed and PSS summed, since shared buffers count in each process's RSS); size on disk; the load
average at every stage. PostgreSQL is tests/fakes/postgres.py's embedded server (18 + pgvector, durable:
fsync on), on a Unix socket. On PostgreSQL the server does the ANN and lexical work, so the client's CPU
time leaves it out: compare wall times there.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bench.common import exit_on_sigterm, log, publish

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DOCS_PER_WRITE = 500  # documents per transaction (~1,500 passages)
INCREMENTAL_PASSAGES = 3_000  # written after the index exists
NOISE = 0.62  # synthetic vectors: cosine ~0.85 to the real vector they are drawn around
SWAPPED = 0.25  # share of a copy's words replaced (same length, same script)
WORD = re.compile(r"(\w+)")
SERVER_SETTINGS = {"shared_buffers": "1GB", "maintenance_work_mem": "1GB", "max_wal_size": "4GB"}


@dataclass
class BaseDoc:
    """One real document with its passages and their stemmed terms (computed once for the first copy),
    and its text cut into alternating non-word / word parts (for the copies' word swaps)."""

    doc: Any
    passages: list[Any]
    terms: list[list[str]]
    parts: list[str]


def base_corpus() -> list[BaseDoc]:
    """Reuters + Telegram documents with passages, in bench/ann.py's order (its cached vectors line up)."""
    from bench.retrieval_speed import scale_documents
    from retrieval.text.lexical import terms
    from retrieval.text.passages import make_passages

    small, rest = scale_documents()
    out = []
    for doc in small + rest:
        if doc.key.startswith("scifact:"):
            continue
        passages = make_passages(doc.text, doc.lang)
        if passages:
            out.append(BaseDoc(doc, passages, [terms(p.text) for p in passages], WORD.split(doc.text)))
    return out


def _cyrillic(word: str) -> bool:
    return "\u0400" <= word[0] <= "\u04ff"


def word_pools(base: list[BaseDoc]) -> dict[tuple[bool, int], list[str]]:
    """Words (letters only) of the corpus by (Cyrillic, length), each as often as it is used (a quarter of
    the documents)."""
    pools: dict[tuple[bool, int], list[str]] = {}
    for item in base[::4]:
        for word in item.parts[1::2]:
            if word.isalpha():
                pools.setdefault((_cyrillic(word), len(word)), []).append(word)
    return pools


def varied(parts: list[str], pools: dict[tuple[bool, int], list[str]], rng: np.random.Generator) -> str:
    """The text with ``SWAPPED`` of its words replaced by corpus words of the same length and script
    (numbers are kept)."""
    out = list(parts)
    words = parts[1::2]
    chosen = np.flatnonzero(rng.random(len(words)) < SWAPPED)
    for i, r in zip(chosen.tolist(), rng.random(len(chosen)).tolist()):
        word = words[i]
        pool = pools.get((_cyrillic(word), len(word))) if word.isalpha() else None  # numbers stay
        if pool:
            new = pool[int(r * len(pool))]
            if word[0].isupper():
                upper = new[0].upper() + new[1:]
                new = upper if len(upper) == len(new) else new
            out[2 * i + 1] = new
    return "".join(out)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class Corpus1M:
    """Copies of the base corpus as storage records, with real or synthetic vectors (deterministic)."""

    def __init__(self, base: list[BaseDoc], real: np.ndarray) -> None:
        self.base = base
        self.real = real
        self.base_passages = sum(len(b.passages) for b in base)
        starts = np.cumsum([0] + [len(b.passages) for b in base])
        self.first_passage = starts[:-1]  # index of each base document's first passage
        self.real_vectors = 0
        self.synthetic_vectors = 0
        self.pools = word_pools(base)

    def records(self, copy: int, first: int, last: int, room: int) -> tuple[list[Any], dict[str, np.ndarray], int]:
        """Base documents ``first``..``last``-1 of copy ``copy``, at most ``room`` passages: (records,
        vectors by text hash, passages)."""
        from retrieval.storage import NewDocument, NewPassage
        from retrieval.text.lexical import terms
        from retrieval.types import Document, text_hash

        rng = np.random.default_rng(copy * 1_000_003 + first)
        records, cache, count = [], {}, 0
        n_real = len(self.real)
        for b in range(first, last):
            item = self.base[b]
            doc = item.doc
            title = doc.title if copy == 0 else f"{doc.title} ({copy})".strip()
            passages = item.passages[:room - count]
            if not passages:
                break
            index = self.first_passage[b] + np.arange(len(passages))
            vectors = self.real[index % n_real]
            synthetic = (index >= n_real) | (copy > 0)
            if synthetic.any():
                noise = rng.standard_normal((int(synthetic.sum()), vectors.shape[1])).astype(np.float32)
                noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
                vectors = vectors.copy()
                vectors[synthetic] = _unit(vectors[synthetic] + noise)
            self.synthetic_vectors += int(synthetic.sum())
            self.real_vectors += int((~synthetic).sum())
            text = doc.text if copy == 0 else varied(item.parts, self.pools, rng)
            if len(text) != len(doc.text):  # pragma: no cover - the swaps keep every length
                text = doc.text
            ps = []
            for i, p in enumerate(passages):
                passage_text = text[p.start:p.end]
                h = text_hash(f"{title}\n{passage_text}" if title else passage_text)
                cache[h] = vectors[i]
                ps.append(NewPassage(p.ordinal, p.start, p.end, passage_text, h, [tuple(s) for s in p.sentences],
                                     item.terms[i] if copy == 0 else terms(passage_text)))
            key = f"bench:{doc.key}" if copy == 0 else f"bench:{doc.key}:{copy}"
            document = Document(text, title=title, date=doc.date, source=doc.source, lang=doc.lang, url=key, path=key)
            records.append(NewDocument(document, content_hash=text_hash(f"{copy}\n{text}"),
                                       title_terms=terms(title), passages=ps))
            count += len(ps)
        return records, cache, count

    def write(self, store: Any, model: str, start: int, target: int, report: Callable[[int, float, float], None]) -> dict[str, float]:
        """Write passages ``start``..``target`` (in copy order) through the storage interface."""
        copy, b, done = divmod(start, self.base_passages)[0], 0, start
        skip = start - copy * self.base_passages
        while skip > 0 and b < len(self.base):  # the base documents already written in this copy
            skip -= len(self.base[b].passages)
            b += 1
        prepare_s = store_s = 0.0
        next_report = (done // 50_000 + 1) * 50_000
        while done < target:
            t = time.perf_counter()
            last = min(len(self.base), b + DOCS_PER_WRITE)
            records, cache, count = self.records(copy, b, last, target - done)
            t2 = time.perf_counter()
            store.embeddings.put(model, cache)
            with store.transaction() as tx:
                for record in records:
                    tx.insert_document(record)
            t3 = time.perf_counter()
            prepare_s += t2 - t
            store_s += t3 - t2
            done += count
            b = last
            if b >= len(self.base):
                copy, b = copy + 1, 0
            if done >= next_report or done >= target:
                report(done, prepare_s, store_s)
                next_report += 50_000
        return {"prepare_s": round(prepare_s, 1), "store_s": round(store_s, 1)}


# -- measurements of processes and files ----------------------------------------------------------------
def _status_kb(pid: int, keys: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in keys:
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_memory(postmaster: int) -> dict[str, Any]:
    """RSS and PSS summed over the PostgreSQL server's processes (the postmaster and its children)."""
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            pids.append(int(stat.parent.name))
    rss = sum(_status_kb(p, ("VmRSS",)).get("VmRSS", 0) for p in pids)
    return {"processes": len(pids), "rss_sum_mb": round(rss / 1024, 1),
            "pss_sum_mb": round(sum(_pss_kb(p) for p in pids) / 1024, 1)}


def du_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# -- the `ask` process --------------------------------------------------------------------------------
def child_ask(home: Path, url: str, n_questions: int, postmaster: int | None) -> dict[str, Any]:
    """In a fresh process, as `citebot ask` runs: open the corpus, warm up, then ``ask`` and its parts."""
    import faiss
    import torch

    from bench.peer_speed import ask_parts, summary, timed
    from bench.retrieval_speed import bench_settings, questions
    from retrieval import Corpus

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    t = time.perf_counter()
    corpus = Corpus.open(bench_settings(home, database_url=url))
    qs = questions(n_questions + 3)
    for q in qs[:3]:
        corpus.ask(q)
    out: dict[str, Any] = {"open_and_warm_up_s": round(time.perf_counter() - t, 1)}
    # as a server runs (Corpus.warm): the in-memory lexical copy built before the questions (docs/speed.md)
    rss_before = _status_kb(os.getpid(), ("VmRSS",)).get("VmRSS", 0)
    t, c = time.perf_counter(), time.process_time()
    out["lexical_copy"] = corpus.store.lexical.warm()
    out["lexical_copy_build_s"] = {"wall": round(time.perf_counter() - t, 1), "cpu": round(time.process_time() - c, 1)}
    out["lexical_copy_rss_mb"] = round((_status_kb(os.getpid(), ("VmRSS",)).get("VmRSS", 0) - rss_before) / 1024, 1)
    out["load_avg_before"] = load_average()
    out["parts"] = ask_parts(corpus, qs[3:])
    out["questions"] = len(qs) - 3
    corpus.settings = corpus.settings.replace(time_features=False)  # what the time layer adds to `ask`
    cpu, wall = [], []
    for q in qs[3:]:
        corpus.forget_question_vectors([q])
        c, w, _ = timed(lambda: corpus.ask(q))
        cpu.append(c)
        wall.append(w)
    out["ask_without_time_layer"] = {"cpu": summary(cpu), "wall": summary(wall)}
    out["load_avg_after"] = load_average()
    status = _status_kb(os.getpid(), ("VmRSS", "VmHWM"))
    out["client_rss_mb"] = round(status.get("VmRSS", 0) / 1024, 1)
    out["client_peak_rss_mb"] = round(status.get("VmHWM", 0) / 1024, 1)
    if postmaster:
        out["server"] = server_memory(postmaster)  # while this client's connections are still open
    corpus.close()
    return out


def run_child(home: Path, url: str, n_questions: int, postmaster: int | None) -> dict[str, Any]:
    from bench.retrieval_speed import run_child_json

    argv = ["bench.million", "--child-ask", str(home), "--url", url, "--questions", str(n_questions)]
    if postmaster:
        argv += ["--postmaster", str(postmaster)]
    return run_child_json(argv)


# -- one run ------------------------------------------------------------------------------------------
def run(engine: str, passages: int, n_real: int, n_questions: int, log: Callable[[str], None],
        ask: bool = True) -> dict[str, Any]:
    from bench.ann import real_vectors
    from bench.retrieval_speed import bench_settings, machine
    from retrieval.embed import make_embedder

    res: dict[str, Any] = {"engine": engine, "machine": machine(), "target_passages": passages,
                           "load_avg": {"start": load_average()}}
    t = time.perf_counter()
    base = base_corpus()
    embedder = make_embedder(bench_settings(Path(tempfile.gettempdir())))
    corpus = Corpus1M(base, real_vectors(min(n_real, sum(len(b.passages) for b in base)), embedder))
    model = embedder.name
    res.update(model=model, dim=embedder.dim, base_documents=len(base), base_passages=corpus.base_passages,
               corpus_prepare_s=round(time.perf_counter() - t, 1))
    log(f"{engine}: {corpus.base_passages:,} real passages of {len(base):,} documents, {len(corpus.real):,} real "
        f"vectors ({res['corpus_prepare_s']} s); loading {passages:,} passages ...")
    server = None
    home = Path(tempfile.mkdtemp(prefix=f"citebot-million-{engine}-"))
    url = ""
    try:
        if engine == "postgresql":
            from tests.fakes import postgres as embedded

            server = embedded.start(SERVER_SETTINGS, durable=True)
            url = server.create_database("million")
        store = open_store(engine, home, url)
        started = time.perf_counter()

        def report(done: int, prepare_s: float, store_s: float) -> None:
            wall = time.perf_counter() - started
            log(f"  {done:,} passages, {wall:.0f} s ({done / wall:.0f} passages/s; storage {store_s:.0f} s, "
                f"preparing {prepare_s:.0f} s), load average {load_average()}")

        split = corpus.write(store, model, 0, passages, report)
        load_s = time.perf_counter() - started
        res["load_avg"]["after_load"] = load_average()
        t = time.perf_counter()
        store.vectors.sync(model)
        index_s = time.perf_counter() - t
        res["load_avg"]["after_index"] = load_average()
        log(f"  loaded in {load_s:.0f} s, vector index {index_s:.0f} s")
        t = time.perf_counter()
        incr = corpus.write(store, model, passages, passages + INCREMENTAL_PASSAGES, lambda *a: None)
        store.vectors.sync(model)
        incr_s = time.perf_counter() - t
        counts = store.counts()
        res["bulk"] = {"passages": passages, "documents": counts.documents, "load_s": round(load_s, 1),
                       "passages_per_s": round(passages / load_s), **split,
                       "storage_passages_per_s": round(passages / max(1e-9, split["store_s"])),
                       "index_build_s": round(index_s, 1), "index": index_kind(store, model)}
        res["incremental"] = {"passages": INCREMENTAL_PASSAGES, "s": round(incr_s, 1),
                              "passages_per_s": round(INCREMENTAL_PASSAGES / incr_s), **incr}
        res["vectors"] = {"real": corpus.real_vectors, "synthetic": corpus.synthetic_vectors,
                          "note": "SYNTHETIC: real USE vectors plus noise (cosine ~0.85) except the real ones"}
        res["passages"] = counts.passages
        store.close()
        if server is not None:
            res["disk_mb"] = {"data_dir_with_wal": du_mb(server.data_dir), "database": database_mb(url)}
        else:
            res["disk_mb"] = {"home": du_mb(home)}
        if not ask:
            return res
        log(f"  asking {n_questions} questions in a fresh process ...")
        postmaster = server_pid(server) if server is not None else None
        res["ask"] = run_child(home, url, n_questions, postmaster)
        if server is not None:
            res["server_idle"] = server_memory(postmaster)
        res["load_avg"]["end"] = load_average()
        return res
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


def open_store(engine: str, home: Path, url: str) -> Any:
    from retrieval.storage import open_postgres, open_sqlite

    return open_postgres(url) if engine == "postgresql" else open_sqlite(home)


def index_kind(store: Any, model: str) -> str:
    if store.engine == "postgresql":
        return "pgvector HNSW (halfvec)"
    return store.vectors.dense(model).kind


def database_mb(url: str) -> float:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return round(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20, 1)


def server_pid(server: Any) -> int:
    return int((server.data_dir / "postmaster.pid").read_text().splitlines()[0])


def table(runs: list[dict[str, Any]]) -> str:
    lines = ["| engine | passages (real vectors) | bulk load s in storage (passages/s) | index build s | incremental passages/s | "
             "`ask` wall ms p50/p95 | `ask` CPU ms p50/p95 | sum of parts wall / CPU ms | ask / sum wall / CPU | "
             "client RSS / peak MB | server RSS sum / PSS sum MB | disk MB | load average |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        b, a = r["bulk"], r["ask"]
        p, w = a["parts"], a["parts"]["wall"]
        server = a.get("server")
        disk = r["disk_mb"]
        lines.append(
            f"| {r['engine']} ({b['index']}) | {r['passages']:,} ({r['vectors']['real']:,}) | {b['store_s']:.0f} "
            f"({b['storage_passages_per_s']}) | {b['index_build_s']} | {r['incremental']['passages_per_s']} | "
            f"{w['ask']['p50']}/{w['ask']['p95']} | {p['ask']['p50']}/{p['ask']['p95']} | "
            f"{w['sum_of_parts_p50']} / {p['sum_of_parts_p50']} | {w['ask_over_parts']} / {p['ask_over_parts']} | "
            f"{a['client_rss_mb']} / {a['client_peak_rss_mb']} | "
            f"{(str(server['rss_sum_mb']) + ' / ' + str(server['pss_sum_mb'])) if server else '-'} | "
            f"{' + '.join(f'{k} {v}' for k, v in disk.items())} | "
            f"{r['load_avg']['start']} → {r['load_avg']['end']} |")
    parts = ["", "Parts of `ask`, wall ms p50 (CPU ms p50): "]
    for r in runs:
        p, w = r["ask"]["parts"], r["ask"]["parts"]["wall"]
        parts.append(f"- {r['engine']}: " + ", ".join(f"{k} {w[k]['p50']} ({p[k]['p50']})" for k in
                                                     ("encode", "ann", "lexical", "fuse", "fetch", "compose")))
        plain = r["ask"].get("ask_without_time_layer")
        if plain:
            parts.append(f"  `ask` with CITEBOT_TIME_FEATURES off: wall p50/p95 {plain['wall']['p50']}/{plain['wall']['p95']}, "
                         f"CPU {plain['cpu']['p50']}/{plain['cpu']['p95']}")
    return "\n".join(lines + parts)


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.million", description=__doc__.splitlines()[0])
    parser.add_argument("--engine", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--real", type=int, default=20_000, help="passages with their real USE vector (cached)")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--no-ask", action="store_true", help="measure the load only")
    parser.add_argument("--child-ask", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--postmaster", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ask:
        print(json.dumps(child_ask(args.child_ask, args.url, args.questions, args.postmaster)))
        return 0
    runs = []
    for engine in args.engine:
        result = run(engine, args.passages, args.real, args.questions, log, ask=not args.no_ask)
        log(json.dumps(result))
        runs.append(result)
    name = "million" + (f"-{args.engine[0]}" if len(args.engine) == 1 else "") + \
        ("" if args.passages == 1_000_000 else f"-{args.passages}")
    if args.no_ask:
        publish(name + "-load", {"runs": runs}, "\n".join(f"{r['engine']}: {r['bulk']}" for r in runs))
    else:
        publish(name, {"runs": runs}, table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
