"""What the cross-script word bridge costs an `ask`: the same questions asked with and without it,
interleaved one by one in one process (CPU ms per ask, p50/p95), cold (a fresh process: every word of
the candidate sentences embedded once) and warm (the in-memory word LRU filled by earlier questions).

The bridge only runs for a question in another script than its passages, so the ru→en pair is the one
measured; en→en and ru→ru asks do not reach it (their figures are printed as the control).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.answer_quality import RESULTS, build_index, load_questions


def cpu_ms(fn: Any) -> float:
    started = time.thread_time()
    fn()
    return 1000 * (time.thread_time() - started)


def measure(pair: str, questions: int, work: Path) -> dict[str, Any]:
    q_lang, doc_lang = pair.split("-")
    corpus = build_index(doc_lang, "A", 500, work)[0]
    return _interleaved(corpus, [q.text for q in load_questions(q_lang, doc_lang, range(24))][:questions])


REAL = 20_000  # real USE vectors (bench.ann's cache); past them, synthetic ones drawn around real ones


def measure_mixed(passages: int, questions: int, work: Path) -> dict[str, Any]:
    """The bench's own mix (bench.retrieval_speed): Reuters + Telegram passages, real vectors for the first
    REAL and synthetic ones past them (bench.peer_speed.corpus_vectors: the passage words the bridge
    embeds are real text either way), half English and half Russian XQuAD questions; a Russian question
    meets the bridge only when its passages are English."""
    from retrieval import Corpus, answer as answer_mod, load_settings
    from retrieval.embed import make_embedder
    from bench.peer_speed import build_citebot, corpus_vectors
    from bench.retrieval_speed import questions as mixed_questions

    settings = load_settings()
    embedder = make_embedder(settings)
    home = work / f"mixed-{passages}"
    real = min(passages, REAL)
    if not (home / "citebot.sqlite3").exists():
        docs, vectors, real = corpus_vectors(passages, embedder, REAL)
        build_citebot(home, docs, vectors, embedder.name)
    corpus = Corpus(settings.replace(home=str(home)), embedder)
    qs = mixed_questions(questions)
    for q in qs:  # the sentences it may quote get their vectors stored first, as ingest stores them
        rows = corpus.store.documents.passages([h.passage_id for h in corpus.search(q, k=8)])
        corpus.encoder.passages([t for r in rows.values()
                                 for t in answer_mod.sentence_texts(r.text, r.start, r.sentences)])
    return {"real_vectors": real, **_interleaved(corpus, qs)}


def _interleaved(corpus: Any, qs: list[str]) -> dict[str, Any]:
    from retrieval import answer as answer_mod

    on = answer_mod.DEFAULT_RULES
    off = replace(on, word_bridge_weight=0.0, promote_translated=False)
    rows: dict[str, list[float]] = {"with": [], "without": []}
    corpus.ask(qs[0])
    try:
        for i, q in enumerate(qs[1:]):
            corpus.encoder.forget_questions([q])
            for name, rules in (("with", on), ("without", off)) if i % 2 == 0 else (("without", off), ("with", on)):
                answer_mod.DEFAULT_RULES = rules
                rows[name].append(cpu_ms(lambda: corpus.ask(q)))
    finally:
        answer_mod.DEFAULT_RULES = on
        corpus.close()
    out: dict[str, Any] = {}
    for name, values in rows.items():
        ordered = sorted(values)
        out[name] = {"p50": round(statistics.median(ordered), 2), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2)}
    out["with_first_20_p50"] = round(statistics.median(rows["with"][:20]), 2)  # the word LRU still cold
    out["ratio_p50"] = round(out["with"]["p50"] / out["without"]["p50"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="ru-en,en-en")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--work", type=Path, default=RESULTS / "answer-idx")
    parser.add_argument("--mixed", type=int, default=0, metavar="PASSAGES",
                        help="instead: the speed bench's Reuters + Telegram mix of this many passages, real vectors")
    args = parser.parse_args(argv)
    import os

    load = os.getloadavg()[0]
    if args.mixed:
        result = {f"mixed-{args.mixed}": measure_mixed(args.mixed, args.questions, RESULTS)}
    else:
        result = {pair: measure(pair, args.questions, args.work) for pair in args.pairs.split(",")}
    result["load_avg_start"] = round(load, 2)
    result["load_avg_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
