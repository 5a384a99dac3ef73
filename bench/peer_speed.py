"""`python -m bench.peer_speed`: search CPU per question, citebot against txtai, same vectors, interleaved;
and `ask` against the sum of its parts.

Both systems index the same passages (Reuters + Telegram, cut by citebot's passage splitter) with the
same vectors (real USE multilingual vectors from bench/ann.py's cache; above what is cached, a cached
real vector plus Gaussian noise, renormalised: **synthetic**, counted in the JSON). citebot's store is
written through the storage interface (documents, passages, FTS5, cached vectors; the answer-sentence
vectors `ingest` would store are stored only for the passages the timed `ask` questions reach, since
embedding every sentence would take hours here); txtai gets ``Embeddings(hybrid=True, method="external")`` whose transform returns the same stored
vector for a passage and encodes a question with the same USE model. Each question is asked of both,
alternating which goes first, both encoding it (a new question each time for citebot: its in-memory
question cache is cleared). Reported per question: CPU time (``time.process_time``, the figure that
means something on a shared machine) and wall time, p50 and p95. Both sides encode with the same model,
so the same questions are also searched by both without encoding (each side given the question's
vector, each search right after an untimed encoding, which leaves the CPU caches as a real search finds
them): what each search engine itself costs.

Then, at the largest size, `ask` p50 beside its parts measured on the same questions in the same run:
encode (the question), ANN (dense candidates), lexical (BM25 candidates), fuse (exact cosines of the
lexical-only candidates, from memory), fetch (the top passages' rows) and compose (the extractive
answer).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bench.common import log, publish

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
NOISE = 0.62  # synthetic vectors: cosine ~0.85 to the real vector they are drawn around (bench/retrieval_speed.py)


def corpus_vectors(n: int, embedder: Any, real: int) -> tuple[list[tuple[Any, list[Any]]], np.ndarray, int]:
    """(documents with passages, one vector per passage, how many vectors are real)."""
    from bench.ann import real_passages, real_vectors

    docs = real_passages(n)
    count = sum(len(ps) for _, ps in docs)
    have = real_vectors(min(real, count), embedder)
    if count <= len(have):
        return docs, have[:count], count
    rng = np.random.default_rng(7)
    base = have[rng.integers(0, len(have), count - len(have))]
    noise = rng.standard_normal(base.shape).astype(np.float32)
    noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
    extra = base + noise
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return docs, np.concatenate([have, extra.astype(np.float32)]), len(have)


def build_citebot(home: Path | None, docs: list[tuple[Any, list[Any]]], vectors: np.ndarray, model: str,
                  store: Any = None) -> float:
    """Documents, passages, FTS5 and the passage vectors through the storage interface, into SQLite in
    ``home`` (or into ``store``, left open); seconds."""
    from bench.ann import embed_text
    from retrieval.storage import NewDocument, NewPassage, open_sqlite
    from retrieval.text.lexical import terms
    from retrieval.types import Document, text_hash

    start = time.perf_counter()
    own = store is None
    store = open_sqlite(home) if own else store
    row = 0
    for first in range(0, len(docs), 200):
        records, cache = [], {}
        for doc, passages in docs[first:first + 200]:
            ps = []
            for i, p in enumerate(passages):
                h = text_hash(embed_text(doc, p))
                cache[h] = vectors[row]
                row += 1
                ps.append(NewPassage(i, p.start, p.end, p.text, h, [tuple(s) for s in p.sentences], terms(p.text)))
            document = Document(doc.text, title=doc.title, date=doc.date, source=doc.source, lang=doc.lang,
                                url=f"bench:{doc.key}", path=f"bench:{doc.key}")
            records.append(NewDocument(document, content_hash=text_hash(doc.text), title_terms=terms(doc.title),
                                       passages=ps))
        store.embeddings.put(model, cache)
        with store.transaction() as tx:
            for record in records:
                tx.insert_document(record)
    store.vectors.sync(model)
    if own:
        store.close()
    return time.perf_counter() - start


def build_txtai(docs: list[tuple[Any, list[Any]]], vectors: np.ndarray, embedder: Any,
                given: dict[str, np.ndarray] | None = None) -> tuple[Any, float]:
    """txtai over the same passages and vectors; a question in ``given`` (filled by the caller) gets
    that vector instead of being encoded."""
    from txtai import Embeddings

    from bench.ann import embed_text

    texts = [embed_text(doc, p) for doc, passages in docs for p in passages]
    by_text = {t: vectors[i] for i, t in enumerate(texts)}
    given = given if given is not None else {}

    def transform(inputs: list[str]) -> np.ndarray:
        known = [by_text.get(t, given.get(t)) for t in inputs]
        todo = [t for t, v in zip(inputs, known) if v is None]
        encoded = iter(embedder.encode_queries(todo)) if todo else iter(())
        return np.stack([v if v is not None else next(encoded) for v in known]).astype(np.float32)

    embeddings = Embeddings(method="external", transform=transform, hybrid=True, content=False, backend="faiss")
    start = time.perf_counter()
    embeddings.index([(i + 1, t, None) for i, t in enumerate(texts)])
    return embeddings, time.perf_counter() - start


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000, out


def summary(values: list[float]) -> dict[str, float]:
    from retrieval.eval import percentile

    return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}


def interleaved(corpus: Any, txtai: Any, qs: list[str], given: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each question to both (alternating which goes first) and to the bare encoder; then to both again
    without encoding (citebot's question cache holds its vector, txtai's transform is ``given`` it),
    each of these right after an untimed encoding of the question."""
    rows: dict[str, list[float]] = {k: [] for k in ("citebot_cpu", "citebot_wall", "txtai_cpu", "txtai_wall",
                                                    "encode_cpu", "encode_wall", "citebot_engine_cpu",
                                                    "txtai_engine_cpu")}
    model = corpus.embedder
    for i, q in enumerate(qs):
        corpus.forget_question_vectors([q])
        runs = [("citebot", lambda: corpus.search(q, k=10)), ("txtai", lambda: txtai.search(q, 10)),
                ("encode", lambda: model.encode_queries([q]))]
        for name, fn in (runs if i % 2 == 0 else [runs[1], runs[0], runs[2]]):
            cpu, wall, out = timed(fn)
            rows[f"{name}_cpu"].append(cpu)
            rows[f"{name}_wall"].append(wall)
            if name == "encode":
                given[q] = out[0]  # citebot's cache already holds it, from its search above
        engines = [("citebot_engine", lambda: corpus.search(q, k=10)), ("txtai_engine", lambda: txtai.search(q, 10))]
        for name, fn in (engines if i % 2 == 0 else engines[::-1]):
            model.encode_queries([q])
            rows[f"{name}_cpu"].append(timed(fn)[0])
        given.pop(q)
    return {k: summary(v) for k, v in rows.items()}


