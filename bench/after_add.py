"""`python -m bench.after_add`: what the first question after an add costs in a process that keeps asking
(the bot, `citebot serve`), against the same question with nothing added.

In a live corpus every sync adds documents, and whatever a process caches per store generation is
brought up to date by the next question. This measures that question: the store of bench.peer_speed
(Reuters + Telegram passages with real USE vectors from bench/ann.py's cache), opened as a server opens
it (the in-memory lexical copy warmed), then rounds of: add one document through `Corpus.add_documents`
(the real model embeds it), ask a plain question, add another, ask a question naming a time ("the
latest ..."), then ask both again with nothing added. Wall and CPU ms per `ask`, p50 and the range.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from bench.common import log, publish

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUESTIONS = {"plain": "Why did wheat exports slow down?", "time": "What is the latest on wheat exports?"}


def _timed(fn: Any) -> tuple[float, float]:
    """(wall, CPU) ms of one call, by bench.peer_speed's timer."""
    from bench.peer_speed import timed

    cpu, wall, _ = timed(fn)
    return wall, cpu


def _row(values: list[float]) -> dict[str, float]:
    from retrieval.eval import percentile

    return {"p50": round(percentile(values, 50), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def measure(corpus: Any, rounds: int) -> dict[str, Any]:
    from retrieval import Document

    for q in QUESTIONS.values():  # the caches a serving process has
        corpus.ask(q)
    got: dict[str, list[tuple[float, float]]] = {f"{kind}_{when}": [] for kind in QUESTIONS
                                                 for when in ("after_add", "nothing_added")}
    for i in range(rounds):
        for kind, question in QUESTIONS.items():
            doc = Document(f"Wheat exports slowed again in week {i} ({kind}) as rains delayed loading at the ports "
                           f"and the harbour authority cut night shifts.", title=f"Wheat, week {i} ({kind})",
                           date="1987-10-20", source="Reuters")
            assert [r.status for r in corpus.add_documents([doc], force=True)] == ["added"]
            got[f"{kind}_after_add"].append(_timed(lambda: corpus.ask(question)))
        for kind, question in QUESTIONS.items():
            got[f"{kind}_nothing_added"].append(_timed(lambda: corpus.ask(question)))
    return {name: {"wall": _row([w for w, _ in values]), "cpu": _row([c for _, c in values])}
            for name, values in got.items()}


def table(res: dict[str, Any]) -> str:
    lines = [f"{res['passages']:,} passages, {res['documents']:,} documents; {res['rounds']} rounds; load average "
             f"{res['load_avg_start']:.1f} -> {res['load_avg_end']:.1f}", "",
             "| question | right after adding one document: wall ms p50 (min-max) | CPU p50 | nothing added: wall p50 (min-max) | CPU p50 |",
             "|---|---|---|---|---|"]
    for kind, question in QUESTIONS.items():
        a, n = res["asks"][f"{kind}_after_add"], res["asks"][f"{kind}_nothing_added"]
        lines.append(f"| {question} | {a['wall']['p50']} ({a['wall']['min']}-{a['wall']['max']}) | {a['cpu']['p50']} | "
                     f"{n['wall']['p50']} ({n['wall']['min']}-{n['wall']['max']}) | {n['cpu']['p50']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import faiss
    import torch

    from bench.peer_speed import build_citebot, corpus_vectors
    from retrieval import Corpus, load_settings
    from retrieval.embed import make_embedder

    parser = argparse.ArgumentParser(prog="python -m bench.after_add", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    settings = load_settings(env={}).replace(threads=1)
    embedder = make_embedder(settings)
    res: dict[str, Any] = {"load_avg_start": os.getloadavg()[0], "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as tmp:
        log(f"{args.passages} passages: vectors and store ...")
        docs, vectors, real = corpus_vectors(args.passages, embedder, args.passages)
        build_citebot(Path(tmp), docs, vectors, embedder.name)
        with Corpus.open(settings.replace(home=tmp), embedder=embedder) as corpus:
            corpus.store.lexical.warm()
            res.update(passages=len(vectors), real_vectors=real, documents=len(corpus.documents()))
            log("  asking ...")
            res["asks"] = measure(corpus, args.rounds)
    res["load_avg_end"] = os.getloadavg()[0]
    publish("after_add", res, table(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