PARTS = ("encode", "ann", "lexical", "fuse", "fetch", "compose")


def ask_parts(corpus: Any, qs: list[str]) -> dict[str, Any]:
    """``ask`` on each question (question cache cleared first) and each of its parts on the same one, the
    ``ask`` first on every other question and last on the others.
    CPU time (this process) at the top level; wall time under ``wall`` (what counts when a server does
    part of the work, as PostgreSQL does)."""
    from retrieval import answer as answer_mod
    from retrieval.search import Retrieval
    from retrieval.text.lexical import query_terms

    store, model = corpus.store, corpus.embedder.name
    k = corpus.settings.top_k
    depth = corpus.answer_depth(k)  # the ranked passages an answer citing k is given (as ask does)
    cpu_rows: dict[str, list[float]] = {k_: [] for k_ in ("ask", *PARTS)}
    wall_rows: dict[str, list[float]] = {k_: [] for k_ in ("ask", *PARTS)}

    def part(name: str, fn: Callable[[], Any]) -> Any:
        cpu, wall, out = timed(fn)
        cpu_rows[name].append(cpu)
        wall_rows[name].append(wall)
        return out

    for q in qs:  # the sentences it may quote get their vectors stored first, as ingest stores them
        for hit in corpus.search(q, k=depth):
            row = store.documents.passages([hit.passage_id])[hit.passage_id]
            corpus.encoder.passages(answer_mod.sentence_texts(row.text, row.start, row.sentences))

    def parts_of(q: str) -> None:
        v = part("encode", lambda: corpus.embedder.encode_queries([q])[0])
        dense = part("ann", lambda: store.vectors.search(model, v, 100))
        lexical = part("lexical", lambda: store.lexical.search(query_terms(q), 100))
        have = {h.passage_id for h in dense}
        missing = [h.passage_id for h in lexical if h.passage_id not in have]
        if hasattr(store.vectors, "scores"):
            part("fuse", lambda: store.vectors.scores(model, v, missing))
        else:  # a release before fusion from memory (bench it against its own code)
            part("fuse", lambda: store.vectors.passage_vectors(model, missing))
        hits = corpus.search(q, k=depth)
        passages = part("fetch", lambda: store.documents.passages([h.passage_id for h in hits]))
        found = Retrieval(q, v)
        for h in hits:
            row = passages.get(h.passage_id)
            found.add(h, row.sentences if row else [], row.page_starts if row else [])
        part("compose", lambda: answer_mod.compose(found, corpus.encoder, corpus.min_score, cite=k))

    for i, q in enumerate(qs):  # which goes first alternates: a server's caches favour the second
        corpus.forget_question_vectors([q])
        if i % 2:
            parts_of(q)
            corpus.forget_question_vectors([q])
        part("ask", lambda: corpus.ask(q))
        if not i % 2:
            parts_of(q)
    out: dict[str, Any] = {name: summary(values) for name, values in cpu_rows.items()}
    parts = sum(out[p]["p50"] for p in PARTS)
    out["sum_of_parts_p50"] = round(parts, 2)
    out["ask_over_parts"] = round(out["ask"]["p50"] / parts, 2)
    wall: dict[str, Any] = {name: summary(values) for name, values in wall_rows.items()}
    wall["sum_of_parts_p50"] = round(sum(wall[p]["p50"] for p in PARTS), 2)
    wall["ask_over_parts"] = round(wall["ask"]["p50"] / max(1e-9, wall["sum_of_parts_p50"]), 2)
    out["wall"] = wall
    return out


def table(res: dict[str, Any]) -> str:
    lines = [f"Machine: {res['machine']}; load average {res['load_avg_start']:.1f} at start, "
             f"{res['load_avg_end']:.1f} at the end.", "",
             "| passages (real vectors) | index | citebot search CPU ms p50/p95 | txtai search CPU ms p50/p95 | "
             "citebot / txtai CPU p50 | question encoding CPU ms p50 | citebot wall p50 | txtai wall p50 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["sizes"]:
        s = r["search"]
        lines.append(f"| {r['passages']:,} ({r['real_vectors']:,}) | {r['index']} | {s['citebot_cpu']['p50']}/{s['citebot_cpu']['p95']} | "
                     f"{s['txtai_cpu']['p50']}/{s['txtai_cpu']['p95']} | "
                     f"{s['citebot_cpu']['p50'] / max(1e-9, s['txtai_cpu']['p50']):.2f} | {s['encode_cpu']['p50']} | "
                     f"{s['citebot_wall']['p50']} | {s['txtai_wall']['p50']} |")
    lines += ["", "The same questions without encoding (the question's vector given to both; the search engines "
              "alone):", "", "| passages | citebot CPU ms p50/p95 | txtai CPU ms p50/p95 | citebot / txtai CPU p50 |",
              "|---|---|---|---|"]
    for r in res["sizes"]:
        s = r["search"]
        if "citebot_engine_cpu" in s:
            c, t = s["citebot_engine_cpu"], s["txtai_engine_cpu"]
            lines.append(f"| {r['passages']:,} | {c['p50']}/{c['p95']} | {t['p50']}/{t['p95']} | "
                         f"{c['p50'] / max(1e-9, t['p50']):.2f} |")
    parts = res["sizes"][-1].get("ask_parts")
    if parts:
        lines += ["", f"`ask` at {res['sizes'][-1]['passages']:,} passages, CPU ms p50 (same questions, same run):", "",
                  "| ask | encode | ANN | lexical | fuse | fetch | compose | sum of parts | ask / sum |",
                  "|---|---|---|---|---|---|---|---|---|",
                  "| " + " | ".join(str(parts[p]["p50"]) for p in ("ask", "encode", "ann", "lexical", "fuse", "fetch", "compose"))
                  + f" | {parts['sum_of_parts_p50']} | {parts['ask_over_parts']} |"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import faiss
    import torch

    from bench.retrieval_speed import machine, questions
    from retrieval import Corpus, load_settings
    from retrieval.embed import make_embedder

    parser = argparse.ArgumentParser(prog="python -m bench.peer_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--ask-queries", type=int, default=100)
    parser.add_argument("--real", type=int, default=30000, help="real vectors to use at most (bench/ann.py's cache)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    res: dict[str, Any] = {"machine": machine(), "load_avg_start": os.getloadavg()[0], "sizes": []}
    settings0 = load_settings(env={}).replace(threads=1)
    embedder = make_embedder(settings0)
    qs = questions(args.queries + args.ask_queries)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            log(f"{n} passages: vectors ...")
            docs, vectors, real = corpus_vectors(n, embedder, args.real)
            home = Path(tmp) / str(n)
            log(f"  citebot store ...")
            built = build_citebot(home, docs, vectors, embedder.name)
            log(f"  txtai ({built:.0f} s for citebot) ...")
            given: dict[str, np.ndarray] = {}
            txtai, txtai_s = build_txtai(docs, vectors, embedder, given)
            corpus = Corpus.open(settings0.replace(home=str(home)), embedder=embedder)
            for q in qs[:3]:  # warm up both
                corpus.search(q, k=10)
                txtai.search(q, 10)
            started = time.process_time()  # a serving process has its in-memory lexical copy (docs/speed.md)
            copy = corpus.store.lexical.warm()
            copy_s = time.process_time() - started
            kind = corpus.store.vectors.dense(embedder.name).kind
            log(f"  interleaved search ({kind}) ...")
            row = {"passages": len(vectors), "real_vectors": real, "index": kind, "citebot_build_s": round(built, 1),
                   "txtai_build_s": round(txtai_s, 1), "lexical_copy": copy, "lexical_copy_build_cpu_s": round(copy_s, 2),
                   "search": interleaved(corpus, txtai, qs[3:args.queries], given)}
            del txtai
            if n == sizes[-1] and args.ask_queries:
                log("  ask and its parts ...")
                row["ask_parts"] = ask_parts(corpus, qs[args.queries:])
            corpus.close()
            res["sizes"].append(row)
            log(f"  {row}")
    res["load_avg_end"] = os.getloadavg()[0]
    publish("peer_speed", res, table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
